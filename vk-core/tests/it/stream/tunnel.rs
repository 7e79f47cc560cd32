//! Port-forward's SPDY tunnelled in WebSocket binary messages, driven by the test kit's SPDY
//! client over in-memory connections.
use std::sync::{Arc, Mutex};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::{Duration, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use vk_core::stream::portforward::{Forwarder, tunnel};
use vk_core::stream::remotecommand::StreamingConfig;
use vk_core::stream::spdy::Headers;
use vk_testing::spdy_client::Client;

/// Echoes every connection and records the ports it was asked for.
fn echo(ports: Arc<Mutex<Vec<u16>>>) -> Forwarder {
    Arc::new(move |port, io| {
        ports.lock().unwrap().push(port);
        Box::pin(async move {
            let (mut r, mut w) = tokio::io::split(io);
            let _ = tokio::io::copy(&mut r, &mut w).await;
            let _ = w.shutdown().await;
            Ok(())
        })
    })
}

async fn client(io: DuplexStream) -> WebSocketStream<DuplexStream> {
    WebSocketStream::from_raw_socket(io, Role::Client, None).await
}

/// A byte stream for the SPDY client, carried in the WebSocket's binary messages.
fn bridge(ws: WebSocketStream<DuplexStream>) -> DuplexStream {
    let (ours, theirs) = duplex(64 * 1024);
    let (mut from_client, mut to_client) = tokio::io::split(ours);
    let (mut sink, mut source) = ws.split();
    tokio::spawn(async move {
        // A text message first: the server ignores it.
        let _ = sink.send(Message::text("ignored")).await;
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = from_client.read(&mut buf).await {
            if n == 0 || sink.send(Message::binary(buf[..n].to_vec())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
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

fn pf_headers(kind: &str, port: &str) -> Headers {
    let mut h = Headers::default();
    h.push("streamtype", kind);
    h.push("port", port);
    h.push("requestid", "0");
    h
}

#[tokio::test]
async fn spdy_in_websocket_should_forward_like_spdy() {
    let (a, b) = duplex(64 * 1024);
    let ports = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn(tunnel::serve_tunnel(
        a,
        StreamingConfig::default(),
        echo(ports.clone()),
    ));
    let mut spdy = Client::new(bridge(client(b).await));
    spdy.open(&pf_headers("error", "8080"), true).await.unwrap();
    let data = spdy.open(&pf_headers("data", "8080"), false).await.unwrap();
    spdy.data(data, b"tunnelled", true).await.unwrap();
    let echoed = timeout(Duration::from_secs(5), spdy.data_until_fin(&[data]))
        .await
        .expect("frames arrive")
        .unwrap();
    assert_eq!(echoed[&data], b"tunnelled");
    assert_eq!(*ports.lock().unwrap(), [8080]);
    drop(spdy);
    timeout(Duration::from_secs(5), server)
        .await
        .expect("the session ends with the WebSocket")
        .unwrap()
        .unwrap();
}
