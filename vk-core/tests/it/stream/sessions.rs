//! Session and remotecommand tests over in-memory connections.
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
use tokio::time::{Duration, timeout};

use vk_core::provider::ProviderError;
use vk_core::stream::remotecommand::{
    Protocol, Runner, StreamOptions, StreamingConfig, serve_spdy,
};
use vk_core::stream::spdy::frame::{FLAG_FIN, Frame, rst};
use vk_core::stream::spdy::{Headers, Session, SessionConfig};
use vk_testing::spdy_client::{Client, Received};

fn stream_type(t: &str) -> Headers {
    let mut h = Headers::default();
    h.push("streamtype", t);
    h
}

#[tokio::test]
async fn session_should_reply_to_streams_and_pings_and_carry_data() {
    let (a, b) = duplex(64 * 1024);
    let mut session = Session::start(a, SessionConfig::default());
    let mut client = Client::new(b);
    let id = client.open(&stream_type("stdin"), false).await.unwrap();
    client.send(&Frame::Ping { id: 1 }).await.unwrap();
    client.data(id, b"hello", true).await.unwrap();

    let mut stream = timeout(Duration::from_secs(5), session.accept())
        .await
        .expect("stream accepted")
        .unwrap();
    assert_eq!(stream.headers.get("streamType"), Some("stdin"));
    let mut got = String::new();
    stream.reader.read_to_string(&mut got).await.unwrap();
    assert_eq!(got, "hello");
    stream.writer.write_all(b"back").await.unwrap();
    stream.writer.shutdown().await.unwrap();

    assert_eq!(
        client.recv().await.unwrap(),
        Some(Received::Reply(id, Headers::default()))
    );
    assert_eq!(
        client.recv().await.unwrap(),
        Some(Received::Frame(Frame::Ping { id: 1 }))
    );
    assert!(matches!(
        client.recv().await.unwrap(),
        Some(Received::Frame(Frame::Data { data, flags: 0, .. })) if &data[..] == b"back"
    ));
    assert!(matches!(
        client.recv().await.unwrap(),
        Some(Received::Frame(Frame::Data {
            flags: FLAG_FIN,
            ..
        }))
    ));
}

#[tokio::test]
async fn streams_beyond_the_cap_should_be_refused() {
    let (a, b) = duplex(64 * 1024);
    let config = SessionConfig {
        max_streams: 2,
        ..SessionConfig::default()
    };
    let mut session = Session::start(a, config);
    let mut client = Client::new(b);
    for _ in 0..3 {
        client.open(&stream_type("stdin"), false).await.unwrap();
    }
    let mut refused = None;
    for _ in 0..3 {
        if let Some(Received::Frame(Frame::RstStream { stream_id, status })) =
            client.recv().await.unwrap()
        {
            refused = Some((stream_id, status));
        }
    }
    assert_eq!(refused, Some((5, rst::REFUSED_STREAM)));
    assert!(session.accept().await.is_some());
}

#[tokio::test]
async fn an_oversized_frame_should_end_the_session_with_goaway() {
    let (a, mut b) = duplex(64 * 1024);
    let config = SessionConfig {
        max_frame_payload: 1024,
        ..SessionConfig::default()
    };
    let mut session = Session::start(a, config);
    b.write_all(&[0, 0, 0, 1, 0, 0x01, 0, 0]).await.unwrap();
    assert!(session.accept().await.is_none());
    let mut client = Client::new(b);
    assert!(matches!(
        client.recv().await.unwrap(),
        Some(Received::Frame(Frame::GoAway { status: 1, .. }))
    ));
}

#[tokio::test(start_paused = true)]
async fn an_idle_session_should_end() {
    let (a, _b) = duplex(1024);
    let config = SessionConfig {
        idle_timeout: Duration::from_secs(10),
        ..SessionConfig::default()
    };
    let mut session = Session::start(a, config);
    timeout(Duration::from_secs(11), session.accept())
        .await
        .expect("the idle timeout ends the session");
}

