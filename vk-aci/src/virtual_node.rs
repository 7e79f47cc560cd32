//! The virtual node process: ACI provider + vk-core runtime + kubelet API + health endpoints.
//!
//! [`VirtualNode::bind`] binds the kubelet API and health listeners (so configuration and
//! port errors show before anything talks to a cluster), then [`VirtualNode::run`] waits to
//! hold the node's coordination Lease (`vk-aci-<node>`: one node, one actor), registers
//! the Node and runs its pods until the shutdown future resolves. A shutdown never deletes
//! pods or container groups.
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::time::Duration;
use vk_core::clock::{SharedClock, SystemClock};
use vk_core::leader::LeaderElection;
use vk_core::server::{
    self, Auth, AuthConfig, ServerState, ServingCert, ServingCertificate, TlsConfig,
};
use vk_core::{NodeConfig, Runtime, RuntimeError};

use crate::arm::{self, ArmClient, ArmConfig, ArmCredential};
use crate::images::{ImageResolver, ImageResolverConfig};
use crate::monitor::{MonitorClient, MonitorConfig};
use crate::provider::{AciConfig, AciProvider, NODE_LABELS};

/// Why the virtual node could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VirtualNodeError {
    /// A listener could not be bound.
    #[error("binding {what} on {addr}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The kubelet API's TLS material is unusable.
    #[error("kubelet api tls")]
    Tls(#[source] server::tls::TlsError),
    /// The ARM client could not be built.
    #[error("arm client")]
    Arm(#[source] arm::Error),
    /// The delegated subnet of VNet mode is missing, different or not delegated to ACI
    /// (or ARM could not be asked).
    #[error("vnet mode")]
    Subnet(#[source] arm::network::SubnetError),
    /// The runtime failed.
    #[error("runtime")]
    Runtime(#[source] RuntimeError),
    /// Another process took the node's Lease: this one stopped acting on the node.
    #[error("lost the lease {0}; another process acts on the node now")]
    LeaseLost(String),
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
        let mut node = NodeConfig::default();
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
    config: VirtualNodeConfig,
    client: kube::Client,
    provider: Arc<AciProvider>,
    kubelet: TcpListener,
    kubelet_addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    serving: ServingCertificate,
    health: Option<(TcpListener, SocketAddr)>,
    arm_registry: Arc<Registry>,
    ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for VirtualNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualNode")
            .field("node", &self.config.node.name)
            .field("kubelet_addr", &self.kubelet_addr)
            .finish_non_exhaustive()
    }
}

/// The health endpoints' state.
#[derive(Clone)]
struct Health {
    ready: Arc<AtomicBool>,
    registries: Arc<std::sync::Mutex<Vec<Arc<Registry>>>>,
}

async fn livez() -> &'static str {
    "ok"
}

async fn readyz(State(health): State<Health>) -> (StatusCode, &'static str) {
    if health.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the node lease",
        )
    }
}

