//! The runtime builder that ties node, lease and pod controller together.
//!
//! [`Runtime::builder`] takes a `kube::Client`, a provider and a [`NodeConfig`];
//! [`Runtime::run`] registers the Node, keeps its Lease and status current and runs the pod
//! controller until the shutdown future resolves.
use std::sync::Arc;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::time::{self, Duration};
use tokio_util::sync::CancellationToken;

use crate::clock::{SharedClock, SystemClock};
use crate::lease::{self, LeaseController};
use crate::node::{NodeConfig, NodeController};
use crate::pods::store::PodStoreWriter;
use crate::pods::{PodController, PodStore, Settings};
use crate::provider::SharedProvider;

/// Every Kubernetes API call the runtime makes is bounded by this (the runtime's choice;
/// client-go sets no default, kubectl's `--request-timeout` is 0).
pub(crate) const API_CALL_TIMEOUT: Duration = Duration::from_secs(30);

// === RuntimeError ===

/// Why the runtime, or one of its Kubernetes API calls, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The API server answered a call with an error.
    #[error("kubernetes api call {call} failed")]
    Api {
        /// What the call was for.
        call: &'static str,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The API server did not answer a call in time.
    #[error("kubernetes api call {0} timed out")]
    ApiTimeout(&'static str),
    /// A Node of this name exists that no virtual kubelet registered (a machine's, most
    /// likely): taking it over would run its pods here too, so the runtime refuses.
    #[error(
        "node {name} exists and was not registered by a virtual kubelet (written by {managers}); \
         choose another node name or delete that Node"
    )]
    ForeignNode {
        /// The node name.
        name: String,
        /// The field managers that wrote it.
        managers: String,
    },
    /// An internal bug; please file one.
    #[error("internal error: {0}")]
    Unreachable(&'static str),
}

impl RuntimeError {
    fn status_code(&self) -> Option<u16> {
        match self {
            Self::Api {
                source: kube::Error::Api(s),
                ..
            } => Some(s.code),
            _ => None,
        }
    }

    /// Whether the runtime refused a Node it did not register
    /// ([`RuntimeError::ForeignNode`]): a configuration problem.
    #[must_use]
    pub fn is_foreign_node(&self) -> bool {
        matches!(self, Self::ForeignNode { .. })
    }

    /// Whether the API server answered 409 Conflict.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        self.status_code() == Some(409)
    }

    /// Whether the API server answered 404 Not Found.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.status_code() == Some(404)
    }
}

/// Result of runtime operations.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

// === Metrics ===

/// The Kubernetes API calls the runtime counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ApiCall {
    GetNode,
    ApplyNode,
    ApplyNodeStatus,
    ReadLease,
    WriteLease,
    PatchPodStatus,
    DeletePod,
    ReadReference,
    TokenRequest,
    PublishEvent,
}

impl ApiCall {
    fn name(self) -> &'static str {
        match self {
            Self::GetNode => "get_node",
            Self::ApplyNode => "apply_node",
            Self::ApplyNodeStatus => "apply_node_status",
            Self::ReadLease => "read_lease",
            Self::WriteLease => "write_lease",
            Self::PatchPodStatus => "patch_pod_status",
            Self::DeletePod => "delete_pod",
            Self::ReadReference => "read_reference",
            Self::TokenRequest => "token_request",
            Self::PublishEvent => "publish_event",
        }
    }
}

type Labels = [(&'static str, &'static str); 1];
type ApiLabels = [(&'static str, &'static str); 2];

/// The runtime's metrics; cheap to clone.
#[derive(Clone)]
pub(crate) struct Metrics(Arc<MetricsInner>);

