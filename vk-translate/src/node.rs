//! Node-wide settings that shape every container group: region, OS, network, DNS, logs.

use crate::container_group::{
    ContainerGroupIpAddressType, DeploymentExtensionSpec, OperatingSystemTypes,
};
use crate::extensions::{KubeProxyOptions, realtime_metrics_extension};

/// How the group's IP address is exposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IpAddressMode {
    /// A public IP carrying the pods' container ports (upstream's default without a subnet).
    Public,
    /// A private IP in the node's subnets (upstream's VNet mode, `ACI_SUBNET_NAME`).
    Private,
    /// No IP address resource at all; container ports are kept on the containers only.
    None,
}

/// Log Analytics destination of the groups' logs (upstream `LOG_ANALYTICS_*`).
#[derive(Clone, PartialEq, Eq)]
pub struct LogAnalyticsOptions {
    /// Workspace ID.
    pub workspace_id: String,
    /// Workspace key (secret; redacted by `Debug`).
    pub workspace_key: String,
}

impl std::fmt::Debug for LogAnalyticsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogAnalyticsOptions")
            .field("workspace_id", &self.workspace_id)
            .field("workspace_key", &"<redacted>")
            .finish()
    }
}

/// Node-wide inputs of the translation.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeOptions {
    /// Azure region of the groups (upstream `ACI_REGION`).
    pub region: String,
    /// OS of the node; a pod's own `kubernetes.io/os` wins (upstream `--os`).
    pub os_type: OperatingSystemTypes,
    /// Public, private or no IP address.
    pub ip_address: IpAddressMode,
    /// ARM IDs of the subnets of private groups.
    pub subnet_ids: Vec<String>,
    /// Cluster DNS server for `ClusterFirst` pods (upstream `KUBE_DNS_IP`); `None` when the
    /// groups cannot reach it (public groups).
    pub cluster_dns: Option<String>,
    /// Cluster domain (upstream `--cluster-domain`).
    pub cluster_domain: String,
    /// Log Analytics destination, if any.
    pub log_analytics: Option<LogAnalyticsOptions>,
    /// ARM ID of the cluster (upstream `CLUSTER_RESOURCE_ID`): switches logs to
    /// ContainerInsights with cluster, node and pod metadata.
    pub cluster_resource_id: Option<String>,
    /// Cluster name for the `ClusterName` tag.
    pub cluster_name: Option<String>,
    /// Identity of the cluster (the `ClusterId` tag, and part of every group name's hash:
    /// [`crate::names::container_group_name_in`]); `None` keeps the upstream provider's
    /// names and no tag.
    pub cluster_id: Option<String>,
    /// Name of the virtual node (upstream `--nodename`).
    pub node_name: String,
    /// CPU cores of a container that requests none.
    pub default_cpu: f64,
    /// Memory in GB of a container that requests none.
    pub default_memory_in_gb: f64,
    /// The kube-proxy extension of private Linux groups (upstream VNet mode: `MASTER_URI`,
    /// `CLUSTER_CIDR`).
    pub kube_proxy: Option<KubeProxyOptions>,
    /// The realtime metrics extension on private Linux groups (upstream
    /// `ENABLE_REAL_TIME_METRICS`).
    pub realtime_metrics: bool,
    /// Availability zones of the region (`"1"`, `"2"`, `"3"`); empty when unknown. A pod's
    /// zone must be one of them.
    pub zones: Vec<String>,
    /// ARM ID of a user-assigned identity that pulls images from Azure Container Registry
    /// when the pod has no pull secret for the registry.
    pub acr_pull_identity: Option<String>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            // upstream has no default region (ACI_REGION is required); westus is what its
            // docs use.
            region: "westus".to_owned(),
            // upstream `--os` default.
            os_type: OperatingSystemTypes::Linux,
            // upstream: public IP unless ACI_SUBNET_NAME is set.
            ip_address: IpAddressMode::Public,
            subnet_ids: Vec::new(),
            // upstream: KUBE_DNS_IP is only used in VNet mode; unset in newer code.
            cluster_dns: None,
            // upstream `--cluster-domain` default.
            cluster_domain: "cluster.local".to_owned(),
            log_analytics: None,
            cluster_resource_id: None,
            cluster_name: None,
            cluster_id: None,
            // upstream `--nodename` default.
            node_name: "vk-aci-test-aks".to_owned(),
            // upstream provider: a container without requests gets 1 CPU and 1.5 GB.
            default_cpu: 1.0,
            default_memory_in_gb: 1.5,
            // upstream: extensions only in VNet mode, realtime metrics only when asked.
            kube_proxy: None,
            realtime_metrics: false,
            // upstream knows no zones: groups go where ACI puts them.
            zones: Vec::new(),
            // upstream pulls from ACR with pull secrets only.
            acr_pull_identity: None,
        }
    }
}

