//! A whole virtual kubelet in one builder: the node runtime, the kubelet HTTPS API, the
//! one-active-process Lease, health endpoints and metrics.
//!
//! [`VirtualKubelet::builder`] takes a client, a provider and a [`NodeConfig`];
//! [`VirtualKubeletBuilder::bind`] checks the TLS material and binds the listeners (so port
//! and certificate errors show before anything talks to the cluster), and
//! [`VirtualKubelet::run`] then:
//!
//! 1. serves `/livez`, `/readyz` and `/metrics` on the health listener, if there is one;
//! 2. waits to hold the node's Lease, when [`VirtualKubeletBuilder::leader_election`] asked
//!    for one (provider calls are then fenced: once the Lease is lost, calls in flight are
//!    dropped and no new one is made);
//! 3. runs the [`Runtime`] (Node registration, node Lease, pods) and the kubelet API
//!    (`logs`, `exec`, `attach`, `port-forward`, `/stats/summary`, `/metrics/resource`)
//!    behind TLS, token and client-certificate authentication and SubjectAccessReview
//!    authorization; with [`ServingCert::CertificateSigningRequest`] it requests the
//!    serving certificate from the cluster and renews it;
//! 4. on shutdown, stops serving, gives the Lease back and returns. Pods keep running in
//!    the backend.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn example(provider: vk_core::SharedProvider) -> Result<(), Box<dyn std::error::Error>> {
//! use vk_core::{NodeConfig, VirtualKubelet};
//!
//! let client = kube::Client::try_default().await?;
//! let node = VirtualKubelet::builder(client, provider, NodeConfig::named("my-node"))
//!     .kubelet_listen("0.0.0.0:10250".parse()?)
//!     .bind()
//!     .await?;
//! node.run(async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```
mod health;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use self::health::Health;
use crate::clock::{SharedClock, SystemClock};
use crate::leader::{LeaderElection, Leadership};
use crate::node::NodeConfig;
use crate::provider::SharedProvider;
use crate::runtime::{Runtime, RuntimeBuilder, RuntimeError};
use crate::server::tls::TlsError;
use crate::server::{
    self, Auth, AuthConfig, ServerState, ServingCert, ServingCertificate, TlsConfig,
};
use crate::stream::remotecommand::StreamingConfig;

/// Why a virtual kubelet could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VirtualKubeletError {
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
    Tls(#[source] TlsError),
    /// The runtime failed (or refused the Node: see [`RuntimeError::is_foreign_node`]).
    #[error("runtime")]
    Runtime(#[source] RuntimeError),
    /// Another process took the node's Lease: this one stopped acting on the node.
    #[error("lost the lease {0}; another process acts on the node now")]
    LeaseLost(String),
}

impl VirtualKubeletError {
    /// Whether the error comes from the configuration (a port in use, unusable TLS
    /// material, a Node another kubelet registered) rather than from the cluster or the
    /// backend at run time: a process exits with a usage error for these.
    #[must_use]
    pub fn is_configuration(&self) -> bool {
        match self {
            Self::Bind { .. } | Self::Tls(_) => true,
            Self::Runtime(runtime) => runtime.is_foreign_node(),
            Self::LeaseLost(_) => false,
        }
    }
}

/// Changes to the runtime's settings, applied when it is built.
type RuntimeSettings = Box<dyn FnOnce(RuntimeBuilder) -> RuntimeBuilder + Send>;

/// Settings of a [`VirtualKubelet`]; see [`VirtualKubelet::builder`].
#[must_use = "a builder does nothing until bound"]
pub struct VirtualKubeletBuilder {
    client: kube::Client,
    provider: SharedProvider,
    node: NodeConfig,
    kubelet_listen: SocketAddr,
    tls: TlsConfig,
    auth: AuthConfig,
    health_listen: Option<SocketAddr>,
    election: Option<LeaderElection>,
    clock: SharedClock,
    runtime: Vec<RuntimeSettings>,
    registries: Vec<Arc<Registry>>,
    streaming: Option<StreamingConfig>,
    max_sessions_per_client: Option<usize>,
}

impl std::fmt::Debug for VirtualKubeletBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualKubeletBuilder")
            .field("node", &self.node.name)
            .field("provider", &self.provider.name())
            .field("kubelet_listen", &self.kubelet_listen)
            .field("health_listen", &self.health_listen)
            .finish_non_exhaustive()
    }
}