struct MetricsInner {
    pods_by_phase: Family<Labels, Gauge>,
    provider_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    provider_errors: Family<Labels, Counter>,
    api_calls: Family<ApiLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Metrics {
    /// New metrics registered in `registry`.
    fn register(registry: &mut Registry) -> Self {
        let inner = MetricsInner {
            pods_by_phase: Family::default(),
            provider_seconds: Family::new_with_constructor(latency_histogram),
            provider_errors: Family::default(),
            api_calls: Family::default(),
        };
        registry.register(
            "pods",
            "Pods bound to the node, by phase",
            inner.pods_by_phase.clone(),
        );
        registry.register(
            "provider_call_seconds",
            "Latency of provider calls, by operation",
            inner.provider_seconds.clone(),
        );
        registry.register(
            "provider_call_errors",
            "Failed provider calls, by operation",
            inner.provider_errors.clone(),
        );
        registry.register(
            "api_calls",
            "Kubernetes API calls, by call and outcome",
            inner.api_calls.clone(),
        );
        Self(Arc::new(inner))
    }

    pub(crate) fn provider_call(&self, op: &'static str, seconds: f64, ok: bool) {
        self.0
            .provider_seconds
            .get_or_create(&[("op", op)])
            .observe(seconds);
        if !ok {
            self.0.provider_errors.get_or_create(&[("op", op)]).inc();
        }
    }

    fn api_call(&self, call: ApiCall, outcome: &'static str) {
        self.0
            .api_calls
            .get_or_create(&[("call", call.name()), ("outcome", outcome)])
            .inc();
    }

    pub(crate) fn watch_error(&self) {
        self.0
            .api_calls
            .get_or_create(&[("call", "watch_pods"), ("outcome", "error")])
            .inc();
    }

    pub(crate) fn set_pods_by_phase(&self, counts: &[(&'static str, i64)]) {
        for (phase, n) in counts {
            self.0
                .pods_by_phase
                .get_or_create(&[("phase", phase)])
                .set(*n);
        }
    }
}

/// Run a Kubernetes API call with the runtime's timeout, counting it.
pub(crate) async fn api_call<T>(
    metrics: &Metrics,
    call: ApiCall,
    fut: impl Future<Output = kube::Result<T>>,
) -> Result<T> {
    match time::timeout(API_CALL_TIMEOUT, fut).await {
        Ok(Ok(v)) => {
            metrics.api_call(call, "ok");
            Ok(v)
        }
        Ok(Err(source)) => {
            metrics.api_call(call, "error");
            Err(RuntimeError::Api {
                call: call.name(),
                source,
            })
        }
        Err(_) => {
            metrics.api_call(call, "timeout");
            Err(RuntimeError::ApiTimeout(call.name()))
        }
    }
}

// === RuntimeBuilder ===

/// Builds a [`Runtime`]; every setting has a default taken from the kubelet or the Go
/// virtual-kubelet.
#[must_use]
pub struct RuntimeBuilder {
    client: kube::Client,
    provider: SharedProvider,
    node: NodeConfig,
    clock: SharedClock,
    settings: Settings,
    lease_duration: Duration,
    lease_renew_interval: Duration,
    node_check_interval: Duration,
    node_report_interval: Duration,
}

impl RuntimeBuilder {
    /// How many pods are reconciled at once (Go virtual-kubelet `--pod-sync-workers`, 10).
    /// A fifth as many more (at least 2) serve only pushed statuses and deletions, so those
    /// never wait behind creates the provider is rate-limiting.
    pub fn workers(mut self, n: usize) -> Self {
        self.settings.workers = n.max(1);
        self
    }

    /// How often every pod is reconciled and orphans are looked for (Go virtual-kubelet
    /// `--full-resync-period`, 1 min).
    pub fn resync_period(mut self, period: Duration) -> Self {
        self.settings.resync = period;
        self
    }

    /// How long a provider pod without an API pod is left alone before it is deleted.
    pub fn orphan_grace(mut self, grace: Duration) -> Self {
        self.settings.orphan_grace = grace;
        self
    }

    /// How long pushed status changes of one pod are gathered before one write.
    pub fn status_coalescing(mut self, interval: Duration) -> Self {
        self.settings.status_coalescing = interval;
        self
    }

    /// How often a provider that does not push status is polled (Go virtual-kubelet's
    /// sync-provider wrapper, 5 s).
    pub fn status_poll_interval(mut self, interval: Duration) -> Self {
        self.settings.status_poll = interval;
        self
    }

    /// The bound on each provider call.
    pub fn provider_timeout(mut self, timeout: Duration) -> Self {
        self.settings.provider_timeout = timeout;
        self
    }

    /// First and largest delay of the jittered exponential retry backoff.
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.settings.backoff_base = first;
        self.settings.backoff_max = max.max(first);
        self
    }

    /// Lease duration and renew interval (kubelet: 40 s and 10 s).
    pub fn lease(mut self, duration: Duration, renew_interval: Duration) -> Self {
        self.lease_duration = duration;
        self.lease_renew_interval = renew_interval;
        self
    }

    /// How often the provider is pinged and conditions re-checked (kubelet
    /// `nodeStatusUpdateFrequency`, 10 s), and how often an unchanged status is re-applied
    /// (kubelet `nodeStatusReportFrequency`, 5 min).
    pub fn node_status(mut self, check: Duration, report: Duration) -> Self {
        self.node_check_interval = check;
        self.node_report_interval = report;
        self
    }

    /// The clock for timestamps written into Kubernetes objects.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Build the runtime. Nothing talks to the API server until [`Runtime::run`].
    pub fn build(self) -> Runtime {
        let mut registry = Registry::with_prefix("vk");
        let metrics = Metrics::register(&mut registry);
        let (store, writer) = PodStore::new();
        Runtime {
            client: self.client,
            provider: self.provider,
            node: self.node,
            clock: self.clock,
            settings: self.settings,
            lease_duration: self.lease_duration,
            lease_renew_interval: self.lease_renew_interval,
            node_check_interval: self.node_check_interval,
            node_report_interval: self.node_report_interval,
            store,
            writer,
            metrics,
            registry: Arc::new(registry),
        }
    }
}

// === Runtime ===

/// A virtual node: the Node and its Lease, and the controller of the pods bound to it.
pub struct Runtime {
    client: kube::Client,
    provider: SharedProvider,
    node: NodeConfig,
    clock: SharedClock,
    settings: Settings,
    lease_duration: Duration,
    lease_renew_interval: Duration,
    node_check_interval: Duration,
    node_report_interval: Duration,
    store: PodStore,
    writer: PodStoreWriter,
    metrics: Metrics,
    registry: Arc<Registry>,
}

impl Runtime {
    /// Start building a runtime for `provider` as the node described by `node`.
    pub fn builder(
        client: kube::Client,
        provider: SharedProvider,
        node: NodeConfig,
    ) -> RuntimeBuilder {
        RuntimeBuilder {
            client,
            provider,
            node,
            clock: Arc::new(SystemClock),
            settings: Settings::default(),
            lease_duration: lease::DEFAULT_LEASE_DURATION,
            lease_renew_interval: lease::DEFAULT_RENEW_INTERVAL,
            // kubelet `nodeStatusUpdateFrequency` and `nodeStatusReportFrequency`.
            node_check_interval: Duration::from_secs(10),
            node_report_interval: Duration::from_secs(5 * 60),
        }
    }

    /// The pods bound to this node, as last seen by the watch (filled while running).
    #[must_use]
    pub fn pod_store(&self) -> PodStore {
        self.store.clone()
    }

    /// The runtime's Prometheus metrics, for a `/metrics` endpoint.
    #[must_use]
    pub fn metrics_registry(&self) -> Arc<Registry> {
        Arc::clone(&self.registry)
    }

    /// The node's name.
    #[must_use]
    pub fn node_name(&self) -> &str {
        &self.node.name
    }

    /// Register the Node, then keep it, its Lease and its pods current until `shutdown`
    /// resolves. Pods are never deleted by a shutdown. Registration is retried with
    /// backoff until it works or shutdown comes.
    ///
    /// # Errors
    ///
    /// The last registration error when shutdown came before the Node was registered.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let token = CancellationToken::new();
        let node_ctl = NodeController {
            api: kube::Api::<Node>::all(self.client.clone()),
            config: self.node.clone(),
            provider: Arc::clone(&self.provider),
            clock: Arc::clone(&self.clock),
            metrics: self.metrics.clone(),
            check_interval: self.node_check_interval,
            report_interval: self.node_report_interval,
            provider_timeout: self.settings.provider_timeout,
        };
        tokio::pin!(shutdown);

        // Register (create or adopt) the Node, retrying until it works or shutdown.
        let mut delay = self.settings.backoff_base;
        let (uid, conditions) = loop {
            match node_ctl.register().await {
                Ok(v) => break v,
                // Someone else's Node: retrying would not change that.
                Err(e) if e.is_foreign_node() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, node = %self.node.name, "node registration failed");
                    tokio::select! {
                        () = &mut shutdown => return Err(e),
                        () = time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(self.settings.backoff_max);
                }
            }
        };
        tracing::info!(node = %self.node.name, "node registered");

        let lease_ctl = LeaseController {
            api: kube::Api::<Lease>::namespaced(self.client.clone(), lease::LEASE_NAMESPACE),
            node_name: self.node.name.clone(),
            node_uid: uid,
            clock: Arc::clone(&self.clock),
            metrics: self.metrics.clone(),
            duration: self.lease_duration,
            renew_interval: self.lease_renew_interval,
        };
        let pods = PodController::new(
            self.client.clone(),
            Arc::clone(&self.provider),
            &self.node,
            self.settings,
            self.metrics.clone(),
            Arc::clone(&self.clock),
            self.store.clone(),
        );

        let lease_task = {
            let token = token.clone();
            tokio::spawn(async move { lease_ctl.run(token.cancelled_owned()).await })
        };
        let node_task = {
            let token = token.clone();
            tokio::spawn(async move { node_ctl.run(conditions, token.cancelled_owned()).await })
        };
        let pods_task = {
            let token = token.clone();
            let writer = self.writer;
            tokio::spawn(async move { pods.run(writer, token.cancelled_owned()).await })
        };

        shutdown.await;
        tracing::info!(node = %self.node.name, "shutting down; pods are left running");
        token.cancel();
        for task in [lease_task, node_task, pods_task] {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a runtime task panicked");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[allow(dead_code, unreachable_code, clippy::diverging_sub_expression)]
    fn runtime_run_is_send(rt: Runtime) {
        assert_send(&rt.run(std::future::pending()));
    }

    #[test]
    fn metrics_encode_with_the_vk_prefix() {
        let mut registry = Registry::with_prefix("vk");
        let metrics = Metrics::register(&mut registry);
        metrics.provider_call("create_pod", 0.01, false);
        metrics.set_pods_by_phase(&[("Running", 3)]);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        assert!(out.contains("vk_provider_call_errors_total{op=\"create_pod\"} 1"));
        assert!(out.contains("vk_pods{phase=\"Running\"} 3"));
    }
}
