//! A fake cluster with one MockProvider node, as `vk-aci local` has one ACI node: the
//! fake API server with its controllers, metrics-server scraping every second and the
//! HPA controller syncing every second; the runtime registering the node with its
//! address and kubelet port; the kubelet HTTPS API trusting the fake's kubelet client
//! certificate.
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{self, Duration};
use vk_core::server::{Auth, AuthConfig, ServerState, TlsConfig, router, tls};
use vk_core::{NodeConfig, Runtime};
use vk_testing::{FakeApiServer, FakeApiServerBuilder, MockProvider};

pub const NODE: &str = "vk-metrics";
/// Bound on every wait.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// The cluster; dropping it stops the node.
pub struct Cluster {
    pub api: FakeApiServer,
    pub provider: MockProvider,
    pub kubeconfig: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Cluster {
    pub async fn start() -> Self {
        Self::start_with(|builder| builder).await
    }

    /// Start with the fake API server's builder adjusted by `adjust` (e.g. HTTPS, over
    /// which kubectl sends its bearer token).
    pub async fn start_with(
        adjust: impl FnOnce(FakeApiServerBuilder) -> FakeApiServerBuilder,
    ) -> Self {
        let api = adjust(
            FakeApiServer::builder()
                .controllers(true)
                .metric_resolution(Duration::from_secs(1))
                .hpa_sync_period(Duration::from_secs(1)),
        )
        .start()
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        api.write_kubeconfig(&kubeconfig).unwrap();
        let provider = MockProvider::builder()
            .name("mock")
            .start_delay(Duration::from_millis(50))
            .build();

        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let listener = TcpListener::bind((loopback, 0)).await.unwrap();
        let mut node = NodeConfig::named(NODE);
        node.internal_ip = Some(loopback);
        node.kubelet_port = listener.local_addr().unwrap().port();
        let client = api.client();
        let runtime = Runtime::builder(client.clone(), Arc::new(provider.clone()), node)
            .resync_period(Duration::from_secs(2))
            .status_coalescing(Duration::from_millis(10))
            .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
            .node_status(Duration::from_millis(200), Duration::from_secs(300))
            .build();

        let auth = Arc::new(Auth::new(AuthConfig::default(), Some(client)));
        let state = ServerState::new(
            NODE,
            Arc::new(provider.clone()),
            Arc::new(runtime.pod_store()),
            auth,
        );
        let tls_config = TlsConfig::self_signed(vec![NODE.into()], vec![loopback])
            .client_ca(api.kubelet_client_ca_pem());
        let (stop, stopped) = oneshot::channel::<()>();
        let (server_stop, server_stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = tls::serve(
                listener,
                tls_config.server_config().unwrap(),
                tls_config.connection_limits(),
                router(state),
                async move {
                    let _ = server_stopped.await;
                },
            )
            .await;
        });
        let node = tokio::spawn(async move {
            let _ = runtime
                .run(async move {
                    let _ = stopped.await;
                })
                .await;
            let _ = server_stop.send(());
        });
        Self {
            api,
            provider,
            kubeconfig,
            stop: Some(stop),
            tasks: vec![node, server],
            _dir: dir,
        }
    }

    /// Run kubectl `version` with the admin kubeconfig: (success, stdout, stderr).
    pub async fn kubectl(&self, version: &str, args: &[&str]) -> (bool, String, String) {
        kubectl(version, &self.kubeconfig, args, None).await
    }

    /// Run kubectl with `stdin`; panics unless it succeeds. Its stdout.
    pub async fn kubectl_ok(&self, version: &str, args: &[&str], stdin: Option<&str>) -> String {
        let (ok, out, err) = kubectl(version, &self.kubeconfig, args, stdin).await;
        assert!(ok, "kubectl {version} {args:?}: {err}\n{out}");
        out
    }
}

async fn kubectl(
    version: &str,
    kubeconfig: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    let out = vk_testing::kubectl::Kubectl::new(version, kubeconfig)
        .run_with_input(args, stdin)
        .await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Poll `check` every 250 ms until it yields a value, for at most [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    time::timeout(PATIENCE, async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Millicores from a `kubectl top` cell (`250m`, `1`).
pub fn millicores(cell: &str) -> u64 {
    match cell.strip_suffix('m') {
        Some(m) => m.parse().unwrap(),
        None => cell.parse::<u64>().unwrap() * 1000,
    }
}

/// Mebibytes from a `kubectl top` cell (`64Mi`).
pub fn mebibytes(cell: &str) -> u64 {
    cell.strip_suffix("Mi")
        .unwrap_or_else(|| panic!("not Mi: {cell}"))
        .parse()
        .unwrap()
}

/// Whether `got` is within `tolerance` of `want`.
pub fn near(got: u64, want: u64, tolerance: u64) -> bool {
    got.abs_diff(want) <= tolerance
}
