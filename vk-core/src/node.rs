//! Registration of the virtual Node and its status (server-side apply).
//!
//! The Node object (labels, taint) and its status (capacity, addresses, daemon endpoint,
//! node info, conditions) are written by server-side apply with the field manager
//! [`FIELD_MANAGER`], so fields and conditions owned by other writers (a node problem
//! detector, an operator's labels) are never clobbered.
use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo, Taint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams};
use tokio::time::{self, Duration, Instant};

use crate::api_call::{ApiCall, api_call};
use crate::clock::SharedClock;
use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::provider::SharedProvider;

/// The field manager of every server-side apply the runtime makes.
pub const FIELD_MANAGER: &str = "vk-core";

/// The condition types the runtime owns on its Node.
pub const CONDITION_TYPES: [&str; 5] = [
    "Ready",
    "MemoryPressure",
    "DiskPressure",
    "PIDPressure",
    "NetworkUnavailable",
];

// === NodeConfig ===

/// What the runtime does to its Node when it shuts down. Pods are never deleted by a
/// shutdown either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownBehaviour {
    /// Set the Ready condition to `False` so the scheduler stops binding pods at once
    /// (without it the node controller notices the Lease expiring after 40 s).
    #[default]
    MarkNotReady,
    /// Leave the Node as it is; the Lease simply stops being renewed.
    Leave,
}

/// The taint that keeps ordinary pods off the virtual node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaintConfig {
    /// Taint key.
    pub key: String,
    /// Taint value.
    pub value: String,
    /// Taint effect (`NoSchedule`, `PreferNoSchedule` or `NoExecute`).
    pub effect: String,
}

/// How the virtual Node is registered.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The Node's name, also its `kubernetes.io/hostname` label and Lease name.
    pub name: String,
    /// The taint; `None` registers an untainted node. `Some` with an empty value takes the
    /// provider's name as the value.
    pub taint: Option<TaintConfig>,
    /// `kubernetes.io/os` and `nodeInfo.operatingSystem` (`linux` or `windows`).
    pub operating_system: String,
    /// The InternalIP address the API server reaches the kubelet API at.
    pub internal_ip: Option<IpAddr>,
    /// The kubelet API port (`daemonEndpoints.kubeletEndpoint.port`).
    pub kubelet_port: u16,
    /// Extra labels on top of the runtime's own.
    pub labels: BTreeMap<String, String>,
    /// `nodeInfo.kubeletVersion`.
    pub kubelet_version: String,
    /// What happens to the Node on shutdown.
    pub shutdown: ShutdownBehaviour,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            // The Go virtual-kubelet's `--nodename` default.
            name: "virtual-kubelet".to_owned(),
            // The upstream virtual-kubelet taint (`virtual-kubelet.io/provider=<provider>`,
            // NoSchedule), which the AKS virtual nodes docs tell pods to tolerate. An empty
            // value is filled with the provider's name.
            taint: Some(TaintConfig {
                key: "virtual-kubelet.io/provider".to_owned(),
                value: String::new(),
                effect: "NoSchedule".to_owned(),
            }),
            // ACI runs Linux and Windows container groups; upstream defaults to Linux.
            operating_system: "linux".to_owned(),
            // Upstream reads VKUBELET_POD_IP; unset means no InternalIP address.
            internal_ip: None,
            // The kubelet's default `--port` (10250).
            kubelet_port: 10250,
            labels: BTreeMap::new(),
            // Upstream reports `v<k8s version>-vk-<build>`; we report our own crate version.
            kubelet_version: concat!("v1.33.0-vk-", env!("CARGO_PKG_VERSION")).to_owned(),
            shutdown: ShutdownBehaviour::default(),
        }
    }
}

