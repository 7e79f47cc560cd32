//! The provider's settings ([`AciConfig`]) and what it announces about the virtual node:
//! the upstream provider's node labels and the configured capacity.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tokio::time::Duration;
use vk_translate::NodeOptions;

use super::logs::FollowLimits;
use super::stats::StatsConfig;
use super::tracker::StatusConfig;
use super::{kube_proxy, zones};

/// Node capacity announced to the scheduler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// CPU cores.
    pub cpu: String,
    /// Memory.
    pub memory: String,
    /// Pods.
    pub pods: String,
    /// `nvidia.com/gpu`, only when the region has a GPU quota.
    pub gpu: Option<String>,
}

impl Default for Capacity {
    /// The upstream provider's defaults (`upstream-settings.md` §4): cpu 10000, memory
    /// 4Ti, pods 5000, no GPU.
    fn default() -> Self {
        Self {
            cpu: "10000".into(),
            memory: "4Ti".into(),
            pods: "5000".into(),
            gpu: None,
        }
    }
}

/// Provider settings.
#[derive(Clone, Debug)]
pub struct AciConfig {
    /// Translation settings (region, OS, IP mode, node name...).
    pub node: NodeOptions,
    /// Node capacity.
    pub capacity: Capacity,
    /// Status tracking.
    pub status: StatusConfig,
    /// Poll interval of `kubectl logs -f`.
    pub logs_poll_interval: Duration,
    /// Tail, byte and stream limits of `kubectl logs -f` ([`FollowLimits`]).
    pub logs_follow: FollowLimits,
    /// Pod statistics from Azure Monitor.
    pub stats: StatsConfig,
    /// The kube-proxy extension of VNet mode, its credentials read for every group
    /// ([`kube_proxy`]); `None`: no kube-proxy extension.
    pub kube_proxy: Option<kube_proxy::KubeProxySource>,
}

impl Default for AciConfig {
    /// vk-translate's node defaults, upstream capacity, [`StatusConfig::default`], logs
    /// followed every 2 s (ACI has no log stream; 2 s keeps a follower at 0.5 reads/s)
    /// within [`FollowLimits::default`].
    fn default() -> Self {
        Self {
            node: NodeOptions::default(),
            capacity: Capacity::default(),
            status: StatusConfig::default(),
            logs_poll_interval: Duration::from_secs(2),
            logs_follow: FollowLimits::default(),
            stats: StatsConfig::default(),
            kube_proxy: None,
        }
    }
}

/// Node labels the upstream provider sets (`upstream-settings.md` §4).
pub const NODE_LABELS: &[(&str, &str)] = &[
    (
        "alpha.service-controller.kubernetes.io/exclude-balancer",
        "true",
    ),
    (
        "node.kubernetes.io/exclude-from-external-load-balancers",
        "true",
    ),
    ("kubernetes.azure.com/managed", "false"),
];

/// Label the node as the upstream provider does and announce the configured capacity.
pub(super) fn configure_node(config: &AciConfig, node: &mut Node) {
    let labels = node.metadata.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in NODE_LABELS {
        labels.insert((*k).to_owned(), (*v).to_owned());
    }
    for (k, v) in zones::topology_labels(&config.node) {
        labels.insert(k.to_owned(), v);
    }
    let c = &config.capacity;
    let mut resources = BTreeMap::from([
        ("cpu".to_owned(), Quantity(c.cpu.clone())),
        ("memory".to_owned(), Quantity(c.memory.clone())),
        ("pods".to_owned(), Quantity(c.pods.clone())),
    ]);
    if let Some(gpu) = &c.gpu {
        resources.insert("nvidia.com/gpu".to_owned(), Quantity(gpu.clone()));
    }
    let status = node.status.get_or_insert_with(Default::default);
    status.capacity = Some(resources.clone());
    status.allocatable = Some(resources);
}
