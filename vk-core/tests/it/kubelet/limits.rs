//! Connection bounds of the kubelet API over real sockets (issue 15, item 13).
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use tokio::net::TcpStream;
use tokio::time::{Duration, timeout};
use vk_core::server::{Auth, AuthConfig, AuthorizationMode, TlsConfig};

use super::harness::{EchoProvider, request, start_limited};
use super::pki::Pki;

/// Long enough for a handshake on a busy machine; a bounded client waits past it.
const PATIENCE: Duration = Duration::from_millis(500);

async fn start(pki: &Pki, connections: usize, handshakes: usize) -> SocketAddr {
    let auth = Auth::new(
        AuthConfig {
            authorization: AuthorizationMode::AlwaysAllow,
            ..AuthConfig::default()
        },
        None,
    );
    let (addr, dir) = start_limited(pki, Arc::new(EchoProvider), auth, |c| TlsConfig {
        max_connections: connections,
        max_pending_handshakes: handshakes,
        ..c
    })
    .await;
    // The certificate files are read at start; the directory may go.
    drop(dir);
    addr
}

fn pods() -> http::Request<Empty<Bytes>> {
    http::Request::get("/pods")
        .header("host", "127.0.0.1")
        .body(Empty::new())
        .unwrap()
}

/// A TLS connection that finished its handshake and sends nothing.
async fn idle_tls(pki: &Pki, addr: SocketAddr) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(pki.client_config(true)).connect(name, tcp),
    )
    .await
    .expect("a handshake within the limits completes")
    .unwrap()
}

#[tokio::test]
async fn sockets_stalling_their_handshake_should_hold_at_most_the_pending_handshake_slots() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let addr = start(&pki, 100, 2).await;
    let stalled_a = TcpStream::connect(addr).await.unwrap();
    let _stalled_b = TcpStream::connect(addr).await.unwrap();

    let waiting = timeout(PATIENCE, request(addr, pki.client_config(true), pods())).await;
    assert!(
        waiting.is_err(),
        "a third handshake waits while two sockets stall theirs"
    );

    drop(stalled_a);
    let res = timeout(
        Duration::from_secs(10),
        request(addr, pki.client_config(true), pods()),
    )
    .await
    .expect("a freed handshake slot lets the next client in")
    .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn connections_beyond_the_limit_should_wait_until_one_closes() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let addr = start(&pki, 3, 2).await;
    let first = idle_tls(&pki, addr).await;
    let _second = idle_tls(&pki, addr).await;
    let _third = idle_tls(&pki, addr).await;

    let waiting = timeout(PATIENCE, request(addr, pki.client_config(true), pods())).await;
    assert!(
        waiting.is_err(),
        "a fourth connection waits while three are open"
    );

    drop(first);
    let res = timeout(
        Duration::from_secs(10),
        request(addr, pki.client_config(true), pods()),
    )
    .await
    .expect("a closed connection lets the next client in")
    .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_upgraded_stream_should_keep_its_connection_slot() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let pki = Pki::new("kube-apiserver-kubelet-client");
    let addr = start(&pki, 1, 1).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(pki.client_config(true))
        .connect(name, tcp)
        .await
        .unwrap();
    let mut req = format!(
        "wss://127.0.0.1:{}/exec/default/web/c?command=cat&stdin=true&stdout=true",
        addr.port()
    )
    .into_client_request()
    .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "v5.channel.k8s.io".parse().unwrap(),
    );
    let (session, _) = tokio_tungstenite::client_async(req, tls).await.unwrap();

    let waiting = timeout(PATIENCE, request(addr, pki.client_config(true), pods())).await;
    assert!(
        waiting.is_err(),
        "an open exec session holds the only connection slot"
    );

    drop(session);
    let res = timeout(
        Duration::from_secs(10),
        request(addr, pki.client_config(true), pods()),
    )
    .await
    .expect("the ended session frees its slot")
    .unwrap();
    assert_eq!(res.status(), 200);
}