impl VirtualKubeletBuilder {
    /// Where the kubelet API listens; default `0.0.0.0:10250` (the kubelet's `--port`).
    /// Port 0 picks a free port, which the Node then advertises.
    pub fn kubelet_listen(mut self, addr: SocketAddr) -> Self {
        self.kubelet_listen = addr;
        self
    }

    /// The kubelet API's TLS: certificate files, a generated self-signed pair (the
    /// default), or a certificate requested from the cluster. A generated or requested
    /// certificate without names or addresses is made for the node's name and InternalIP.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Authentication and authorization of kubelet API requests; default: bearer tokens
    /// checked with TokenReview and every request authorized with SubjectAccessReview, as
    /// a kubelet with `--authentication-token-webhook --authorization-mode=Webhook`.
    pub fn auth(mut self, auth: AuthConfig) -> Self {
        self.auth = auth;
        self
    }

    /// Serve plain-HTTP `/livez`, `/healthz`, `/readyz` and `/metrics` on `addr`;
    /// default: no health listener.
    pub fn health_listen(mut self, addr: Option<SocketAddr>) -> Self {
        self.health_listen = addr;
        self
    }

    /// Act on the node only while holding this Lease, so two processes started for the
    /// same node (a rolling update, a second replica) never both do. Default: no
    /// election, the process acts at once.
    pub fn leader_election(mut self, election: LeaderElection) -> Self {
        self.election = Some(election);
        self
    }

    /// The wall clock of the runtime, the kubelet API, the Lease and the certificate
    /// manager (tests move it; default: the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Change the runtime's settings (workers, resync period, timeouts...):
    /// `.runtime(|r| r.workers(20))`. May be called more than once.
    pub fn runtime(
        mut self,
        settings: impl FnOnce(RuntimeBuilder) -> RuntimeBuilder + Send + 'static,
    ) -> Self {
        self.runtime.push(Box::new(settings));
        self
    }

    /// One more registry served on the health listener's `/metrics` (the provider's own
    /// metrics, for instance). The runtime's and the certificate manager's are served
    /// anyway.
    pub fn metrics_registry(mut self, registry: Arc<Registry>) -> Self {
        self.registries.push(registry);
        self
    }

    /// Limits and timeouts of exec, attach and port-forward sessions.
    pub fn streaming(mut self, streaming: StreamingConfig) -> Self {
        self.streaming = Some(streaming);
        self
    }

    /// Most streaming sessions one client holds at once (see
    /// [`ServerState::max_sessions_per_client`]).
    pub fn max_sessions_per_client(mut self, max: usize) -> Self {
        self.max_sessions_per_client = Some(max);
        self
    }

    /// Check the TLS material and bind the listeners. Nothing talks to the cluster yet.
    ///
    /// # Errors
    /// Unusable TLS material, or an address that cannot be bound.
    pub async fn bind(mut self) -> Result<VirtualKubelet, VirtualKubeletError> {
        fill_certificate_names(&mut self.tls.serving, &self.node);
        let serving = ServingCertificate::empty();
        let tls = self
            .tls
            .server_config_with(&serving)
            .map_err(VirtualKubeletError::Tls)?;
        let (kubelet, kubelet_addr) = listen("the kubelet api", self.kubelet_listen).await?;
        if self.node.kubelet_port == 0 || self.kubelet_listen.port() == 0 {
            self.node.kubelet_port = kubelet_addr.port();
        }
        let health = match self.health_listen {
            Some(addr) => Some(listen("the health endpoints", addr).await?),
            None => None,
        };
        Ok(VirtualKubelet {
            settings: self,
            kubelet,
            kubelet_addr,
            tls,
            serving,
            health,
        })
    }

    /// [`bind`](Self::bind), then [`VirtualKubelet::run`] until `shutdown` resolves.
    ///
    /// # Errors
    /// As [`bind`](Self::bind) and [`VirtualKubelet::run`].
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), VirtualKubeletError> {
        self.bind().await?.run(shutdown).await
    }
}

