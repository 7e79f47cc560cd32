//! The virtual node process: ACI provider + vk-core runtime + kubelet API + health endpoints.
//!
//! [`VirtualNode::bind`] binds the kubelet API and health listeners (so configuration and
//! port errors show before anything talks to a cluster), then [`VirtualNode::run`] waits to
//! hold the node's coordination Lease (`vk-aci-<node>`: one node, one actor), registers
//! the Node and runs its pods until the shutdown future resolves. A shutdown never deletes
//! pods or container groups.
use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio::time::Duration;
use vk_core::clock::{SharedClock, SystemClock};
use vk_core::leader::LeaderElection;
use vk_core::server::{AuthConfig, TlsConfig};
use vk_core::{NodeConfig, VirtualKubelet, VirtualKubeletError};

use crate::arm::{self, ArmClient, ArmConfig, ArmCredential};
use crate::images::{ImageResolver, ImageResolverConfig};
use crate::monitor::{MonitorClient, MonitorConfig};
use crate::provider::{AciConfig, AciProvider, NODE_LABELS};

/// Why the virtual node could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VirtualNodeError {
    /// The ARM client could not be built.
    #[error("arm client")]
    Arm(#[source] arm::Error),
    /// The delegated subnet of VNet mode is missing, different or not delegated to ACI
    /// (or ARM could not be asked).
    #[error("vnet mode")]
    Subnet(#[source] arm::network::SubnetError),
    /// The virtual kubelet (listeners, TLS, runtime, Lease) could not start or failed.
    #[error(transparent)]
    Kubelet(VirtualKubeletError),
}

/// Everything the virtual node process needs besides the Kubernetes client and the Azure
/// credential.
#[derive(Clone, Debug)]
pub struct VirtualNodeConfig {
    /// The Node (name, taint, OS, InternalIP, kubelet port, labels).
    pub node: NodeConfig,
    /// Provider settings (translation, capacity, status tracking).
    pub aci: AciConfig,
    /// Reading images' ENTRYPOINT/CMD from their registries for containers with `args` and
    /// no `command` (ACI's command replaces the ENTRYPOINT); `None` leaves such containers
    /// with their args as the command and a warning.
    pub images: Option<ImageResolverConfig>,
    /// Where the container groups live and how ARM is called.
    pub arm: ArmConfig,
    /// How Azure Monitor is called for pod statistics (the batch endpoint and its token
    /// scope; without an endpoint, groups are read one a call through ARM).
    pub monitor: MonitorConfig,
    /// Kubelet API listen address (port 0 picks one and advertises it).
    pub kubelet_listen: SocketAddr,
    /// Kubelet API TLS. A self-signed or requested (CertificateSigningRequest) certificate
    /// without names or addresses gets the node's name and InternalIP; a request without a
    /// node name gets the node's.
    pub tls: TlsConfig,
    /// Kubelet API authentication and authorization.
    pub auth: AuthConfig,
    /// Plain-HTTP `/livez`, `/readyz` and `/metrics` listener; `None` serves none.
    pub health_listen: Option<SocketAddr>,
    /// Pods reconciled at once.
    pub workers: usize,
    /// Full resync period; `None` keeps the runtime's default.
    pub resync_period: Option<Duration>,
    /// Namespace of the node's leader Lease.
    pub lease_namespace: String,
    /// This process's identity in the Lease (unique per process).
    pub identity: String,
    /// Leader Lease duration, renew interval and candidates' retry interval.
    pub lease_timing: (Duration, Duration, Duration),
    /// Wall clock for Kubernetes timestamps.
    pub clock: SharedClock,
    /// VNet mode: the delegated subnet checked (and created when missing with a CIDR)
    /// before anything starts; `None` outside VNet mode.
    pub subnet: Option<SubnetSetup>,
    /// Without a cluster identity in `aci.node`, take the UID of the `kube-system`
    /// namespace at bind (unreadable: a warning, and no identity).
    pub cluster_id_from_kube_system: bool,
}

/// The delegated subnet of VNet mode (upstream `ACI_SUBNET_NAME`, `ACI_SUBNET_CIDR`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetSetup {
    /// The subnet.
    pub subnet: arm::network::SubnetRef,
    /// Its prefix: must match an existing subnet; creates a missing one.
    pub cidr: Option<arm::network::Cidr>,
}