// === impl NodeOptions ===

impl NodeOptions {
    /// Sets the region.
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Sets the node's OS.
    #[must_use]
    pub fn os_type(mut self, os_type: OperatingSystemTypes) -> Self {
        self.os_type = os_type;
        self
    }

    /// Public IP addresses (the default).
    #[must_use]
    pub fn public_ip(mut self) -> Self {
        self.ip_address = IpAddressMode::Public;
        self
    }

    /// Private IP addresses in these subnets (ARM IDs).
    #[must_use]
    pub fn private_ip(mut self, subnet_ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.ip_address = IpAddressMode::Private;
        self.subnet_ids = subnet_ids.into_iter().map(Into::into).collect();
        self
    }

    /// No IP address resource.
    #[must_use]
    pub fn no_ip(mut self) -> Self {
        self.ip_address = IpAddressMode::None;
        self
    }

    /// The cluster DNS server `ClusterFirst` pods use.
    #[must_use]
    pub fn cluster_dns(mut self, nameserver: impl Into<String>) -> Self {
        self.cluster_dns = Some(nameserver.into());
        self
    }

    /// The cluster domain.
    #[must_use]
    pub fn cluster_domain(mut self, domain: impl Into<String>) -> Self {
        self.cluster_domain = domain.into();
        self
    }

    /// Send logs to this Log Analytics workspace.
    #[must_use]
    pub fn log_analytics(
        mut self,
        workspace_id: impl Into<String>,
        workspace_key: impl Into<String>,
    ) -> Self {
        self.log_analytics = Some(LogAnalyticsOptions {
            workspace_id: workspace_id.into(),
            workspace_key: workspace_key.into(),
        });
        self
    }

    /// The cluster's ARM ID.
    #[must_use]
    pub fn cluster_resource_id(mut self, id: impl Into<String>) -> Self {
        self.cluster_resource_id = Some(id.into());
        self
    }

    /// The cluster identity (tag and group names).
    #[must_use]
    pub fn cluster_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        self.cluster_id = (!id.trim().is_empty()).then(|| id.trim().to_owned());
        self
    }

    /// The group name of pod `namespace/name` on this node's cluster.
    #[must_use]
    pub fn group_name(&self, namespace: &str, name: &str) -> String {
        crate::names::container_group_name_in(self.cluster_id.as_deref(), namespace, name)
    }

    /// The cluster name for tags.
    #[must_use]
    pub fn cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = Some(name.into());
        self
    }

    /// The virtual node's name.
    #[must_use]
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = name.into();
        self
    }

    /// CPU and memory (GB) of containers that request none.
    #[must_use]
    pub fn default_requests(mut self, cpu: f64, memory_in_gb: f64) -> Self {
        self.default_cpu = cpu;
        self.default_memory_in_gb = memory_in_gb;
        self
    }

    /// Add the kube-proxy extension to private Linux groups.
    #[must_use]
    pub fn kube_proxy(mut self, options: KubeProxyOptions) -> Self {
        self.kube_proxy = Some(options);
        self
    }

    /// Add the realtime metrics extension to private Linux groups.
    #[must_use]
    pub fn realtime_metrics(mut self, enabled: bool) -> Self {
        self.realtime_metrics = enabled;
        self
    }

    /// The region's availability zones (`"1"`, `"2"`, `"3"`); pods may only ask for these.
    #[must_use]
    pub fn zones(mut self, zones: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.zones = zones.into_iter().map(Into::into).collect();
        self
    }

    /// Pull images from Azure Container Registry with this user-assigned identity (ARM ID)
    /// when the pod has no pull secret for the registry.
    #[must_use]
    pub fn acr_pull_identity(mut self, identity: impl Into<String>) -> Self {
        self.acr_pull_identity = Some(identity.into());
        self
    }

    /// The extensions of a group of `os_type`: upstream adds them in VNet mode only
    /// (private IPs) and never to Windows groups.
    pub(crate) fn extensions(
        &self,
        os_type: &OperatingSystemTypes,
    ) -> Vec<DeploymentExtensionSpec> {
        if self.ip_address != IpAddressMode::Private || *os_type != OperatingSystemTypes::Linux {
            return Vec::new();
        }
        let mut extensions = Vec::new();
        if let Some(kube_proxy) = &self.kube_proxy {
            extensions.push(kube_proxy.extension());
        }
        if self.realtime_metrics {
            extensions.push(realtime_metrics_extension());
        }
        extensions
    }

    pub(crate) fn ip_address_type(&self) -> Option<ContainerGroupIpAddressType> {
        match self.ip_address {
            IpAddressMode::Public => Some(ContainerGroupIpAddressType::Public),
            IpAddressMode::Private => Some(ContainerGroupIpAddressType::Private),
            IpAddressMode::None => None,
        }
    }
}
