//! A whole virtual node around your provider, on a fake cluster, in one call.
//!
//! [`Harness::start`] starts a [`FakeApiServer`], then a [`VirtualKubelet`] for the
//! provider under test with everything a real cluster would wire up: the Node's InternalIP
//! is `127.0.0.1` and its kubelet port the one bound, the kubelet API serves TLS for that
//! address and trusts the fake's kubelet client CA, and requests are authenticated and
//! authorized against the fake (TokenReview, SubjectAccessReview). So `kubectl logs`,
//! `exec`, `attach` and `port-forward` reach the provider through the fake's proxy, as
//! they do through a real API server. It returns once the Node is Ready.
//!
//! The [`Harness`] hands out the kube [`Client`], a kubeconfig file for real kubectl
//! ([`Harness::kubectl`]) and pod helpers: create a pod bound to the node, wait for a phase
//! or condition, delete it and wait until it is gone.
//!
//! Set-up and tear-down return [`HarnessError`]s. The pod helpers are assertions: they
//! panic, with the pod's last status in the message, when the API server refuses a call or
//! a wait outlasts the [patience](HarnessBuilder::patience) (60 s by default, for loaded
//! CI machines).
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use vk_testing::MockProvider;
//! use vk_testing::harness::{Harness, pod};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let harness = Harness::builder()
//!     .node_name("my-node")
//!     .start(Arc::new(MockProvider::new()))
//!     .await?;
//! harness.create_pod(pod("web", &["sh", "-c", "echo hello; sleep 30"])).await;
//! harness
//!     .create_pod_yaml("metadata: {name: db}\nspec: {containers: [{name: c, image: redis}]}")
//!     .await;
//! harness.wait_for_phase("web", "Running").await;
//! harness.wait_for_condition("db", "Ready").await;
//!
//! let logs = harness.kubectl("1.33").ok(&["logs", "web"]).await;
//! assert!(logs.contains("mock log line"));
//!
//! harness.delete_pod("web").await;
//! harness.shutdown().await?;
//! # Ok(())
//! # }
//! ```
mod pods;
mod watch;

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Node, Pod, PodSpec};
use kube::Client;
use kube::api::{Api, ObjectMeta};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{self, Duration};
use vk_core::server::{AuthConfig, TlsConfig};
use vk_core::{
    NodeConfig, SharedProvider, VirtualKubelet, VirtualKubeletBuilder, VirtualKubeletError,
};

use self::watch::{watch_until, yaml};
use crate::fake_api::{FakeApiError, FakeApiServer, FakeApiServerBuilder};
use crate::kubectl::Kubectl;

/// The default name of the harness's node.
pub const DEFAULT_NODE_NAME: &str = "vk-harness";

/// The default bound on every wait: generous, so that tests pass on a loaded 2-core CI
/// machine, and short enough that a hung test fails within the minute.
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(60);