impl NodeConfig {
    /// A default config for a node called `name`.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

// === Node objects ===

/// The Node object (metadata and spec) the runtime applies.
#[must_use]
pub fn desired_node(config: &NodeConfig, provider_name: &str) -> Node {
    let mut labels = BTreeMap::from([
        ("type".to_owned(), "virtual-kubelet".to_owned()),
        ("kubernetes.io/role".to_owned(), "agent".to_owned()),
        (
            "kubernetes.io/os".to_owned(),
            config.operating_system.clone(),
        ),
        (
            "beta.kubernetes.io/os".to_owned(),
            config.operating_system.clone(),
        ),
        ("kubernetes.io/hostname".to_owned(), config.name.clone()),
        (
            "node.kubernetes.io/exclude-from-external-load-balancers".to_owned(),
            "true".to_owned(),
        ),
    ]);
    labels.extend(config.labels.clone());
    let taints = config.taint.as_ref().map(|t| {
        vec![Taint {
            key: t.key.clone(),
            value: Some(if t.value.is_empty() {
                provider_name.to_owned()
            } else {
                t.value.clone()
            }),
            effect: t.effect.clone(),
            time_added: None,
        }]
    });
    Node {
        metadata: ObjectMeta {
            name: Some(config.name.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints,
            ..NodeSpec::default()
        }),
        status: None,
    }
}

/// The Node status the runtime applies: addresses, endpoint, node info and conditions, then
/// decorated by the provider (capacity, allocatable).
#[must_use]
pub fn desired_status(config: &NodeConfig, conditions: Vec<NodeCondition>) -> NodeStatus {
    let mut addresses = Vec::new();
    if let Some(ip) = config.internal_ip {
        addresses.push(NodeAddress {
            type_: "InternalIP".to_owned(),
            address: ip.to_string(),
        });
    }
    addresses.push(NodeAddress {
        type_: "Hostname".to_owned(),
        address: config.name.clone(),
    });
    NodeStatus {
        addresses: Some(addresses),
        conditions: Some(conditions),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(config.kubelet_port),
            }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: "amd64".to_owned(),
            kubelet_version: config.kubelet_version.clone(),
            operating_system: config.operating_system.clone(),
            ..NodeSystemInfo::default()
        }),
        ..NodeStatus::default()
    }
}

