//! Port-forward over the kubelet's WebSocket channel protocol (`v4.channel.k8s.io`,
//! `v4.base64.channel.k8s.io`), as a client reaching the kubelet directly would use it.
use std::sync::Arc;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{Duration, timeout};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use vk_core::provider::{PodResources, Provider};
use vk_testing::MockProvider;

use super::harness::{EchoProvider, pod, start_with};
use super::pki::Pki;

type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// Open `path` as a WebSocket offering `protocols`, with the API server's client
/// certificate.
async fn open(
    pki: &Pki,
    addr: std::net::SocketAddr,
    path: &str,
    protocols: &str,
) -> Result<(Ws, tungstenite::handshake::client::Response), tungstenite::Error> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(pki.client_config(true))
        .connect(name, tcp)
        .await
        .unwrap();
    let mut req = format!("wss://127.0.0.1:{}{path}", addr.port())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", protocols.parse().unwrap());
    tokio_tungstenite::client_async(req, tls).await
}

async fn next(ws: &mut Ws) -> Option<Message> {
    timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("the kubelet answers")
        .map(Result::unwrap)
}

async fn mock_with_web() -> Arc<MockProvider> {
    let mock = Arc::new(MockProvider::builder().start_delay(Duration::ZERO).build());
    mock.create_pod(&pod("web", "vk"), &PodResources::default())
        .await
        .unwrap();
    mock
}

#[tokio::test]
async fn websocket_v4_should_forward_two_ports_with_their_channels() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let (addr, _dir) = start_with(&pki, mock_with_web().await).await;
    let (mut ws, res) = open(
        &pki,
        addr,
        "/portForward/default/web?port=8080&port=9090",
        "v4.channel.k8s.io",
    )
    .await
    .unwrap();
    assert_eq!(res.headers()["sec-websocket-protocol"], "v4.channel.k8s.io");

    // The port first, little-endian, on data and error channel of each port in turn.
    let mut firsts = Vec::new();
    for _ in 0..4 {
        firsts.push(next(&mut ws).await.expect("a port message"));
    }
    assert_eq!(
        firsts,
        [
            Message::binary(vec![0, 0x90, 0x1f]),
            Message::binary(vec![1, 0x90, 0x1f]),
            Message::binary(vec![2, 0x82, 0x23]),
            Message::binary(vec![3, 0x82, 0x23]),
        ]
    );

    ws.send(Message::binary(b"\x00to 8080".to_vec()))
        .await
        .unwrap();
    ws.send(Message::binary(b"\x02to 9090".to_vec()))
        .await
        .unwrap();
    // Bytes on an error channel or a channel without a port are ignored.
    ws.send(Message::binary(b"\x01ignored".to_vec()))
        .await
        .unwrap();
    ws.send(Message::binary(b"\x40ignored".to_vec()))
        .await
        .unwrap();
    ws.send(Message::binary(Vec::new())).await.unwrap();
    let mut echoed = [Vec::new(), Vec::new()];
    while echoed[0].len() < 7 || echoed[1].len() < 7 {
        match next(&mut ws).await.expect("the echo") {
            Message::Binary(b) if b[0] == 0 => echoed[0].extend_from_slice(&b[1..]),
            Message::Binary(b) if b[0] == 2 => echoed[1].extend_from_slice(&b[1..]),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(echoed, [b"to 8080".to_vec(), b"to 9090".to_vec()]);

    // The client leaves: the forwards end and the kubelet closes normally.
    ws.close(None).await.unwrap();
    loop {
        match next(&mut ws).await {
            Some(Message::Close(frame)) => {
                if let Some(f) = frame {
                    assert_eq!(f.code, CloseCode::Normal);
                }
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => break,
        }
    }
}

#[tokio::test]
async fn websocket_v4_base64_should_report_a_provider_failure_on_the_error_channel() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    // The provider does not know the pod: forwarding fails.
    let mock = Arc::new(MockProvider::builder().start_delay(Duration::ZERO).build());
    let (addr, _dir) = start_with(&pki, mock).await;
    let (mut ws, res) = open(
        &pki,
        addr,
        "/portForward/default/web?port=53",
        "v4.base64.channel.k8s.io",
    )
    .await
    .unwrap();
    assert_eq!(
        res.headers()["sec-websocket-protocol"],
        "v4.base64.channel.k8s.io"
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut error = String::new();
    let mut closed = false;
    while let Some(m) = next(&mut ws).await {
        match m {
            Message::Text(t) if t.starts_with('0') => {
                assert_eq!(b64.decode(&t[1..]).unwrap(), 53u16.to_le_bytes());
            }
            Message::Text(t) if t.starts_with('1') => {
                let bytes = b64.decode(&t[1..]).unwrap();
                if bytes != 53u16.to_le_bytes() {
                    error.push_str(&String::from_utf8(bytes).unwrap());
                }
            }
            Message::Close(_) => closed = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(error.contains("not found"), "error channel: {error}");
    assert!(closed, "the kubelet closes once every forward ended");
}

/// The body of a refused handshake.
fn refusal(e: tungstenite::Error) -> (u16, String) {
    match e {
        tungstenite::Error::Http(res) => (
            res.status().as_u16(),
            String::from_utf8_lossy(res.body().as_deref().unwrap_or_default()).into_owned(),
        ),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn websocket_port_forward_should_be_refused_with_a_status_when_the_provider_cannot() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let (addr, _dir) = start_with(&pki, Arc::new(EchoProvider)).await;
    for protocols in ["v4.channel.k8s.io", "SPDY/3.1+portforward.k8s.io"] {
        let e = open(&pki, addr, "/portForward/default/web?port=80", protocols)
            .await
            .unwrap_err();
        let (code, body) = refusal(e);
        assert_eq!(code, 501, "{protocols}");
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["reason"], "NotImplemented");
        assert!(
            status["message"]
                .as_str()
                .unwrap()
                .contains("port-forward is not supported by this virtual node (provider echo)"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn websocket_port_forward_should_refuse_bad_requests_before_upgrading() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let (addr, _dir) = start_with(&pki, mock_with_web().await).await;
    let cases = [
        (
            "/portForward/default/web",
            "v4.channel.k8s.io",
            400,
            "is required",
        ),
        (
            "/portForward/default/web?port=x",
            "v4.channel.k8s.io",
            400,
            "as a port",
        ),
        (
            &format!("/portForward/default/web?{}", vec!["port=1"; 33].join("&")),
            "v4.channel.k8s.io",
            400,
            "at most 32 ports",
        ),
        (
            "/portForward/default/web?port=80",
            "v5.channel.k8s.io",
            403,
            "unable to negotiate",
        ),
        (
            "/portForward/default/nope?port=80",
            "v4.channel.k8s.io",
            404,
            "not found",
        ),
    ];
    for (path, protocols, code, message) in cases {
        let e = open(&pki, addr, path, protocols).await.unwrap_err();
        let (got, body) = refusal(e);
        assert_eq!(got, code, "{path} {protocols}: {body}");
        assert!(body.contains(message), "{path} {protocols}: {body}");
    }
}
