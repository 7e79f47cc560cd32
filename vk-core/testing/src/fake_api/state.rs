//! What the request handlers and controllers of one fake cluster share.
use std::sync::Arc;

use tokio::time::Duration;
use tokio_util::sync::CancellationToken;
use vk_core::clock::SharedClock;

use super::auth::Auth;
use super::knobs::{Counters, KnobState};
use super::metrics_storage::MetricsStorage;
use super::store::Store;

/// Everything request handlers share.
pub(crate) struct State {
    pub store: Arc<Store>,
    pub auth: Auth,
    pub knobs: Arc<KnobState>,
    pub counters: Counters,
    pub clock: SharedClock,
    pub kubelet_tls: Arc<rustls::ClientConfig>,
    pub bookmark_interval: Duration,
    pub stop: CancellationToken,
    /// The metrics pipeline's storage, when metrics-server runs.
    pub metrics: Option<Arc<MetricsStorage>>,
}
