//! Port-forward on in-memory connections: ports and negotiation, the WebSocket channel
//! protocol's framing, bad input, limits and the idle timeout, and SPDY tunnelled in
//! WebSocket binary messages (driven by the test kit's SPDY client).
use std::sync::{Arc, Mutex};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncWriteExt, DuplexStream, duplex};
use tokio::time::{Duration, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use tokio::io::AsyncReadExt;
use vk_core::stream::portforward::*;
use vk_core::stream::remotecommand::StreamingConfig;
use vk_core::stream::spdy::Headers;
use vk_testing::spdy_client::Client;

// === ports and negotiation ===

#[test]
fn ports_should_be_read_repeated_or_comma_separated() {
    assert_eq!(
        ports_from_query("port=8080&port=9090,53&other=1"),
        Ok(vec![8080, 9090, 53])
    );
}

#[test]
fn bad_port_queries_should_be_refused_with_a_reason() {
    for (query, reason) in [
        ("", "is required"),
        ("port=", "cannot be empty"),
        ("port=0", "unable to parse"),
        ("port=65536", "unable to parse"),
        ("port=http", "unable to parse"),
        ("port=1,,2", "unable to parse"),
    ] {
        let e = ports_from_query(query).unwrap_err();
        assert!(e.contains(reason), "{query}: {e}");
    }
    let many = vec!["port=1"; MAX_PORTS + 1].join("&");
    assert!(ports_from_query(&many).unwrap_err().contains("at most"));
    let enough = vec!["port=1"; MAX_PORTS].join("&");
    assert_eq!(ports_from_query(&enough).unwrap().len(), MAX_PORTS);
}

#[test]
fn the_client_order_should_win_negotiation() {
    assert_eq!(
        WebSocketProtocol::negotiate(["v4.base64.channel.k8s.io, SPDY/3.1+portforward.k8s.io"]),
        Some(WebSocketProtocol::V4Base64)
    );
    assert_eq!(
        WebSocketProtocol::negotiate(["SPDY/3.1+portforward.k8s.io"]),
        Some(WebSocketProtocol::SpdyTunnel)
    );
    assert_eq!(WebSocketProtocol::negotiate(["v5.channel.k8s.io"]), None);
}

// === the channel protocol ===

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

async fn next(ws: &mut WebSocketStream<DuplexStream>) -> Option<Message> {
    timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("the server answers")
        .and_then(Result::ok)
}

#[tokio::test]
async fn malformed_messages_should_be_ignored_and_data_still_forwarded() {
    let (a, b) = duplex(64 * 1024);
    let ports = Arc::new(Mutex::new(Vec::new()));
    let server = tokio::spawn(websocket::serve_websocket(
        a,
        false,
        vec![7000],
        StreamingConfig::default(),
        echo(ports.clone()),
    ));
    let mut ws = client(b).await;
    assert_eq!(
        next(&mut ws).await,
        Some(Message::binary(vec![0, 0x58, 0x1b]))
    );
    assert_eq!(
        next(&mut ws).await,
        Some(Message::binary(vec![1, 0x58, 0x1b]))
    );
    for bad in [
        Message::binary(Vec::new()),
        Message::text("0aGk="),
        Message::binary(vec![255, 1, 2]),
        Message::binary(vec![3, 1, 2]),
        Message::binary(vec![1, 1, 2]),
        Message::Ping(b"p".to_vec().into()),
    ] {
        ws.send(bad).await.unwrap();
    }
    ws.send(Message::binary(b"\x00ok".to_vec())).await.unwrap();
    loop {
        match next(&mut ws).await.expect("the echo") {
            Message::Pong(_) => {}
            m => {
                assert_eq!(m, Message::binary(b"\x00ok".to_vec()));
                break;
            }
        }
    }
    ws.close(None).await.unwrap();
    while next(&mut ws).await.is_some() {}
    timeout(Duration::from_secs(5), server)
        .await
        .expect("the session ends when the client closes")
        .unwrap()
        .unwrap();
    assert_eq!(*ports.lock().unwrap(), [7000]);
}

#[tokio::test]
async fn a_message_above_the_limit_should_end_the_session() {
    let (a, b) = duplex(64 * 1024);
    let mut config = StreamingConfig::default();
    config.session.max_frame_payload = 1024;
    let server = tokio::spawn(websocket::serve_websocket(
        a,
        false,
        vec![80],
        config,
        echo(Arc::default()),
    ));
    let mut ws = client(b).await;
    let mut big = vec![0u8; 4096];
    big[0] = 0;
    let _ = ws.send(Message::binary(big)).await;
    while next(&mut ws).await.is_some() {}
    timeout(Duration::from_secs(5), server)
        .await
        .expect("the session ends")
        .unwrap()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_idle_client_should_be_disconnected_after_the_idle_timeout() {
    let (a, b) = duplex(64 * 1024);
    let mut config = StreamingConfig::default();
    config.session.idle_timeout = Duration::from_secs(60);
    let started = tokio::time::Instant::now();
    let server = tokio::spawn(websocket::serve_websocket(
        a,
        true,
        vec![80, 81],
        config,
        echo(Arc::default()),
    ));
    let mut ws = client(b).await;
    // The ports, base64: "0" + base64([80, 0]) ...
    assert_eq!(next(&mut ws).await, Some(Message::text("0UAA=")));
    timeout(Duration::from_secs(600), server)
        .await
        .expect("the idle session ends")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(60));
}

#[tokio::test]
async fn too_many_ports_should_be_refused_before_any_message() {
    let (a, _b) = duplex(1024);
    let result = websocket::serve_websocket(
        a,
        false,
        vec![1; MAX_PORTS + 1],
        StreamingConfig::default(),
        echo(Arc::default()),
    )
    .await;
    assert!(matches!(result, Err(vk_core::stream::Error::Protocol(_))));
}

// === SPDY tunnelled in WebSocket ===

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
