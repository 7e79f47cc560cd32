//! What the kubelet API's handlers share ([`ServerState`]) and where they find the node's
//! pods ([`PodLookup`]).
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{ObjectRef, Store};
use prometheus_client::registry::Registry;

use super::auth::Auth;
use super::error::{Error, Result};
use super::sessions::{self, DEFAULT_MAX_SESSIONS_PER_CLIENT};
use crate::clock::{SharedClock, SystemClock};
use crate::provider::{PodKey, SharedProvider};
use crate::stream::remotecommand::StreamingConfig;

/// Where the server finds the pods bound to its node.
pub trait PodLookup: Send + Sync + 'static {
    /// The pod with this key, if it is bound to the node.
    fn get(&self, key: &PodKey) -> Option<Arc<Pod>>;
    /// Every pod bound to the node.
    fn list(&self) -> Vec<Arc<Pod>>;
}

impl PodLookup for Store<Pod> {
    fn get(&self, key: &PodKey) -> Option<Arc<Pod>> {
        Store::get(self, &ObjectRef::new(&key.name).within(&key.namespace))
    }

    fn list(&self) -> Vec<Arc<Pod>> {
        self.state()
    }
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct ServerState {
    pub(super) node_name: Arc<str>,
    pub(super) provider: SharedProvider,
    pub(super) pods: Arc<dyn PodLookup>,
    pub(super) auth: Arc<Auth>,
    pub(super) clock: SharedClock,
    pub(super) registry: Arc<Registry>,
    pub(super) streaming: StreamingConfig,
    pub(super) port_forward: bool,
    pub(super) sessions: sessions::Sessions,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("node_name", &self.node_name)
            .field("provider", &self.provider.name())
            .field("port_forward", &self.port_forward)
            .finish_non_exhaustive()
    }
}

impl ServerState {
    /// State for node `node_name`, serving `provider`'s pods found through `pods`, with
    /// requests checked by `auth`.
    pub fn new(
        node_name: impl Into<String>,
        provider: SharedProvider,
        pods: Arc<dyn PodLookup>,
        auth: Arc<Auth>,
    ) -> Self {
        // The provider says whether it forwards ports; if not, `/portForward` answers a
        // clear error before any upgrade.
        let port_forward = provider.supports_port_forward();
        Self {
            node_name: node_name.into().into(),
            provider,
            pods,
            auth,
            clock: Arc::new(SystemClock),
            registry: Arc::new(Registry::default()),
            streaming: StreamingConfig::default(),
            port_forward,
            sessions: sessions::Sessions::new(DEFAULT_MAX_SESSIONS_PER_CLIENT),
        }
    }

    /// The wall clock for timestamps (`sinceSeconds`, statistics).
    #[must_use]
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The process metrics served on `/metrics`.
    #[must_use]
    pub fn registry(mut self, registry: Arc<Registry>) -> Self {
        self.registry = registry;
        self
    }

    /// Limits and timeouts of exec, attach and port-forward sessions.
    #[must_use]
    pub fn streaming(mut self, streaming: StreamingConfig) -> Self {
        self.streaming = streaming;
        self
    }

    /// Most exec, attach, port-forward and `/run` sessions one client (an authenticated
    /// user, or an IP address for a request without a user) holds at once; more are
    /// refused with `429 Too Many Requests` until one ends. Default
    /// [`DEFAULT_MAX_SESSIONS_PER_CLIENT`] (256); at least 1. The API server proxies every
    /// kubectl user under one identity, so on a busy cluster this bounds all proxied
    /// sessions to the node together.
    #[must_use]
    pub fn max_sessions_per_client(mut self, max: usize) -> Self {
        self.sessions = sessions::Sessions::new(max);
        self
    }

    /// The pod `key` if it is bound to this node, or a 404.
    pub(super) fn pod(&self, key: &PodKey) -> Result<Arc<Pod>> {
        self.pods
            .get(key)
            .filter(|p| {
                p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .is_none_or(|n| n == &*self.node_name)
            })
            .ok_or_else(|| Error::PodNotFound(key.to_string()))
    }

    /// Check that `container` is one of the pod's containers (regular, init or ephemeral).
    pub(super) fn container(&self, key: &PodKey, container: &str) -> Result<Arc<Pod>> {
        let pod = self.pod(key)?;
        let spec = pod.spec.as_ref();
        let regular = spec.map(|s| s.containers.iter().map(|c| c.name.as_str()));
        let init = spec
            .and_then(|s| s.init_containers.as_ref())
            .map(|cs| cs.iter().map(|c| c.name.as_str()));
        let ephemeral = spec
            .and_then(|s| s.ephemeral_containers.as_ref())
            .map(|cs| cs.iter().map(|c| c.name.as_str()));
        let found = regular.into_iter().flatten().any(|n| n == container)
            || init.into_iter().flatten().any(|n| n == container)
            || ephemeral.into_iter().flatten().any(|n| n == container);
        if found {
            Ok(pod)
        } else {
            Err(Error::ContainerNotFound {
                pod: key.to_string(),
                container: container.to_owned(),
            })
        }
    }
}
