//! The server over real TLS sockets.
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::time::{Duration, timeout};
use vk_core::stream::spdy::Headers;
use vk_testing::spdy_client::Client;

use super::harness::{EchoProvider, body_string, request, start};
use super::pki::Pki;

fn get(uri: &str) -> http::Request<Empty<Bytes>> {
    http::Request::get(uri)
        .header("host", "127.0.0.1")
        .body(Empty::new())
        .unwrap()
}

#[tokio::test]
async fn a_request_without_credentials_should_be_refused_over_tls() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let (addr, _dir) = start(&pki, Arc::new(EchoProvider)).await;
    for uri in ["/pods", "/exec/default/web/c?command=echo&output=1"] {
        let res = request(addr, pki.client_config(false), get(uri))
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{uri}");
        let body: serde_json::Value = serde_json::from_str(&body_string(res).await).unwrap();
        assert_eq!(body["kind"], "Status");
        assert_eq!(body["reason"], "Unauthorized");
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_should_be_refused() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let other = Pki::new("intruder");
    let (addr, _dir) = start(&pki, Arc::new(EchoProvider)).await;
    // The intruder trusts our serving cert but presents a certificate of its own CA.
    let trusting = {
        let mixed = Pki {
            ca_pem: pki.ca_pem.clone(),
            serving_cert_pem: String::new(),
            serving_key_pem: String::new(),
            client_cert_pem: other.client_cert_pem.clone(),
            client_key_pem: other.client_key_pem.clone(),
        };
        mixed.client_config(true)
    };
    let result = request(addr, trusting, get("/pods")).await;
    match result {
        Err(_) => {}
        Ok(res) => panic!("expected the handshake to fail, got {}", res.status()),
    }
}

#[tokio::test]
async fn a_client_certificate_should_authenticate_pods() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let (addr, _dir) = start(&pki, Arc::new(EchoProvider)).await;
    let res = request(addr, pki.client_config(true), get("/pods"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(body_string(res).await.contains("\"name\":\"web\""));
}

fn stream_type(t: &str) -> Headers {
    let mut h = Headers::default();
    h.push("streamtype", t);
    h
}

#[tokio::test]
async fn exec_should_run_over_spdy_through_tls() {
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let (addr, _dir) = start(&pki, Arc::new(EchoProvider)).await;
    let req = http::Request::post("/exec/default/web/c?command=fail&command=3&error=1&output=1")
        .header("host", "127.0.0.1")
        .header("connection", "Upgrade")
        .header("upgrade", "SPDY/3.1")
        .header("x-stream-protocol-version", "v5.channel.k8s.io")
        .header("x-stream-protocol-version", "v4.channel.k8s.io")
        .body(Empty::new())
        .unwrap();
    let res = request(addr, pki.client_config(true), req).await.unwrap();
    assert_eq!(res.status(), 101);
    assert_eq!(
        res.headers()["x-stream-protocol-version"],
        "v5.channel.k8s.io"
    );
    let upgraded = hyper::upgrade::on(res).await.unwrap();
    let mut client = Client::new(TokioIo::new(upgraded));
    let error = client.open(&stream_type("error"), true).await.unwrap();
    let stdout = client.open(&stream_type("stdout"), true).await.unwrap();
    let stderr = client.open(&stream_type("stderr"), true).await.unwrap();
    let data = timeout(
        Duration::from_secs(10),
        client.data_until_fin(&[error, stdout, stderr]),
    )
    .await
    .expect("the session answers")
    .unwrap();
    assert_eq!(
        data.get(&stdout).map(Vec::as_slice).unwrap_or_default(),
        b""
    );
    assert_eq!(data[&stderr], b"failing\n");
    let status: serde_json::Value = serde_json::from_slice(&data[&error]).unwrap();
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "3");
}

#[tokio::test]
async fn exec_should_run_over_websocket_v5_through_tls() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let pki = Pki::new("kube-apiserver-kubelet-client");
    let (addr, _dir) = start(&pki, Arc::new(EchoProvider)).await;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(pki.client_config(true))
        .connect(name, tcp)
        .await
        .unwrap();
    let mut req = format!(
        "wss://127.0.0.1:{}/exec/default/web/c?command=cat&stdin=true&stdout=true&stderr=true",
        addr.port()
    )
    .into_client_request()
    .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "v5.channel.k8s.io, v4.channel.k8s.io".parse().unwrap(),
    );
    let (mut ws, res) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    assert_eq!(res.headers()["sec-websocket-protocol"], "v5.channel.k8s.io");
    ws.send(Message::binary(b"\x00ping".to_vec()))
        .await
        .unwrap();
    ws.send(Message::binary(vec![255, 0])).await.unwrap();
    let mut stdout = Vec::new();
    let mut status = None;
    while let Some(m) = timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("the session answers")
    {
        match m.unwrap() {
            Message::Binary(b) if b[0] == 1 => stdout.extend_from_slice(&b[1..]),
            Message::Binary(b) if b[0] == 3 => {
                status = Some(serde_json::from_slice::<serde_json::Value>(&b[1..]).unwrap());
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert_eq!(stdout, b"ping");
    assert_eq!(status.expect("an outcome")["status"], "Success");
}
