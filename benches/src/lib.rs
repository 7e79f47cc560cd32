//! Shared set-up for the benchmarks and the load scenario (see README's figures).

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use vk_core::provider::{
    DuplexIo, ExecIo, PodKey, PodResources, Provider, ProviderPod, Result as ProviderResult,
};
use vk_core::server::{
    Auth, AuthConfig, AuthorizationMode, ClientCertUser, PodLookup, ServerState, TlsConfig,
    UserInfo, router,
};
use vk_testing::kubelet_client_config;

/// Peak resident set size of process `pid` (`"self"` for this one), in KiB, from
/// `/proc/<pid>/status` (`VmHWM`); `None` where that cannot be read.
#[must_use]
pub fn vm_hwm_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time (user + system) process `pid` (`"self"` for this one) has used, in seconds, from
/// `/proc/<pid>/stat`; `None` where that cannot be read. On a shared machine this is a
/// steadier figure than elapsed time.
#[must_use]
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    // Linux reports these in USER_HZ ticks, 100 per second on every architecture's ABI.
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; count fields after its closing `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of the whole line are 12 and 13 after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// Start this same executable with `args` (its serving mode), wait up to 30 s for its first
/// line `ready [REST]` and return the child (killed when dropped) with `REST`. The child's
/// later output is drained so that it never writes into a closed pipe.
///
/// # Errors
/// The child did not start or said something else first.
pub async fn spawn_serving_child(
    args: &[String],
    what: &str,
) -> Result<(tokio::process::Child, String), String> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(exe)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        reader.read_line(&mut line),
    )
    .await
    .map_err(|_| format!("{what} did not start"))?
    .map_err(|e| e.to_string())?;
    let rest = line
        .trim()
        .strip_prefix("ready")
        .ok_or_else(|| format!("{what} said {line:?}"))?
        .trim()
        .to_owned();
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink).await;
    });
    Ok((child, rest))
}

/// A Kubernetes client from a kubeconfig file (the fake API server's, written by the
/// scenario's child process).
///
/// # Errors
///
/// The file cannot be read or does not describe a usable cluster.
pub async fn client_from(kubeconfig: &str) -> Result<kube::Client, String> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| e.to_string())?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| e.to_string())?;
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

/// A provider with no pods of its own that echoes: exec copies stdin to stdout, and a
/// port-forward connection on any port gets its bytes back.
pub struct Echo;

#[async_trait]
impl Provider for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    async fn create_pod(&self, _: &Pod, _: &PodResources) -> ProviderResult<()> {
        Ok(())
    }
    async fn update_pod(&self, _: &Pod, _: &PodResources) -> ProviderResult<()> {
        Ok(())
    }
    async fn delete_pod(&self, _: &Pod) -> ProviderResult<()> {
        Ok(())
    }
    async fn pod_status(&self, _: &PodKey) -> ProviderResult<Option<PodStatus>> {
        Ok(None)
    }
    async fn list_pods(&self) -> ProviderResult<Vec<ProviderPod>> {
        Ok(vec![])
    }
    async fn exec(&self, _: &PodKey, _: &str, _: &[String], mut io: ExecIo) -> ProviderResult<i32> {
        if let (Some(i), Some(o)) = (io.stdin.as_mut(), io.stdout.as_mut()) {
            let _ = tokio::io::copy(i, o).await;
        }
        Ok(0)
    }
    fn supports_port_forward(&self) -> bool {
        true
    }

    async fn port_forward(&self, _: &PodKey, _: u16, io: Box<dyn DuplexIo>) -> ProviderResult<()> {
        let (mut r, mut w) = tokio::io::split(io);
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = w.shutdown().await;
        Ok(())
    }
}

/// The kubelet API server on `127.0.0.1:0` over self-signed TLS, serving one pod
/// `default/web` (container `c`) from `provider`; every request is authenticated as the
/// API server's client certificate would be, and allowed. Returns the address.
///
/// # Panics
///
/// Loopback cannot be bound or the self-signed TLS configuration cannot be built.
pub async fn start_kubelet(provider: Arc<dyn Provider>) -> SocketAddr {
    let pod = Pod {
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    let auth = Auth::new(
        AuthConfig {
            authorization: AuthorizationMode::AlwaysAllow,
            ..AuthConfig::default()
        },
        None,
    );
    let state = ServerState::new(
        "vk",
        provider,
        Arc::new(OnePod(Arc::new(pod))),
        Arc::new(auth),
    );
    // The benchmark client authenticates like the API server's client certificate would.
    let app = router(state).layer(tower::util::MapRequestLayer::new(
        |mut req: axum::extract::Request| {
            req.extensions_mut().insert(ClientCertUser(UserInfo {
                username: "bench".into(),
                ..Default::default()
            }));
            req
        },
    ));
    let config = TlsConfig::self_signed(vec![], vec!["127.0.0.1".parse().unwrap()]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(vk_core::server::tls::serve(
        listener,
        config.server_config().unwrap(),
        config.connection_limits(),
        app,
        std::future::pending(),
    ));
    addr
}

/// The one pod `default/web` a benchmark kubelet serves.
struct OnePod(Arc<Pod>);

impl PodLookup for OnePod {
    fn get(&self, key: &PodKey) -> Option<Arc<Pod>> {
        (key.name == "web").then(|| self.0.clone())
    }
    fn list(&self) -> Vec<Arc<Pod>> {
        vec![self.0.clone()]
    }
}

/// A TLS connection (`TCP_NODELAY`) to the kubelet at `addr`, accepting its self-signed
/// certificate as an API server without `--kubelet-certificate-authority` would.
///
/// # Panics
///
/// The connection or the handshake fails.
pub async fn connect_tls(addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(kubelet_client_config()))
        .connect(name, tcp)
        .await
        .unwrap()
}