impl Default for VirtualNodeConfig {
    /// Upstream's defaults: node `vk-aci-test-aks` tainted
    /// `virtual-kubelet.io/provider=azure:NoSchedule`, kubelet API on `0.0.0.0:10250`
    /// (`KUBELET_PORT`) with a self-signed certificate, token webhook authentication;
    /// health and metrics on `0.0.0.0:10255` (our choice, the StatefulSet's probe port);
    /// image ENTRYPOINT resolution on (issue 9: upstream refuses args without command);
    /// 50 pod sync workers (upstream `--pod-sync-workers`); lease in `kube-node-lease`,
    /// client-go's leader election timing (15 s, renewed every 5 s, retried every 2 s).
    fn default() -> Self {
        // The upstream ACI provider's `--nodename` default.
        let mut node = NodeConfig::named("vk-aci-test-aks");
        node.labels.extend(
            NODE_LABELS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Self {
            node,
            aci: AciConfig::default(),
            images: Some(ImageResolverConfig::default()),
            arm: ArmConfig::new("", "", ""),
            monitor: MonitorConfig::default(),
            kubelet_listen: SocketAddr::from(([0, 0, 0, 0], 10250)),
            tls: TlsConfig::self_signed(Vec::new(), Vec::new()),
            auth: AuthConfig::default(),
            health_listen: Some(SocketAddr::from(([0, 0, 0, 0], 10255))),
            workers: 50,
            resync_period: None,
            lease_namespace: vk_core::lease::LEASE_NAMESPACE.to_owned(),
            identity: format!("vk-aci-{}", uuid::Uuid::new_v4()),
            lease_timing: (
                Duration::from_secs(15),
                Duration::from_secs(5),
                Duration::from_secs(2),
            ),
            clock: Arc::new(SystemClock),
            subnet: None,
            cluster_id_from_kube_system: false,
        }
    }
}

/// A virtual node with its listeners bound, ready to [`run`](Self::run).
pub struct VirtualNode {
    kubelet: VirtualKubelet,
    provider: Arc<AciProvider>,
}

impl std::fmt::Debug for VirtualNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualNode")
            .field("kubelet", &self.kubelet)
            .finish_non_exhaustive()
    }
}

// === impl VirtualNode ===

impl VirtualNode {
    /// Build the ARM client and the provider, check the TLS material, check (or create)
    /// the delegated subnet in VNet mode, and bind the listeners. Nothing talks to the
    /// cluster yet (but for the `kube-system` namespace's UID when asked), and ARM only
    /// about the subnet.
    ///
    /// # Errors
    /// Unusable TLS material, an ARM client that cannot be built, an unusable subnet, a
    /// port in use.
    pub async fn bind(
        mut config: VirtualNodeConfig,
        client: kube::Client,
        credential: ArmCredential,
    ) -> Result<Self, VirtualNodeError> {
        if config.cluster_id_from_kube_system && config.aci.node.cluster_id.is_none() {
            config.aci.node = config
                .aci
                .node
                .clone()
                .cluster_id(kube_system_uid(&client).await.unwrap_or_default());
        }
        let (provider, arm_registry) = provider(&config, credential).await?;
        let election = LeaderElection::new(
            client.clone(),
            &config.lease_namespace,
            format!("vk-aci-{}", config.node.name),
            config.identity.clone(),
        )
        .timing(
            config.lease_timing.0,
            config.lease_timing.1,
            config.lease_timing.2,
        );
        let (workers, resync) = (config.workers, config.resync_period);
        let kubelet = VirtualKubelet::builder(
            client,
            Arc::clone(&provider) as vk_core::SharedProvider,
            config.node,
        )
        .kubelet_listen(config.kubelet_listen)
        .tls(config.tls)
        .auth(config.auth)
        .health_listen(config.health_listen)
        .leader_election(election)
        .clock(config.clock)
        .metrics_registry(Arc::new(arm_registry))
        .runtime(move |runtime| {
            let runtime = runtime.workers(workers);
            match resync {
                Some(period) => runtime.resync_period(period),
                None => runtime,
            }
        })
        .bind()
        .await
        .map_err(VirtualNodeError::Kubelet)?;
        Ok(Self { kubelet, provider })
    }

