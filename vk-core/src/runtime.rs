//! The runtime builder that ties node, lease and pod controller together.
//!
//! [`Runtime::builder`] takes a `kube::Client`, a provider and a [`NodeConfig`];
//! [`Runtime::run`] registers the Node, keeps its Lease and status current and runs the pod
//! controller until the shutdown future resolves.
use std::sync::Arc;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use prometheus_client::registry::Registry;
use tokio::time::{self, Duration};
use tokio_util::sync::CancellationToken;

use crate::clock::{SharedClock, SystemClock};
pub use crate::error::{Result, RuntimeError};
use crate::lease::{self, LeaseController};
use crate::metrics::Metrics;
use crate::node::{NodeConfig, NodeController};
use crate::pods::store::PodStoreWriter;
use crate::pods::{PodController, PodStore, Settings};
use crate::provider::SharedProvider;

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