/// A generated or requested certificate is for the node's name and InternalIP.
fn fill_certificate_names(serving: &mut ServingCert, node: &NodeConfig) {
    let fill = |names: &mut Vec<String>, ips: &mut Vec<IpAddr>| {
        if names.is_empty() {
            names.push(node.name.clone());
        }
        if ips.is_empty()
            && let Some(ip) = node.internal_ip
        {
            ips.push(ip);
        }
    };
    match serving {
        ServingCert::SelfSigned { names, ips } => fill(names, ips),
        ServingCert::CertificateSigningRequest(csr) => {
            if csr.node_name.is_empty() {
                csr.node_name.clone_from(&node.name);
            }
            fill(&mut csr.names, &mut csr.ips);
        }
        _ => {}
    }
}

async fn listen(
    what: &'static str,
    addr: SocketAddr,
) -> Result<(TcpListener, SocketAddr), VirtualKubeletError> {
    let error = |source| VirtualKubeletError::Bind { what, addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let bound = listener.local_addr().map_err(error)?;
    Ok((listener, bound))
}

/// A virtual kubelet with its listeners bound, ready to [`run`](Self::run).
pub struct VirtualKubelet {
    settings: VirtualKubeletBuilder,
    kubelet: TcpListener,
    kubelet_addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    serving: ServingCertificate,
    health: Option<(TcpListener, SocketAddr)>,
}

impl std::fmt::Debug for VirtualKubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualKubelet")
            .field("node", &self.settings.node.name)
            .field("kubelet_addr", &self.kubelet_addr)
            .finish_non_exhaustive()
    }
}

/// The shutdown future, awaited by several tasks.
type Shutdown = Shared<BoxFuture<'static, ()>>;

impl VirtualKubelet {
    /// Start building a virtual kubelet for `node`, backed by `provider`.
    pub fn builder(
        client: kube::Client,
        provider: SharedProvider,
        node: NodeConfig,
    ) -> VirtualKubeletBuilder {
        VirtualKubeletBuilder {
            client,
            provider,
            node,
            kubelet_listen: SocketAddr::from(([0, 0, 0, 0], 10250)),
            tls: TlsConfig::self_signed(Vec::new(), Vec::new()),
            auth: AuthConfig::default(),
            health_listen: None,
            election: None,
            clock: Arc::new(SystemClock),
            runtime: Vec::new(),
            registries: Vec::new(),
            streaming: None,
            max_sessions_per_client: None,
        }
    }

    /// The kubelet API's bound address.
    #[must_use]
    pub fn kubelet_addr(&self) -> SocketAddr {
        self.kubelet_addr
    }

    /// The health listener's bound address, if there is one.
    #[must_use]
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health.as_ref().map(|(_, addr)| *addr)
    }

    /// The node's settings, with the kubelet port it advertises.
    #[must_use]
    pub fn node(&self) -> &NodeConfig {
        &self.settings.node
    }

    /// Run the node until `shutdown` resolves (see the [module docs](self)). The health
    /// endpoints answer from the start; `/readyz` turns ready once this process acts on
    /// the node.
    ///
    /// # Errors
    /// The runtime failed, or another process took the Lease.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), VirtualKubeletError> {
        let shutdown: Shutdown = shutdown.boxed().shared();
        let Self {
            mut settings,
            kubelet,
            kubelet_addr,
            tls,
            serving,
            health,
        } = self;
        let health_state = Health::new(std::mem::take(&mut settings.registries));
        let health_task = health.map(|(listener, _)| {
            let app = health_state.clone().router();
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
        let result = async {
            let (provider, leadership) = match settings.election.take() {
                Some(election) => {
                    let election = election.clock(Arc::clone(&settings.clock));
                    let lease = format!("{}/{}", election.namespace(), election.name());
                    tracing::info!(node = %settings.node.name, %lease, identity = %election.identity(), "waiting to hold the node lease");
                    let Some(leadership) = election.acquire(shutdown.clone()).await else {
                        tracing::info!("shut down before acquiring the node lease");
                        return Ok(());
                    };
                    let provider = leadership.fence(Arc::clone(&settings.provider));
                    (provider, Some((leadership, lease)))
                }
                None => (Arc::clone(&settings.provider), None),
            };
            let serve = Serve {
                kubelet,
                kubelet_addr,
                tls,
                serving,
            };
            act(settings, provider, leadership, serve, &health_state, shutdown).await
        }
        .await;
        if let Some(task) = health_task {
            task.abort();
        }
        result
    }
}

