//! The pod controller's shared state: its settings, what it remembers about each pod, and
//! the clients, queue and maps its tasks share ([`Inner`]).
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::Resource;
use kube::api::Api;
use kube::runtime::events::EventType;
use tokio::sync::mpsc;
use tokio::time::{self, Duration};

use super::queue;
use super::resolve;
use super::status::PodFailure;
use super::store::PodStore;
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::provider::{PodKey, ProviderError, ProviderPod, SharedProvider};

/// Pod controller settings (set through [`crate::runtime::RuntimeBuilder`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) workers: usize,
    pub(crate) resync: Duration,
    pub(crate) orphan_grace: Duration,
    pub(crate) status_coalescing: Duration,
    pub(crate) status_poll: Duration,
    pub(crate) provider_timeout: Duration,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            // Go virtual-kubelet `--pod-sync-workers`.
            workers: 10,
            // Go virtual-kubelet `--full-resync-period`.
            resync: Duration::from_secs(60),
            // Our choice: long enough for any create's round trip to show up in the watch.
            orphan_grace: Duration::from_secs(120),
            // Our choice: merges bursts of pushed updates without visible delay.
            status_coalescing: Duration::from_millis(50),
            // Go virtual-kubelet's wrapper for providers without NotifyPods polls every 5 s.
            status_poll: Duration::from_secs(5),
            // Our choice: ACI creates are asynchronous and answer within seconds; 2 min
            // leaves room for throttled ARM calls.
            provider_timeout: Duration::from_secs(120),
            // client-go's default controller rate limiter starts at 5 ms; provider calls
            // are costlier, so 1 s, capped at the kubelet's 5 min CrashLoopBackOff cap.
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// What the controller remembers about one pod between reconciles.
#[derive(Clone, Debug, Default)]
pub(crate) struct PodState {
    /// The UID this state is about.
    pub(crate) uid: String,
    /// The provider has (or was handed) the pod.
    pub(crate) created: bool,
    /// A create was sent and failed in a way that does not say the backend refused it (a
    /// timeout, a lost answer, a server error): the backend may have the pod, so deleting
    /// the pod asks it to delete too.
    pub(crate) maybe_created: bool,
    /// The runtime marked the pod Failed; nothing more to do until deletion.
    pub(crate) failed: bool,
    /// Hash of the spec last handed to the provider.
    pub(crate) spec_hash: u64,
    /// Hash of the status last written.
    pub(crate) status_hash: u64,
    /// Consecutive failures, for the backoff.
    pub(crate) attempts: u32,
    /// When the scheduled retry is due.
    pub(crate) not_before: Option<time::Instant>,
}

/// A provider call that did not succeed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The provider answered with an error.
    Failed(ProviderError),
    /// The provider did not answer within the timeout.
    TimedOut(&'static str),
}

impl CallError {
    pub(crate) fn failure(&self) -> PodFailure {
        match self {
            Self::Failed(e) => PodFailure::from(e),
            Self::TimedOut(op) => PodFailure::timeout(op),
        }
    }

    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Self::Failed(ProviderError::NotFound(_)))
    }
}

/// An event waiting to be published.
pub(crate) struct PendingEvent {
    /// Only the reference: holding the pod would pin stale versions of it in memory.
    pub(crate) regarding: k8s_openapi::api::core::v1::ObjectReference,
    pub(crate) type_: EventType,
    pub(crate) reason: String,
    pub(crate) note: String,
    pub(crate) action: &'static str,
}

/// Shared by the controller's tasks.
pub(crate) struct Inner {
    pub(crate) client: kube::Client,
    pub(crate) provider: SharedProvider,
    pub(crate) settings: Settings,
    pub(crate) metrics: Metrics,
    pub(crate) clock: SharedClock,
    pub(crate) store: PodStore,
    pub(crate) queue: queue::WorkQueue,
    pub(crate) node_name: String,
    pub(crate) host_ip: Option<String>,
    pub(crate) resolver: resolve::Resolver,
    /// Whether the provider pushes status (else it is polled).
    pub(crate) push: std::sync::atomic::AtomicBool,
    pub(crate) states: Mutex<HashMap<PodKey, PodState>>,
    /// Pushed statuses not yet written.
    pub(crate) pushed: Mutex<HashMap<PodKey, Option<PodStatus>>>,
    /// The provider's pods listed at start, consumed as their API pods are seen.
    pub(crate) adopted: Mutex<HashMap<PodKey, ProviderPod>>,
    /// Provider pods found without an API pod for longer than the grace period.
    pub(crate) orphans: Mutex<HashMap<PodKey, ProviderPod>>,
    pub(crate) events: mpsc::Sender<PendingEvent>,
    pub(crate) events_rx: Mutex<Option<mpsc::Receiver<PendingEvent>>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    pub(crate) fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Run a provider call with the timeout, recording latency and errors.
    pub(crate) async fn provider_call<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = crate::provider::Result<T>>,
    ) -> Result<T, CallError> {
        let started = time::Instant::now();
        let out = match time::timeout(self.settings.provider_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(CallError::Failed(e)),
            Err(_) => Err(CallError::TimedOut(op)),
        };
        self.metrics
            .provider_call(op, started.elapsed().as_secs_f64(), out.is_ok());
        out
    }

    /// Queue an event for `pod`; never blocks (events are dropped when the queue is full).
    pub(crate) fn event(
        &self,
        pod: &Arc<Pod>,
        type_: EventType,
        reason: &str,
        note: impl Into<String>,
        action: &'static str,
    ) {
        let ev = PendingEvent {
            regarding: pod.object_ref(&()),
            type_,
            reason: reason.to_owned(),
            note: note.into(),
            action,
        };
        if self.events.try_send(ev).is_err() {
            tracing::debug!("event queue full; dropping an event");
        }
    }

    pub(crate) fn backoff(&self, key: &PodKey, attempt: u32) -> Duration {
        queue::backoff(
            self.settings.backoff_base,
            self.settings.backoff_max,
            attempt,
            key,
        )
    }
}