/// Result of the harness's set-up and tear-down.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// Why the harness could not start or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// The fake API server could not start, or its kubeconfig could not be written.
    #[error("starting the fake api server")]
    ApiServer(#[source] FakeApiError),
    /// The temporary directory for the kubeconfig could not be made.
    #[error("creating the temporary directory")]
    TempDir(#[source] std::io::Error),
    /// The virtual kubelet could not bind its listeners, or stopped with an error.
    #[error("virtual kubelet")]
    VirtualKubelet(#[source] VirtualKubeletError),
    /// The virtual kubelet's task ended (or panicked) before the harness stopped it.
    #[error("the virtual kubelet stopped on its own")]
    Stopped,
    /// The Node was not registered Ready, with the kubelet's address, in time.
    #[error("node {node} not ready within {patience:?}; last seen: {last}")]
    NodeNotReady {
        /// The node's name.
        node: String,
        /// How long the harness waited.
        patience: Duration,
        /// The Node's last status seen, as YAML (or "absent").
        last: String,
    },
    /// The virtual kubelet did not stop within the patience after shutdown was asked.
    #[error("the virtual kubelet did not stop within {0:?}")]
    ShutdownHung(Duration),
}

/// A pod with one container `main` running `command` (image `busybox`), in the
/// `default` namespace, for [`Harness::create_pod`]. Change its fields as a test needs.
#[must_use]
pub fn pod(name: &str, command: &[&str]) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("default".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "main".to_owned(),
                image: Some("busybox".to_owned()),
                command: Some(command.iter().map(|&s| s.to_owned()).collect()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

// === impl HarnessBuilder ===

/// Changes to the virtual kubelet's builder.
type KubeletSettings = Box<dyn FnOnce(VirtualKubeletBuilder) -> VirtualKubeletBuilder + Send>;
/// Changes to the fake API server's builder.
type ApiSettings = Box<dyn FnOnce(FakeApiServerBuilder) -> FakeApiServerBuilder + Send>;

/// Options of a [`Harness`]; see [`Harness::builder`].
#[must_use = "a builder does nothing until started"]
pub struct HarnessBuilder {
    node: NodeConfig,
    controllers: bool,
    auth: AuthConfig,
    patience: Duration,
    api: Vec<ApiSettings>,
    kubelet: Vec<KubeletSettings>,
}

impl Debug for HarnessBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarnessBuilder")
            .field("node", &self.node.name)
            .field("controllers", &self.controllers)
            .field("patience", &self.patience)
            .finish_non_exhaustive()
    }
}

impl Default for HarnessBuilder {
    fn default() -> Self {
        Self {
            // The runtime's own defaults (taint included), under a name of our own.
            node: NodeConfig::named(DEFAULT_NODE_NAME),
            // Pods are bound by the helpers; the scheduler and workload controllers cost
            // CPU that most provider tests do not need.
            controllers: false,
            // A kubelet's `--authentication-token-webhook --authorization-mode=Webhook`,
            // answered by the fake: the proxy's client certificate is what gets checked.
            auth: AuthConfig::default(),
            patience: DEFAULT_PATIENCE,
            api: Vec::new(),
            kubelet: Vec::new(),
        }
    }
}

impl HarnessBuilder {
    /// The node's name; default [`DEFAULT_NODE_NAME`].
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.node.name = name.into();
        self
    }

    /// The node's settings (labels, taint, OS...). The harness still sets its InternalIP
    /// to `127.0.0.1` and its kubelet port to the one bound.
    pub fn node(mut self, node: NodeConfig) -> Self {
        self.node = node;
        self
    }

    /// Run the fake's scheduler and workload controllers (Deployments, Jobs...); default
    /// off. Pods the scheduler places on the node must tolerate its taint (see
    /// [`NodeConfig::taint`]).
    pub fn controllers(mut self, on: bool) -> Self {
        self.controllers = on;
        self
    }

    /// Authentication and authorization of the kubelet API; default: tokens and
    /// SubjectAccessReviews checked by the fake, as a kubelet in webhook mode.
    pub fn auth(mut self, auth: AuthConfig) -> Self {
        self.auth = auth;
        self
    }

    /// How long set-up and every wait may take; default [`DEFAULT_PATIENCE`].
    pub fn patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// Change the fake API server's options: `.api_server(|b| b.tls(true))`. May be called
    /// more than once.
    pub fn api_server(
        mut self,
        settings: impl FnOnce(FakeApiServerBuilder) -> FakeApiServerBuilder + Send + 'static,
    ) -> Self {
        self.api.push(Box::new(settings));
        self
    }

    /// Change the virtual kubelet's settings, after the harness's own:
    /// `.virtual_kubelet(|vk| vk.runtime(|r| r.workers(2)))`. May be called more than once.
    pub fn virtual_kubelet(
        mut self,
        settings: impl FnOnce(VirtualKubeletBuilder) -> VirtualKubeletBuilder + Send + 'static,
    ) -> Self {
        self.kubelet.push(Box::new(settings));
        self
    }

    /// Start the fake API server and the virtual kubelet around `provider`, and wait until
    /// the Node is Ready.
    ///
    /// # Errors
    /// See [`HarnessError`]: the fake or the kubelet could not start, or the Node did not
    /// become Ready within the patience.
    pub async fn start(self, provider: SharedProvider) -> Result<Harness> {
        let mut api = FakeApiServer::builder().controllers(self.controllers);
        for change in self.api {
            api = change(api);
        }
        let fake = api.start().await.map_err(HarnessError::ApiServer)?;
        let dir = tempfile::tempdir().map_err(HarnessError::TempDir)?;
        let kubeconfig = dir.path().join("kubeconfig");
        fake.write_kubeconfig(&kubeconfig)
            .map_err(HarnessError::ApiServer)?;

        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut node = self.node;
        node.internal_ip = Some(loopback);
        node.kubelet_port = 0;
        let client = fake.client();
        let mut kubelet = VirtualKubelet::builder(client.clone(), provider, node)
            .kubelet_listen(SocketAddr::new(loopback, 0))
            // Self-signed for the node's name and InternalIP; the fake's proxy presents a
            // client certificate signed by its CA.
            .tls(
                TlsConfig::self_signed(Vec::new(), Vec::new())
                    .client_ca(fake.kubelet_client_ca_pem()),
            )
            .auth(self.auth)
            // Tests should not wait for the kubelet's production intervals.
            .runtime(|r| {
                r.retry_backoff(Duration::from_millis(100), Duration::from_secs(2))
                    .status_poll_interval(Duration::from_millis(500))
                    .status_coalescing(Duration::from_millis(10))
                    .node_status(Duration::from_secs(1), Duration::from_secs(60))
            });
        for change in self.kubelet {
            kubelet = change(kubelet);
        }
        let kubelet = kubelet.bind().await.map_err(HarnessError::VirtualKubelet)?;
        let kubelet_addr = kubelet.kubelet_addr();
        let node_name = kubelet.node().name.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(kubelet.run(async move {
            let _ = stopped.await;
        }));
        let mut harness = Harness {
            fake: Some(fake),
            client,
            node_name,
            kubelet_addr,
            kubeconfig,
            patience: self.patience,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        };
        harness.wait_for_node().await?;
        Ok(harness)
    }
}

// === impl Harness ===

/// A fake cluster with one virtual node running the provider under test. Dropping it stops
/// both (without waiting); [`Harness::shutdown`] stops them and reports how the node
/// ended.
pub struct Harness {
    fake: Option<FakeApiServer>,
    client: Client,
    node_name: String,
    kubelet_addr: SocketAddr,
    kubeconfig: PathBuf,
    patience: Duration,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), VirtualKubeletError>>>,
    _dir: tempfile::TempDir,
}

