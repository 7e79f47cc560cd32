//! Kubelet API port-forward: echo throughput (MB/s) over TLS for each way in: SPDY/3.1,
//! SPDY tunnelled in WebSocket (kubectl 1.31+) and the WebSocket v4 channel protocol.
//!
//! Run with `cargo bench -p vk-benches --bench kubelet_port_forward`.
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use vk_benches::{Echo, connect_tls, start_kubelet};
use vk_core::stream::spdy::Headers;
use vk_core::stream::spdy::frame::Frame;
use vk_testing::spdy_client::{Client, Received};

/// Bytes echoed per protocol.
const TOTAL: usize = 64 * 1024 * 1024;
/// Size of each write.
const CHUNK: usize = 32 * 1024;

async fn websocket(
    addr: SocketAddr,
    path: &str,
    protocol: &str,
) -> WebSocketStream<TlsStream<TcpStream>> {
    let mut req = format!("wss://127.0.0.1:{}{path}", addr.port())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    tokio_tungstenite::client_async(req, connect_tls(addr).await)
        .await
        .unwrap()
        .0
}

/// Echo [`TOTAL`] bytes through port 80 over SPDY on `io`; returns the bytes echoed.
async fn spdy_echo<IO: AsyncRead + AsyncWrite + Unpin>(io: IO) -> usize {
    let mut client = Client::new(io);
    let headers = |kind: &str| {
        let mut h = Headers::default();
        h.push("streamtype", kind);
        h.push("port", "80");
        h.push("requestid", "0");
        h
    };
    client.open(&headers("error"), true).await.unwrap();
    let data = client.open(&headers("data"), false).await.unwrap();
    let chunk = vec![0x5a_u8; CHUNK];
    let (mut sent, mut received) = (0usize, 0usize);
    while received < TOTAL {
        if sent < TOTAL && sent - received < 512 * 1024 {
            client.data(data, &chunk, false).await.unwrap();
            sent += chunk.len();
            continue;
        }
        match client.recv().await.unwrap() {
            Some(Received::Frame(Frame::Data {
                stream_id, data: d, ..
            })) if stream_id == data => {
                received += d.len();
            }
            Some(_) => {}
            None => break,
        }
    }
    received
}

/// A byte stream carried in a WebSocket's binary messages (kubectl's tunnelling).
fn bridge(ws: WebSocketStream<TlsStream<TcpStream>>) -> DuplexStream {
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    let (mut from_client, mut to_client) = tokio::io::split(ours);
    let (mut sink, mut source) = ws.split();
    tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK + 64];
        while let Ok(n) = from_client.read(&mut buf).await {
            if n == 0 || sink.send(Message::binary(buf[..n].to_vec())).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(Ok(m)) = source.next().await {
            if let Message::Binary(b) = m
                && to_client.write_all(&b).await.is_err()
            {
                break;
            }
        }
    });
    theirs
}

/// Echo [`TOTAL`] bytes through port 80 over the v4 channel protocol.
async fn v4_echo(ws: WebSocketStream<TlsStream<TcpStream>>) -> usize {
    let (mut sink, mut source) = ws.split();
    let send = async move {
        let mut message = vec![0x5a_u8; CHUNK + 1];
        message[0] = 0;
        let mut sent = 0;
        while sent < TOTAL {
            sink.send(Message::binary(message.clone())).await.unwrap();
            sent += CHUNK;
        }
        sink
    };
    let receive = async move {
        let mut received = 0;
        while received < TOTAL {
            match source.next().await {
                // The first message on channel 0 is the port.
                Some(Ok(Message::Binary(b))) if b.len() > 3 && b[0] == 0 => received += b.len() - 1,
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        received
    };
    let (_sink, received) = tokio::join!(send, receive);
    received
}

fn report(name: &str, received: usize, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    let mb = received as f64 / 1e6;
    println!(
        "kubelet_port_forward/{name}: {:.1} MB/s ({mb:.0} MB in {secs:.2} s)",
        mb / secs
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let addr = start_kubelet(Arc::new(Echo)).await;

        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(connect_tls(addr).await))
                .await
                .unwrap();
        tokio::spawn(conn.with_upgrades());
        let req = http::Request::post("/portForward/default/web")
            .header("host", "127.0.0.1")
            .header("connection", "Upgrade")
            .header("upgrade", "SPDY/3.1")
            .header("x-stream-protocol-version", "portforward.k8s.io")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let res = sender.send_request(req).await.unwrap();
        assert_eq!(res.status(), 101);
        let io = TokioIo::new(hyper::upgrade::on(res).await.unwrap());
        let started = Instant::now();
        report("spdy_echo", spdy_echo(io).await, started);

        let ws = websocket(
            addr,
            "/portForward/default/web",
            "SPDY/3.1+portforward.k8s.io",
        )
        .await;
        let started = Instant::now();
        report(
            "spdy_in_websocket_echo",
            spdy_echo(bridge(ws)).await,
            started,
        );

        let ws = websocket(
            addr,
            "/portForward/default/web?port=80",
            "v4.channel.k8s.io",
        )
        .await;
        let started = Instant::now();
        report("websocket_v4_echo", v4_echo(ws).await, started);
    });
}
