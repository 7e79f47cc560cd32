//! Caps on the streaming sessions one client holds at once (issue 15, item 13).
use std::net::SocketAddr;
use std::sync::Arc;

use futures::SinkExt;
use tokio::net::TcpStream;
use tokio::time::{Duration, timeout};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use super::harness::{EchoProvider, pod, start, start_tuned};
use super::pki::Pki;
use vk_core::provider::{PodResources, Provider};
use vk_core::server::{Auth, AuthConfig, AuthorizationMode};
use vk_testing::MockProvider;

type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// The documented default of `ServerState::max_sessions_per_client`.
const DEFAULT_CAP: usize = 256;

/// Open an exec session running `cat` (it lasts until stdin closes) as `pki`'s client.
async fn exec_cat(pki: &Pki, addr: SocketAddr) -> Result<Ws, tungstenite::Error> {
    open(
        pki,
        addr,
        "/exec/default/web/c?command=cat&stdin=true&stdout=true",
    )
    .await
}

/// Open `path` as a WebSocket (`v4.channel.k8s.io`) as `pki`'s client.
async fn open(pki: &Pki, addr: SocketAddr, path: &str) -> Result<Ws, tungstenite::Error> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(pki.client_config(true))
        .connect(name, tcp)
        .await
        .unwrap();
    let mut req = format!("wss://127.0.0.1:{}{path}", addr.port())
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "v4.channel.k8s.io".parse().unwrap(),
    );
    let (ws, _) = timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(req, tls),
    )
    .await
    .expect("the kubelet answers the upgrade")?;
    Ok(ws)
}

/// The refusal of a session over the cap: 429 with a `Status` body.
fn assert_too_many(refused: Result<Ws, tungstenite::Error>, cap: usize) {
    let Err(tungstenite::Error::Http(res)) = refused else {
        panic!("a session over the cap must be refused with an HTTP answer");
    };
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value =
        serde_json::from_slice(res.body().as_deref().unwrap_or_default()).unwrap();
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["code"], 429);
    assert_eq!(body["reason"], "TooManyRequests");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("streaming sessions")
            && message.contains(&format!("at most {cap} per client")),
        "{message}"
    );
}

#[tokio::test]
async fn one_client_should_not_hold_more_streaming_sessions_than_the_default_cap() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let (addr, _dir) = start(&pki, Arc::new(EchoProvider)).await;
    let mut open = Vec::new();
    for _ in 0..DEFAULT_CAP {
        open.push(exec_cat(&pki, addr).await.expect("a session under the cap"));
    }
    assert_too_many(exec_cat(&pki, addr).await, DEFAULT_CAP);

    // A session that ends frees its slot.
    let mut first = open.remove(0);
    first.send(Message::Close(None)).await.unwrap();
    drop(first);
    let mut admitted = None;
    for _ in 0..50 {
        if let Ok(ws) = exec_cat(&pki, addr).await {
            admitted = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admitted.is_some(), "a freed slot admits the next session");
}

#[tokio::test]
async fn exec_and_port_forward_sessions_should_share_the_configured_cap() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let mock = Arc::new(MockProvider::builder().start_delay(Duration::ZERO).build());
    mock.create_pod(&pod("web", "vk"), &PodResources::default())
        .await
        .unwrap();
    let auth = Auth::new(
        AuthConfig {
            authorization: AuthorizationMode::AlwaysAllow,
            ..AuthConfig::default()
        },
        None,
    );
    let (addr, _dir) = start_tuned(&pki, mock, auth, |c| c, |s| s.max_sessions_per_client(2)).await;
    let _forward = open(&pki, addr, "/portForward/default/web?port=8080")
        .await
        .expect("a port-forward under the cap");
    let _exec = exec_cat(&pki, addr).await.expect("an exec under the cap");
    assert_too_many(exec_cat(&pki, addr).await, 2);
    assert_too_many(
        open(&pki, addr, "/portForward/default/web?port=9090").await,
        2,
    );
    // Requests that are no sessions are not counted.
    let pods = super::harness::request(
        addr,
        pki.client_config(true),
        http::Request::get("/pods")
            .header("host", "127.0.0.1")
            .body(http_body_util::Empty::new())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(pods.status(), 200);
}
