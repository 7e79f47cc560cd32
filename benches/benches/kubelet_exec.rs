//! Kubelet API exec: stdin -> stdout echo throughput (MB/s) over TLS + SPDY/3.1 +
//! remotecommand v4, and connection setup time (TCP + TLS + upgrade + streams).
//!
//! Run with `cargo bench -p vk-benches --bench kubelet_exec`.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;
use vk_benches::{Echo, connect_tls, start_kubelet};
use vk_core::stream::spdy::Headers;
use vk_core::stream::spdy::frame::Frame;
use vk_testing::spdy_client::{Client, Received};

type Io = TokioIo<hyper::upgrade::Upgraded>;

/// Connect, upgrade and open the exec streams; returns the client and the stream ids.
async fn connect(addr: SocketAddr) -> (Client<Io>, u32, u32) {
    let tls = connect_tls(addr).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    let req = http::Request::post("/exec/default/web/c?command=cat&input=1&output=1&error=1")
        .header("host", "127.0.0.1")
        .header("connection", "Upgrade")
        .header("upgrade", "SPDY/3.1")
        .header("x-stream-protocol-version", "v4.channel.k8s.io")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), 101);
    let mut client = Client::new(TokioIo::new(hyper::upgrade::on(res).await.unwrap()));
    let mut ids = HashMap::new();
    for t in ["error", "stdin", "stdout", "stderr"] {
        let mut h = Headers::default();
        h.push("streamtype", t);
        ids.insert(t, client.open(&h, t != "stdin").await.unwrap());
    }
    let mut replies = 0;
    while replies < 4 {
        if let Some(Received::Reply(..)) = client.recv().await.unwrap() {
            replies += 1;
        }
    }
    (client, ids["stdin"], ids["stdout"])
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let addr = start_kubelet(Arc::new(Echo)).await;

        let rounds = 50u32;
        let started = Instant::now();
        for _ in 0..rounds {
            let (client, ..) = connect(addr).await;
            drop(client);
        }
        let setup = started.elapsed() / rounds;
        println!("kubelet_exec/connection_setup: {:.2} ms per exec (TCP + TLS + SPDY upgrade + 4 streams)", setup.as_secs_f64() * 1e3);

        let (mut client, stdin, stdout) = connect(addr).await;
        let chunk = vec![0x5a_u8; 32 * 1024];
        let total: usize = 64 * 1024 * 1024;
        let started = Instant::now();
        let mut sent = 0usize;
        let mut received = 0usize;
        while received < total {
            if sent < total && sent - received < 512 * 1024 {
                client.data(stdin, &chunk, false).await.unwrap();
                sent += chunk.len();
                continue;
            }
            match client.recv().await.unwrap() {
                Some(Received::Frame(Frame::Data { stream_id, data, .. })) if stream_id == stdout => {
                    received += data.len();
                }
                Some(_) => {}
                None => break,
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let mb = received as f64 / 1e6;
        println!("kubelet_exec/stdin_to_stdout_echo: {:.1} MB/s ({mb:.0} MB in {secs:.2} s)", mb / secs);
    });
}