/// The kubelet API's bound listener and TLS.
struct Serve {
    kubelet: TcpListener,
    kubelet_addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    serving: ServingCertificate,
}

/// Act on the node: runtime, kubelet API and certificate manager, until shutdown or the
/// loss of the Lease.
async fn act(
    mut settings: VirtualKubeletBuilder,
    provider: SharedProvider,
    leadership: Option<(Leadership, String)>,
    serve: Serve,
    health: &Health,
    shutdown: Shutdown,
) -> Result<(), VirtualKubeletError> {
    let node_name = settings.node.name.clone();
    let mut builder = Runtime::builder(
        settings.client.clone(),
        Arc::clone(&provider),
        settings.node.clone(),
    )
    .clock(Arc::clone(&settings.clock));
    for change in std::mem::take(&mut settings.runtime) {
        builder = change(builder);
    }
    let runtime = builder.build();
    health.add_registry(runtime.metrics_registry());

    let mut state = ServerState::new(
        node_name.clone(),
        provider,
        Arc::new(runtime.pod_store()),
        Arc::new(Auth::new(
            settings.auth.clone(),
            Some(settings.client.clone()),
        )),
    )
    .clock(Arc::clone(&settings.clock))
    .registry(runtime.metrics_registry());
    if let Some(streaming) = settings.streaming.take() {
        state = state.streaming(streaming);
    }
    if let Some(max) = settings.max_sessions_per_client {
        state = state.max_sessions_per_client(max);
    }
    let cert_task = certificate_manager(&settings, &serve.serving, health, &shutdown);
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(server::tls::serve(
        serve.kubelet,
        serve.tls,
        settings.tls.connection_limits(),
        server::router(state),
        async move {
            let _ = server_stopped.await;
        },
    ));
    tracing::info!(node = %node_name, kubelet = %serve.kubelet_addr, "kubelet api listening");
    health.set_ready(true);

    let (lost, result) = run_until_stopped(runtime, leadership, shutdown).await;
    health.set_ready(false);
    let _ = stop_server.send(());
    let _ = server_task.await;
    if let Some(task) = cert_task {
        task.abort();
    }
    result.map_err(VirtualKubeletError::Runtime)?;
    match lost {
        Some(lease) => Err(VirtualKubeletError::LeaseLost(lease)),
        None => Ok(()),
    }
}

/// With `--rotate-server-certificates`: request the serving certificate from the cluster
/// (handshakes fail until it is issued) and renew it before it expires.
fn certificate_manager(
    settings: &VirtualKubeletBuilder,
    serving: &ServingCertificate,
    health: &Health,
    shutdown: &Shutdown,
) -> Option<JoinHandle<()>> {
    let manager = settings
        .tls
        .certificate_manager(settings.client.clone(), serving)?;
    let mut registry = Registry::with_prefix("vk");
    let manager = manager
        .clock(Arc::clone(&settings.clock))
        .register_metrics(&mut registry);
    health.add_registry(Arc::new(registry));
    Some(tokio::spawn(manager.run(shutdown.clone())))
}

/// Run `runtime` until shutdown, the loss of the Lease or its own end; then give the
/// Lease back. Returns the Lease's name if it was lost, and the runtime's result.
async fn run_until_stopped(
    runtime: Runtime,
    leadership: Option<(Leadership, String)>,
    shutdown: Shutdown,
) -> (Option<String>, Result<(), RuntimeError>) {
    let Some((leadership, lease)) = leadership else {
        return (None, runtime.run(shutdown).await);
    };
    // The runtime may also end on its own (a Node it must not take over): then the
    // watcher stops waiting and hands the leadership back for release.
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        let lost = tokio::select! {
            () = shutdown => false,
            () = leadership.lost() => true,
            _ = ended_rx => false,
        };
        let _ = stop_tx.send(());
        (leadership, lost)
    });
    let result = runtime
        .run(async move {
            let _ = stop_rx.await;
        })
        .await;
    let _ = ended_tx.send(());
    let mut lost = None;
    if let Ok((leadership, was_lost)) = watcher.await {
        leadership.release().await;
        lost = was_lost.then_some(lease);
    }
    (lost, result)
}