fn echo_runner() -> Runner {
    Box::new(|mut io| {
        Box::pin(async move {
            let mut input = Vec::new();
            if let Some(stdin) = io.stdin.as_mut() {
                stdin.read_to_end(&mut input).await.ok();
            }
            if let Some(out) = io.stdout.as_mut() {
                out.write_all(&input).await.ok();
            }
            if let Some(err) = io.stderr.as_mut() {
                err.write_all(b"to stderr").await.ok();
            }
            Ok::<_, ProviderError>(7)
        })
    })
}

#[tokio::test]
async fn exec_over_v4_should_echo_stdin_and_report_the_exit_code() {
    let (a, b) = duplex(64 * 1024);
    let options = StreamOptions::from_query("input=1&output=1&error=1&command=cat");
    let server = tokio::spawn(serve_spdy(
        a,
        Protocol::V4,
        options,
        StreamingConfig::default(),
        echo_runner(),
    ));
    let mut client = Client::new(b);
    let error = client.open(&stream_type("error"), true).await.unwrap();
    let stdin = client.open(&stream_type("stdin"), false).await.unwrap();
    let stdout = client.open(&stream_type("stdout"), true).await.unwrap();
    let stderr = client.open(&stream_type("stderr"), true).await.unwrap();
    client.data(stdin, b"ping", true).await.unwrap();

    let out = timeout(
        Duration::from_secs(5),
        client.data_until_fin(&[error, stdout, stderr]),
    )
    .await
    .expect("frames arrive")
    .unwrap();
    assert_eq!(out[&stdout], b"ping");
    assert_eq!(out[&stderr], b"to stderr");
    let status: serde_json::Value = serde_json::from_slice(&out[&error]).unwrap();
    assert_eq!(status["details"]["causes"][0]["message"], "7");
    drop(client);
    timeout(Duration::from_secs(10), server)
        .await
        .expect("server ends once the client closes")
        .unwrap()
        .unwrap();
}

fn pf_headers(kind: &str, port: &str, request: &str) -> Headers {
    let mut h = Headers::default();
    h.push("streamtype", kind);
    h.push("port", port);
    h.push("requestid", request);
    h
}

#[tokio::test]
async fn port_forward_should_pair_streams_and_report_provider_errors() {
    use std::sync::Arc;

    use vk_core::stream::portforward::{Forwarder, serve_spdy as serve_port_forward};

    let (a, b) = duplex(64 * 1024);
    let forward: Forwarder = Arc::new(|port, mut io| {
        Box::pin(async move {
            if port != 80 {
                return Err(ProviderError::unsupported(format!(
                    "nothing listens on {port}"
                )));
            }
            let mut buf = [0u8; 4];
            io.read_exact(&mut buf)
                .await
                .map_err(|e| ProviderError::Other(e.into()))?;
            io.write_all(&buf)
                .await
                .map_err(|e| ProviderError::Other(e.into()))?;
            Ok(())
        })
    });
    let server = tokio::spawn(serve_port_forward(a, StreamingConfig::default(), forward));
    let mut client = Client::new(b);
    let err80 = client
        .open(&pf_headers("error", "80", "0"), true)
        .await
        .unwrap();
    let data80 = client
        .open(&pf_headers("data", "80", "0"), false)
        .await
        .unwrap();
    let err81 = client
        .open(&pf_headers("error", "81", "1"), true)
        .await
        .unwrap();
    client
        .open(&pf_headers("data", "81", "1"), false)
        .await
        .unwrap();
    client.data(data80, b"ping", false).await.unwrap();
    let out = timeout(
        Duration::from_secs(5),
        client.data_until_fin(&[data80, err80, err81]),
    )
    .await
    .expect("frames arrive")
    .unwrap();
    assert_eq!(out[&data80], b"ping");
    assert!(out.get(&err80).is_none_or(Vec::is_empty));
    assert!(String::from_utf8_lossy(&out[&err81]).contains("nothing listens on 81"));
    drop(client);
    timeout(Duration::from_secs(5), server)
        .await
        .expect("the session ends with the connection")
        .unwrap()
        .unwrap();
}