impl Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("node", &self.node_name)
            .field("kubelet_addr", &self.kubelet_addr)
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// Options for a harness.
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder::default()
    }

    /// Start a harness with the default options around `provider`.
    ///
    /// # Panics
    /// When it cannot start (see [`HarnessBuilder::start`], which returns the error).
    pub async fn start(provider: SharedProvider) -> Self {
        Self::builder()
            .start(provider)
            .await
            .unwrap_or_else(|e| panic!("the harness did not start: {}", vk_core::error_chain(&e)))
    }

    /// A kube client for the cluster's admin.
    #[must_use]
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The fake API server, for its knobs, counters and tokens.
    ///
    /// # Panics
    /// Never: it is only taken by [`Harness::shutdown`], which consumes the harness.
    #[must_use]
    pub fn api_server(&self) -> &FakeApiServer {
        self.fake
            .as_ref()
            .expect("invariant: the fake runs until shutdown")
    }

    /// The node's name.
    #[must_use]
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Where the kubelet API listens (also the Node's InternalIP and kubelet port).
    #[must_use]
    pub fn kubelet_addr(&self) -> SocketAddr {
        self.kubelet_addr
    }

    /// The admin kubeconfig file, for tools run against the cluster.
    #[must_use]
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// kubectl `version` ("1.33"; see [`crate::kubectl::kubectl_path`]) with the admin
    /// kubeconfig.
    #[must_use]
    pub fn kubectl(&self, version: &str) -> Kubectl {
        Kubectl::new(version, &self.kubeconfig)
    }

    /// The bound on every wait.
    #[must_use]
    pub fn patience(&self) -> Duration {
        self.patience
    }

    /// Change the bound on the waits from now on (a test that expects one to time out
    /// shortens it).
    pub fn set_patience(&mut self, patience: Duration) {
        self.patience = patience;
    }

    /// Stop the virtual kubelet (it stops serving and leaves the pods in the provider),
    /// then the fake API server.
    ///
    /// # Errors
    /// The virtual kubelet had stopped with an error or on its own, or did not stop
    /// within the patience.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = match self.task.take() {
            Some(task) => match time::timeout(self.patience, task).await {
                Err(_) => Err(HarnessError::ShutdownHung(self.patience)),
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(e))) => Err(HarnessError::VirtualKubelet(e)),
                Ok(Err(_)) => Err(HarnessError::Stopped),
            },
            None => Ok(()),
        };
        if let Some(fake) = self.fake.take() {
            fake.shutdown().await;
        }
        result
    }

    /// Wait until the Node is registered Ready with the bound kubelet port, or the
    /// kubelet's task ends.
    async fn wait_for_node(&mut self) -> Result<()> {
        let port = i32::from(self.kubelet_addr.port());
        let ready = |node: Option<&Node>| {
            let Some(status) = node.and_then(|n| n.status.as_ref()) else {
                return false;
            };
            let endpoint = status
                .daemon_endpoints
                .as_ref()
                .and_then(|d| d.kubelet_endpoint.as_ref())
                .map(|e| e.port);
            let is_ready = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            endpoint == Some(port) && is_ready
        };
        let nodes: Api<Node> = Api::all(self.client.clone());
        let task = self
            .task
            .as_mut()
            .expect("invariant: the task runs until shutdown");
        tokio::select! {
            ended = task => {
                self.task = None;
                Err(match ended {
                    Ok(Err(e)) => HarnessError::VirtualKubelet(e),
                    _ => HarnessError::Stopped,
                })
            }
            watched = watch_until(nodes, &self.node_name, self.patience, ready) => match watched {
                Ok(_) => Ok(()),
                Err(last) => Err(HarnessError::NodeNotReady {
                    node: self.node_name.clone(),
                    patience: self.patience,
                    last: last.map_or_else(|| "absent".to_owned(), |n| yaml(&n.status)),
                }),
            },
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Harness, HarnessBuilder, HarnessError};

    fn assert_send<T: Send>() {}

    #[test]
    fn harness_types_are_send() {
        // Tests hand the harness to spawned tasks.
        assert_send::<Harness>();
        assert_send::<HarnessBuilder>();
        assert_send::<HarnessError>();
    }
}