/// The five conditions for a node whose provider is healthy (`ready`) or not, keeping the
/// transition times of `previous` where a condition did not change.
#[must_use]
pub fn conditions(
    ready: Result<(), String>,
    previous: &[NodeCondition],
    now: jiff::Timestamp,
) -> Vec<NodeCondition> {
    let (ready_status, ready_reason, ready_message) = match ready {
        Ok(()) => ("True", "KubeletReady", "kubelet is ready".to_owned()),
        Err(msg) => ("False", "ProviderNotReady", msg),
    };
    let mut out = vec![NodeCondition {
        type_: "Ready".to_owned(),
        status: ready_status.to_owned(),
        reason: Some(ready_reason.to_owned()),
        message: Some(ready_message),
        ..NodeCondition::default()
    }];
    for (type_, reason, message) in [
        (
            "MemoryPressure",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        (
            "DiskPressure",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        (
            "PIDPressure",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        (
            "NetworkUnavailable",
            "RouteCreated",
            "the provider's network is available",
        ),
    ] {
        out.push(NodeCondition {
            type_: type_.to_owned(),
            status: "False".to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            ..NodeCondition::default()
        });
    }
    for c in &mut out {
        c.last_heartbeat_time = Some(Time(now));
        let unchanged = previous
            .iter()
            .find(|p| p.type_ == c.type_)
            .filter(|p| p.status == c.status);
        c.last_transition_time = match unchanged {
            Some(p) => p.last_transition_time.clone().or(Some(Time(now))),
            None => Some(Time(now)),
        };
    }
    out
}

/// Whether two condition lists differ in anything but heartbeat times.
fn conditions_changed(a: &[NodeCondition], b: &[NodeCondition]) -> bool {
    let key = |c: &NodeCondition| {
        (
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            c.message.clone(),
        )
    };
    a.len() != b.len() || a.iter().zip(b).any(|(x, y)| key(x) != key(y))
}

// === NodeController ===

/// Registers the Node and keeps its status current.
pub(crate) struct NodeController {
    pub(crate) api: Api<Node>,
    pub(crate) config: NodeConfig,
    pub(crate) provider: SharedProvider,
    pub(crate) clock: SharedClock,
    pub(crate) metrics: Metrics,
    /// How often the provider is pinged (kubelet `nodeStatusUpdateFrequency`, 10 s).
    pub(crate) check_interval: Duration,
    /// How often the status is re-applied when nothing changed (kubelet
    /// `nodeStatusReportFrequency`, 5 min).
    pub(crate) report_interval: Duration,
    pub(crate) provider_timeout: Duration,
}

impl NodeController {
    /// Create or adopt the Node (metadata and spec), then apply its status. Returns the
    /// Node's UID (for the Lease's owner reference).
    pub(crate) async fn register(&self) -> Result<(String, Vec<NodeCondition>), RuntimeError> {
        self.refuse_foreign_node().await?;
        let mut node = desired_node(&self.config, self.provider.name());
        // The provider decorates a full Node (it may add labels or capacity).
        node.status = Some(NodeStatus::default());
        self.provider.configure_node(&mut node);
        let status = node.status.take();
        let applied = api_call(
            &self.metrics,
            ApiCall::ApplyNode,
            self.api.patch(
                &self.config.name,
                &apply_params(),
                &Patch::Apply(with_type_meta(&node)),
            ),
        )
        .await?;
        let uid = applied.metadata.uid.clone().unwrap_or_default();
        let previous = applied
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let ready = self.ping().await;
        let conditions = conditions(ready, &previous, self.clock.now());
        self.apply_status(status, conditions.clone()).await?;
        Ok((uid, conditions))
    }

    /// Refuse an existing Node that no virtual kubelet registered. Ours carry this
    /// runtime's field manager; one an earlier virtual kubelet registered (the Go
    /// virtual-kubelet swapped for this one) carries the `type=virtual-kubelet` label. A
    /// machine's kubelet writes neither.
    async fn refuse_foreign_node(&self) -> Result<(), RuntimeError> {
        let existing = api_call(
            &self.metrics,
            ApiCall::GetNode,
            self.api.get_opt(&self.config.name),
        )
        .await?;
        let Some(existing) = existing else {
            return Ok(());
        };
        let managers: Vec<String> = existing
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter_map(|m| m.manager.clone())
            .collect();
        let virtual_kubelet = existing
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("type"))
            .is_some_and(|t| t == "virtual-kubelet");
        if virtual_kubelet || managers.iter().any(|m| m == FIELD_MANAGER) {
            return Ok(());
        }
        Err(RuntimeError::ForeignNode {
            name: self.config.name.clone(),
            managers: if managers.is_empty() {
                "an unknown writer".to_owned()
            } else {
                managers.join(", ")
            },
        })
    }

    async fn ping(&self) -> Result<(), String> {
        match time::timeout(self.provider_timeout, self.provider.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("provider is not ready: {e}")),
            Err(_) => Err("provider did not answer its health check in time".to_owned()),
        }
    }

    /// Apply the status with the given conditions (capacity and the rest from the provider).
    async fn apply_status(
        &self,
        decorated: Option<NodeStatus>,
        conditions: Vec<NodeCondition>,
    ) -> Result<(), RuntimeError> {
        let mut status = desired_status(&self.config, conditions);
        let decorated = match decorated {
            Some(d) => d,
            None => {
                let mut node = desired_node(&self.config, self.provider.name());
                node.status = Some(NodeStatus::default());
                self.provider.configure_node(&mut node);
                node.status.unwrap_or_default()
            }
        };
        merge_provider_status(&mut status, decorated);
        let node = Node {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(status),
        };
        api_call(
            &self.metrics,
            ApiCall::ApplyNodeStatus,
            self.api.patch_status(
                &self.config.name,
                &apply_params(),
                &Patch::Apply(with_type_meta(&node)),
            ),
        )
        .await?;
        Ok(())
    }

    /// Keep the status current until `shutdown` resolves, then apply the shutdown behaviour.
    pub(crate) async fn run(
        &self,
        mut conditions_now: Vec<NodeCondition>,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut last_report = Instant::now();
        let mut tick = time::interval(self.check_interval);
        tick.set_missed_tick_behavior(time::MissedTickBehavior::Delay);
        tick.tick().await;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = tick.tick() => {}
            }
            let ready = self.ping().await;
            let next = conditions(ready, &conditions_now, self.clock.now());
            let changed = conditions_changed(&next, &conditions_now);
            if changed || last_report.elapsed() >= self.report_interval {
                match self.apply_status(None, next.clone()).await {
                    Ok(()) => {
                        conditions_now = next;
                        last_report = Instant::now();
                    }
                    Err(e) => tracing::warn!(error = %e, "node status update failed"),
                }
            }
        }
        if self.config.shutdown == ShutdownBehaviour::MarkNotReady {
            let next = conditions(
                Err("virtual kubelet is shutting down".to_owned()),
                &conditions_now,
                self.clock.now(),
            );
            if let Err(e) = self.apply_status(None, next).await {
                tracing::warn!(error = %e, "marking the node NotReady on shutdown failed");
            }
        }
    }
}