    /// The kubelet API's bound address.
    #[must_use]
    pub fn kubelet_addr(&self) -> SocketAddr {
        self.kubelet.kubelet_addr()
    }

    /// The health endpoints' bound address, if served.
    #[must_use]
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.kubelet.health_addr()
    }

    /// The provider (ARM client and its metrics).
    #[must_use]
    pub fn provider(&self) -> &Arc<AciProvider> {
        &self.provider
    }

    /// Wait for the node's Lease (`vk-aci-<node>`), then run the node until `shutdown`
    /// resolves. Health endpoints answer from the start; `/readyz` turns ready once this
    /// process acts on the node.
    ///
    /// # Errors
    /// The runtime failed, or another process took the Lease.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), VirtualNodeError> {
        self.kubelet
            .run(shutdown)
            .await
            .map_err(VirtualNodeError::Kubelet)
    }
}

/// The ACI provider (ARM and Azure Monitor clients, image resolver) and the registry of
/// its ARM metrics; in VNet mode, the delegated subnet is checked (or created) first.
async fn provider(
    config: &VirtualNodeConfig,
    credential: ArmCredential,
) -> Result<(Arc<AciProvider>, Registry), VirtualNodeError> {
    let monitor_credential = credential.with_scope(config.monitor.scope.clone());
    let arm = ArmClient::new(config.arm.clone(), credential).map_err(VirtualNodeError::Arm)?;
    let monitor = MonitorClient::new(config.monitor.clone(), monitor_credential, arm.clone())
        .map_err(VirtualNodeError::Arm)?;
    if let Some(setup) = &config.subnet {
        let outcome = arm
            .ensure_subnet(&setup.subnet, setup.cidr)
            .await
            .map_err(VirtualNodeError::Subnet)?;
        tracing::info!(subnet = %setup.subnet, ?outcome, "vnet mode: delegated subnet ready");
    }
    let mut arm_registry = Registry::with_prefix("vk_aci");
    arm.metrics().register(&mut arm_registry);
    let mut provider =
        AciProvider::new(arm, config.aci.clone(), Arc::clone(&config.clock)).with_monitor(monitor);
    if let Some(images) = &config.images {
        let images = ImageResolverConfig {
            // The node's OS picks the entry of multi-arch indexes.
            os_type: config.aci.node.os_type.clone(),
            ..images.clone()
        };
        provider = provider.with_image_resolver(Arc::new(ImageResolver::new(images)));
    }
    Ok((Arc::new(provider), arm_registry))
}

/// The UID of the `kube-system` namespace: a cluster's identity that every cluster has and
/// that never changes. `None` (with a warning) when it cannot be read.
async fn kube_system_uid(client: &kube::Client) -> Option<String> {
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(client.clone());
    match tokio::time::timeout(Duration::from_secs(10), namespaces.get("kube-system")).await {
        Ok(Ok(namespace)) => {
            let uid = namespace.metadata.uid;
            tracing::info!(cluster_id = ?uid, "cluster identity: the kube-system namespace's UID");
            uid
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "no cluster identity (the kube-system namespace cannot be read): container groups are told apart from other clusters' by node name only; set --cluster-id");
            None
        }
        Err(_) => {
            tracing::warn!(
                "no cluster identity (reading the kube-system namespace timed out): container groups are told apart from other clusters' by node name only; set --cluster-id"
            );
            None
        }
    }
}
