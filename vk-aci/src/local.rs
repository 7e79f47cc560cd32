//! `vk-aci local`: the whole product on one machine, no cluster and no Azure account.
//!
//! [`Local::start`] starts vk-core's fake API server (with its binder, and its workload
//! controllers when it has them), the ACI emulator and a virtual node, each over real
//! loopback HTTP as in production, and writes an admin kubeconfig for kubectl.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Duration;
use vk_core::server::TlsConfig;
use vk_testing::{FakeApiError, FakeApiServer, binder};

use crate::arm::{ArmConfig, ArmCredential, RetryPolicy, ThrottleConfig};
use crate::emulator::{Emulator, EmulatorConfig, EmulatorError, EmulatorHandle};
use crate::monitor::MonitorConfig;
use crate::virtual_node::{VirtualNode, VirtualNodeConfig, VirtualNodeError};

/// Subscription of the emulated container groups.
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
/// Resource group of the emulated container groups.
pub const RESOURCE_GROUP: &str = "vk-aci-local";
/// Region of the emulated container groups.
pub const REGION: &str = "westus";

/// Why the local setup could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The fake API server failed to start or to write the kubeconfig.
    #[error("fake api server")]
    Api(#[source] FakeApiError),
    /// The emulator failed to start.
    #[error("aci emulator")]
    Emulator(#[source] EmulatorError),
    /// The virtual node failed to start.
    #[error("virtual node")]
    Node(#[source] VirtualNodeError),
}

/// Settings of [`Local::start`].
#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// Where to write the admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// Fake API server address (default `127.0.0.1:0`).
    pub api_listen: SocketAddr,
    /// Emulator settings.
    pub emulator: EmulatorConfig,
    /// Virtual node name.
    pub node_name: String,
}

impl Default for LocalConfig {
    /// `./vk-aci-local.kubeconfig`, any free ports, the emulator's defaults without ARM
    /// throttling (one local user), node `vk-aci-local`.
    fn default() -> Self {
        Self {
            kubeconfig: PathBuf::from("vk-aci-local.kubeconfig"),
            api_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            emulator: EmulatorConfig {
                throttle: None,
                ..EmulatorConfig::default()
            },
            node_name: "vk-aci-local".to_owned(),
        }
    }
}

/// The running local setup; dropping it stops everything.
pub struct Local {
    api: FakeApiServer,
    emulator: EmulatorHandle,
    kubeconfig: PathBuf,
    node_name: String,
    kubelet_addr: SocketAddr,
    node: JoinHandle<Result<(), VirtualNodeError>>,
    binder: JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("api", &self.api.url())
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

// === impl Local ===

impl Local {
    /// Start the fake API server, the emulator and the virtual node; write the kubeconfig.
    ///
    /// # Errors
    /// A component could not start or the kubeconfig could not be written.
    pub async fn start(config: LocalConfig) -> Result<Self, LocalError> {
        // HTTPS with the admin's token in the kubeconfig, as a real cluster: over plain HTTP
        // kubectl sends no credentials and `kubectl auth can-i` asks as system:anonymous.
        let api = FakeApiServer::builder()
            .listen(config.api_listen)
            .tls(true)
            .controllers(true)
            .start()
            .await
            .map_err(LocalError::Api)?;
        api.write_kubeconfig(&config.kubeconfig)
            .map_err(LocalError::Api)?;
        let emulator = Emulator::start(config.emulator.clone())
            .await
            .map_err(LocalError::Emulator)?;
        let client = api.try_client().map_err(LocalError::Api)?;
        let binder = binder::spawn(client.clone(), Duration::from_millis(200));

        let node_config = node_config(&api, &emulator, &config.node_name);
        let node = VirtualNode::bind(node_config, client, ArmCredential::fixed("local"))
            .await
            .map_err(LocalError::Node)?;
        let kubelet_addr = node.kubelet_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let node = tokio::spawn(node.run(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            api,
            emulator,
            kubeconfig: config.kubeconfig,
            node_name: config.node_name,
            kubelet_addr,
            node,
            binder,
            stop: Some(stop),
        })
    }

    /// The fake API server.
    #[must_use]
    pub fn api(&self) -> &FakeApiServer {
        &self.api
    }

    /// The ACI emulator.
    #[must_use]
    pub fn emulator(&self) -> &EmulatorHandle {
        &self.emulator
    }

    /// The admin kubeconfig path.
    #[must_use]
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The virtual node's name.
    #[must_use]
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// The virtual node's kubelet API address.
    #[must_use]
    pub fn kubelet_addr(&self) -> SocketAddr {
        self.kubelet_addr
    }

    /// Stop the virtual node gracefully (pods and groups stay), then everything else.
    ///
    /// # Errors
    /// The virtual node's own error, if it failed.
    pub async fn shutdown(mut self) -> Result<(), VirtualNodeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.binder.abort();
        let result = (&mut self.node).await;
        self.emulator.shutdown();
        match result {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "the virtual node task panicked");
                Ok(())
            }
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.binder.abort();
        self.node.abort();
    }
}

/// The virtual node's settings for the local setup: kubelet API on loopback trusting the
/// fake API server's kubelet client certificate, ARM at the emulator.
#[must_use]
pub fn node_config(
    api: &FakeApiServer,
    emulator: &EmulatorHandle,
    node_name: &str,
) -> VirtualNodeConfig {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut config = VirtualNodeConfig::default();
    config.node.name = node_name.to_owned();
    config.node.internal_ip = Some(loopback);
    config.node.kubelet_port = 0;
    config.aci.node = config.aci.node.clone().region(REGION).node_name(node_name);
    config.arm = ArmConfig::new(SUBSCRIPTION, RESOURCE_GROUP, REGION)
        .base_url(emulator.url())
        .throttle(ThrottleConfig::unlimited())
        .lro_poll_interval(Duration::from_millis(200))
        .retry(RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(10),
        });
    // Pod statistics from the emulator's Azure Monitor; it shows the open minute at once,
    // so reading every 15 s (metrics-server's resolution) keeps `kubectl top` current.
    config.monitor = MonitorConfig::default().batch_endpoint(emulator.url());
    config.aci.stats.refresh_interval = Duration::from_secs(15);
    config.kubelet_listen = SocketAddr::new(loopback, 0);
    config.tls = TlsConfig::self_signed(vec![node_name.to_owned()], vec![loopback])
        .client_ca(api.kubelet_client_ca_pem());
    config.health_listen = Some(SocketAddr::new(loopback, 0));
    config.workers = 20;
    config.lease_timing = (
        Duration::from_secs(15),
        Duration::from_secs(5),
        Duration::from_millis(500),
    );
    config.clock = Arc::new(vk_core::clock::SystemClock);
    config
}