async fn metrics(
    State(health): State<Health>,
) -> (StatusCode, [(http::HeaderName, &'static str); 1], String) {
    let registries = health
        .registries
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut out = String::new();
    for registry in registries {
        let mut one = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut one, &registry).is_ok() {
            out.push_str(&one);
        }
    }
    out.push_str("# EOF\n");
    (
        StatusCode::OK,
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
}

// === impl VirtualNode ===

impl VirtualNode {
    /// Build the ARM client and the provider, check the TLS material, check (or create)
    /// the delegated subnet in VNet mode, and bind the listeners. Nothing talks to the
    /// cluster yet, and ARM only about the subnet.
    ///
    /// # Errors
    /// Unusable TLS material, an ARM client that cannot be built, an unusable subnet, a
    /// port in use.
    pub async fn bind(
        mut config: VirtualNodeConfig,
        client: kube::Client,
        credential: ArmCredential,
    ) -> Result<Self, VirtualNodeError> {
        // A generated or requested certificate is for the node's name and InternalIP.
        let node = &config.node;
        let fill = |names: &mut Vec<String>, ips: &mut Vec<std::net::IpAddr>| {
            if names.is_empty() {
                names.push(node.name.clone());
            }
            if ips.is_empty()
                && let Some(ip) = node.internal_ip
            {
                ips.push(ip);
            }
        };
        match &mut config.tls.serving {
            ServingCert::SelfSigned { names, ips } => fill(names, ips),
            ServingCert::CertificateSigningRequest(csr) => {
                if csr.node_name.is_empty() {
                    csr.node_name.clone_from(&node.name);
                }
                fill(&mut csr.names, &mut csr.ips);
            }
            _ => {}
        }
        if config.cluster_id_from_kube_system && config.aci.node.cluster_id.is_none() {
            config.aci.node = config
                .aci
                .node
                .clone()
                .cluster_id(kube_system_uid(&client).await.unwrap_or_default());
        }
        let serving = ServingCertificate::empty();
        let tls = config
            .tls
            .server_config_with(&serving)
            .map_err(VirtualNodeError::Tls)?;
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
        let kubelet = TcpListener::bind(config.kubelet_listen)
            .await
            .map_err(|source| VirtualNodeError::Bind {
                what: "the kubelet api",
                addr: config.kubelet_listen,
                source,
            })?;
        let kubelet_addr = kubelet
            .local_addr()
            .map_err(|source| VirtualNodeError::Bind {
                what: "the kubelet api",
                addr: config.kubelet_listen,
                source,
            })?;
        if config.node.kubelet_port == 0 || config.kubelet_listen.port() == 0 {
            config.node.kubelet_port = kubelet_addr.port();
        }
        let health = match config.health_listen {
            Some(addr) => {
                let bind_err = |source| VirtualNodeError::Bind {
                    what: "the health endpoints",
                    addr,
                    source,
                };
                let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
                let bound = listener.local_addr().map_err(bind_err)?;
                Some((listener, bound))
            }
            None => None,
        };
        let mut provider = AciProvider::new(arm, config.aci.clone(), Arc::clone(&config.clock))
            .with_monitor(monitor);
        if let Some(images) = &config.images {
            let images = ImageResolverConfig {
                // The node's OS picks the entry of multi-arch indexes.
                os_type: config.aci.node.os_type.clone(),
                ..images.clone()
            };
            provider = provider.with_image_resolver(Arc::new(ImageResolver::new(images)));
        }
        let provider = Arc::new(provider);
        Ok(Self {
            config,
            client,
            provider,
            kubelet,
            kubelet_addr,
            tls,
            serving,
            health,
            arm_registry: Arc::new(arm_registry),
            ready: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The kubelet API's bound address.
    #[must_use]
    pub fn kubelet_addr(&self) -> SocketAddr {
        self.kubelet_addr
    }

    /// The health endpoints' bound address, if served.
    #[must_use]
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health.as_ref().map(|(_, a)| *a)
    }

    /// The provider (ARM client and its metrics).
    #[must_use]
    pub fn provider(&self) -> &Arc<AciProvider> {
        &self.provider
    }

    /// Wait for the node's Lease, then run the node until `shutdown` resolves. Health
    /// endpoints answer from the start; `/readyz` turns ready once this process acts on the
    /// node.
    ///
    /// # Errors
    /// The runtime failed, or another process took the Lease.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), VirtualNodeError> {
        let shutdown: Shared<BoxFuture<'static, ()>> = shutdown.boxed().shared();
        let registries = Arc::new(std::sync::Mutex::new(vec![Arc::clone(&self.arm_registry)]));
        let health_task = self.health.map(|(listener, _)| {
            let app = Router::new()
                .route("/livez", get(livez))
                .route("/healthz", get(livez))
                .route("/readyz", get(readyz))
                .route("/metrics", get(metrics))
                .with_state(Health {
                    ready: Arc::clone(&self.ready),
                    registries: Arc::clone(&registries),
                });
            let stop = shutdown.clone();
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::warn!(error = %e, "health endpoints stopped");
                }
            })
        });

        let node_name = self.config.node.name.clone();
        let lease_name = format!("vk-aci-{node_name}");
        let (duration, renew, retry) = self.config.lease_timing;
        let election = LeaderElection::new(
            self.client.clone(),
            &self.config.lease_namespace,
            lease_name.clone(),
            self.config.identity.clone(),
        )
        .timing(duration, renew, retry)
        .clock(Arc::clone(&self.config.clock));
        tracing::info!(node = %node_name, lease = %lease_name, identity = %self.config.identity, "waiting to hold the node lease");
        let Some(leadership) = election.acquire(shutdown.clone()).await else {
            tracing::info!("shut down before acquiring the node lease");
            return Ok(());
        };

        // Fenced by the Lease: once it is lost (at the renew deadline, before any other
        // process may take it), provider calls in flight are dropped and no new one is made.
        let provider = leadership.fence(Arc::clone(&self.provider) as vk_core::SharedProvider);
        let mut builder = Runtime::builder(
            self.client.clone(),
            Arc::clone(&provider),
            self.config.node.clone(),
        )
        .workers(self.config.workers)
        .clock(Arc::clone(&self.config.clock));
        if let Some(period) = self.config.resync_period {
            builder = builder.resync_period(period);
        }
        let runtime = builder.build();
        registries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(runtime.metrics_registry());

        let auth = Arc::new(Auth::new(
            self.config.auth.clone(),
            Some(self.client.clone()),
        ));
        let state = ServerState::new(
            node_name.clone(),
            provider,
            Arc::new(runtime.pod_store()),
            auth,
        )
        .clock(Arc::clone(&self.config.clock))
        .registry(runtime.metrics_registry());
        // With `--rotate-server-certificates`: request the serving certificate from the
        // cluster (handshakes fail until it is issued) and renew it before it expires.
        let cert_task = self
            .config
            .tls
            .certificate_manager(self.client.clone(), &self.serving)
            .map(|manager| {
                let mut registry = Registry::with_prefix("vk");
                let manager = manager
                    .clock(Arc::clone(&self.config.clock))
                    .register_metrics(&mut registry);
                registries
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(Arc::new(registry));
                tokio::spawn(manager.run(shutdown.clone()))
            });
        let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
        let server_task = tokio::spawn(server::tls::serve_with_limits(
            self.kubelet,
            self.tls,
            self.config.tls.connection_limits(),
            server::router(state),
            async move {
                let _ = server_stopped.await;
            },
        ));
        tracing::info!(node = %node_name, kubelet = %self.kubelet_addr, "kubelet api listening");
        self.ready.store(true, Ordering::Relaxed);

        let lost = Arc::new(AtomicBool::new(false));
        // The runtime may also end on its own (a Node it must not take over): then the
        // watcher stops waiting and hands the leadership back for release.
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
        let stop = {
            let lost = Arc::clone(&lost);
            let shutdown = shutdown.clone();
            async move {
                tokio::select! {
                    () = shutdown => {}
                    () = leadership.lost() => lost.store(true, Ordering::Relaxed),
                    _ = ended_rx => {}
                }
                leadership
            }
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let watcher = tokio::spawn(async move {
            let leadership = stop.await;
            let _ = stop_tx.send(());
            leadership
        });
        let result = runtime
            .run(async move {
                let _ = stop_rx.await;
            })
            .await;
        self.ready.store(false, Ordering::Relaxed);
        let _ = ended_tx.send(());
        let _ = stop_server.send(());
        let _ = server_task.await;
        if let Ok(leadership) = watcher.await {
            leadership.release().await;
        }
        if let Some(task) = health_task {
            task.abort();
        }
        if let Some(task) = cert_task {
            task.abort();
        }
        result.map_err(VirtualNodeError::Runtime)?;
        if lost.load(Ordering::Relaxed) {
            return Err(VirtualNodeError::LeaseLost(lease_name));
        }
        Ok(())
    }
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
