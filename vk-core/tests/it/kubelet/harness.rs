//! The server under test on 127.0.0.1:0 with a small echoing provider.
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus};
use kube::api::ObjectMeta;
use kube::runtime::{reflector, watcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use vk_core::provider::{
    ExecIo, PodKey, PodResources, Provider, ProviderPod, Result as ProviderResult,
};
use vk_core::server::{
    Auth, AuthConfig, AuthorizationMode, ServerState, ServingCert, TlsConfig, router, tls,
};

use super::pki::Pki;

/// exec: `echo ARGS` writes them, `cat` copies stdin, `fail N` exits with N.
pub struct EchoProvider;

#[async_trait]
impl Provider for EchoProvider {
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
    async fn exec(
        &self,
        _: &PodKey,
        _: &str,
        command: &[String],
        mut io: ExecIo,
    ) -> ProviderResult<i32> {
        match command.first().map(String::as_str) {
            Some("echo") => {
                if let Some(out) = io.stdout.as_mut() {
                    let line = format!("{}\n", command[1..].join(" "));
                    out.write_all(line.as_bytes()).await.ok();
                }
                Ok(0)
            }
            Some("cat") => {
                if let (Some(stdin), Some(out)) = (io.stdin.as_mut(), io.stdout.as_mut()) {
                    tokio::io::copy(stdin, out).await.ok();
                }
                Ok(0)
            }
            Some("fail") => {
                if let Some(err) = io.stderr.as_mut() {
                    err.write_all(b"failing\n").await.ok();
                }
                Ok(command.get(1).and_then(|c| c.parse().ok()).unwrap_or(1))
            }
            _ => Ok(127),
        }
    }
}

pub fn pod(name: &str, node: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.into()),
            containers: vec![Container {
                name: "c".into(),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

/// Start the server with TLS from files, trusting `pki`'s CA for client certificates.
pub async fn start(pki: &Pki, provider: Arc<dyn Provider>) -> (SocketAddr, tempfile::TempDir) {
    start_with(pki, provider).await
}

/// [`start`] (the provider says whether it forwards ports).
pub async fn start_with(pki: &Pki, provider: Arc<dyn Provider>) -> (SocketAddr, tempfile::TempDir) {
    let auth = Auth::new(
        AuthConfig {
            authorization: AuthorizationMode::AlwaysAllow,
            ..AuthConfig::default()
        },
        None,
    );
    start_with_auth(pki, provider, auth).await
}

/// [`start_with`], with requests checked by `auth`.
pub async fn start_with_auth(
    pki: &Pki,
    provider: Arc<dyn Provider>,
    auth: Auth,
) -> (SocketAddr, tempfile::TempDir) {
    start_limited(pki, provider, auth, |c| c).await
}

/// [`start_with_auth`], with the TLS configuration (its connection limits) changed by
/// `tune`.
pub async fn start_limited(
    pki: &Pki,
    provider: Arc<dyn Provider>,
    auth: Auth,
    tune: impl FnOnce(TlsConfig) -> TlsConfig,
) -> (SocketAddr, tempfile::TempDir) {
    start_tuned(pki, provider, auth, tune, |s| s).await
}

/// [`start_limited`], with the server state (its session cap) changed by `tune_state`.
pub async fn start_tuned(
    pki: &Pki,
    provider: Arc<dyn Provider>,
    auth: Auth,
    tune: impl FnOnce(TlsConfig) -> TlsConfig,
    tune_state: impl FnOnce(ServerState) -> ServerState,
) -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("tls.crt");
    let key = dir.path().join("tls.key");
    std::fs::write(&cert, &pki.serving_cert_pem).unwrap();
    std::fs::write(&key, &pki.serving_key_pem).unwrap();
    let (store, mut writer) = reflector::store::<Pod>();
    writer.apply_watcher_event(&watcher::Event::Apply(pod("web", "vk")));
    let state = tune_state(ServerState::new(
        "vk",
        provider,
        Arc::new(store),
        Arc::new(auth),
    ));
    let config = TlsConfig {
        serving: ServingCert::Files { cert, key },
        ..TlsConfig::self_signed(vec![], vec![])
    }
    .client_ca(pki.ca_pem.clone());
    let config = tune(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tls::serve(
        listener,
        config.server_config().unwrap(),
        config.connection_limits(),
        router(state),
        std::future::pending(),
    ));
    (addr, dir)
}

/// Send one request over a fresh TLS connection.
pub async fn request(
    addr: SocketAddr,
    client: Arc<rustls::ClientConfig>,
    req: http::Request<Empty<Bytes>>,
) -> std::io::Result<http::Response<Incoming>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = TlsConnector::from(client).connect(name, tcp).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn.with_upgrades());
    sender
        .send_request(req)
        .await
        .map_err(std::io::Error::other)
}

pub async fn body_string(res: http::Response<Incoming>) -> String {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[allow(dead_code)] // used by the kubectl scenarios
pub async fn read_all(mut r: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).await.unwrap();
    v
}