/// Copy what the provider decorated (capacity, allocatable, node info fields it set) into
/// the runtime's status.
fn merge_provider_status(status: &mut NodeStatus, decorated: NodeStatus) {
    status.capacity = decorated.capacity;
    status.allocatable = decorated.allocatable;
    if let (Some(info), Some(theirs)) = (status.node_info.as_mut(), decorated.node_info) {
        let keep_version = info.kubelet_version.clone();
        let keep_os = info.operating_system.clone();
        *info = theirs;
        if info.kubelet_version.is_empty() {
            info.kubelet_version = keep_version;
        }
        if info.operating_system.is_empty() {
            info.operating_system = keep_os;
        }
        if info.architecture.is_empty() {
            "amd64".clone_into(&mut info.architecture);
        }
    }
    if let Some(extra) = decorated.addresses {
        let addresses = status.addresses.get_or_insert_with(Vec::new);
        for a in extra {
            if !addresses.iter().any(|x| x.type_ == a.type_) {
                addresses.push(a);
            }
        }
    }
}

/// Server-side apply needs `apiVersion` and `kind` in the body.
fn with_type_meta(node: &Node) -> serde_json::Value {
    let mut v = serde_json::to_value(node).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("apiVersion".to_owned(), "v1".into());
        obj.insert("kind".to_owned(), "Node".into());
    }
    v
}

fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn default_node_carries_the_virtual_kubelet_labels_and_taint() {
        let node = desired_node(&NodeConfig::named("vk"), "azure");
        let labels = node.metadata.labels.unwrap();
        assert_eq!(labels["type"], "virtual-kubelet");
        assert_eq!(labels["kubernetes.io/role"], "agent");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["beta.kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/hostname"], "vk");
        assert_eq!(
            labels["node.kubernetes.io/exclude-from-external-load-balancers"],
            "true"
        );
        let taints = node.spec.unwrap().taints.unwrap();
        assert_eq!(taints[0].key, "virtual-kubelet.io/provider");
        assert_eq!(taints[0].value.as_deref(), Some("azure"));
        assert_eq!(taints[0].effect, "NoSchedule");
    }

    #[test]
    fn disabled_taint_registers_an_untainted_node() {
        let config = NodeConfig {
            taint: None,
            ..NodeConfig::named("vk")
        };
        assert!(desired_node(&config, "x").spec.unwrap().taints.is_none());
    }

    #[test]
    fn status_has_addresses_and_the_kubelet_endpoint() {
        let config = NodeConfig {
            internal_ip: Some("10.0.0.7".parse().unwrap()),
            ..NodeConfig::named("vk")
        };
        let status = desired_status(&config, vec![]);
        let addresses = status.addresses.unwrap();
        assert_eq!(addresses[0].type_, "InternalIP");
        assert_eq!(addresses[0].address, "10.0.0.7");
        assert_eq!(addresses[1].type_, "Hostname");
        assert_eq!(
            status
                .daemon_endpoints
                .unwrap()
                .kubelet_endpoint
                .unwrap()
                .port,
            10250
        );
    }

    #[test]
    fn unchanged_conditions_keep_their_transition_time() {
        let first = conditions(Ok(()), &[], ts("2026-01-01T00:00:00Z"));
        let second = conditions(Ok(()), &first, ts("2026-01-01T00:05:00Z"));
        assert!(!conditions_changed(&first, &second));
        let ready = second.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(
            ready.last_transition_time,
            Some(Time(ts("2026-01-01T00:00:00Z")))
        );
        assert_eq!(
            ready.last_heartbeat_time,
            Some(Time(ts("2026-01-01T00:05:00Z")))
        );
    }

    #[test]
    fn failed_ping_flips_ready_and_moves_its_transition_time() {
        let first = conditions(Ok(()), &[], ts("2026-01-01T00:00:00Z"));
        let second = conditions(Err("down".to_owned()), &first, ts("2026-01-01T00:00:10Z"));
        assert!(conditions_changed(&first, &second));
        let ready = second.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "False");
        assert_eq!(
            ready.last_transition_time,
            Some(Time(ts("2026-01-01T00:00:10Z")))
        );
        let memory = second.iter().find(|c| c.type_ == "MemoryPressure").unwrap();
        assert_eq!(
            memory.last_transition_time,
            Some(Time(ts("2026-01-01T00:00:00Z")))
        );
    }
}
