//! The kubelet proxy: query translation, protocol upgrades spliced through, node proxy.
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Duration, timeout};
use vk_testing::FakeApiServer;

use super::crud::pod;
use super::kubelet_stub::{create_node, test_kubelet};

const PATIENCE: Duration = Duration::from_secs(10);

async fn send(
    server: &FakeApiServer,
    req: http::Request<Empty<Bytes>>,
) -> http::Response<hyper::body::Incoming> {
    let stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    timeout(PATIENCE, sender.send_request(req))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn an_exec_upgrade_should_be_translated_and_spliced_to_the_kubelet() {
    let server = FakeApiServer::start().await;
    let (port, seen) = test_kubelet(&server).await;
    create_node(&server, "vk", port).await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("web", Some("vk")))
        .await
        .unwrap();

    let req = http::Request::post(
        "/api/v1/namespaces/default/pods/web/exec?command=echo&command=big+world&container=c&stdin=true&stdout=true&stderr=true&tty=false",
    )
    .header("host", "fake")
    .header("authorization", format!("Bearer {}", server.admin_token()))
    .header("connection", "Upgrade")
    .header("upgrade", "SPDY/3.1")
    .header("x-stream-protocol-version", "v4.channel.k8s.io")
    .body(Empty::<Bytes>::new())
    .unwrap();
    let mut resp = send(&server, req).await;
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.headers()["upgrade"], "SPDY/3.1");
    assert_eq!(
        resp.headers()["x-stream-protocol-version"],
        "v4.channel.k8s.io"
    );
    let upgraded = timeout(PATIENCE, hyper::upgrade::on(&mut resp))
        .await
        .unwrap()
        .unwrap();
    let mut io = TokioIo::new(upgraded);
    io.write_all(b"frames both ways").await.unwrap();
    let mut buf = [0u8; 16];
    timeout(PATIENCE, io.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"frames both ways");

    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(
        seen[0].0,
        "/exec/default/web/c?command=echo&command=big+world&input=1&output=1&error=1"
    );
}

#[tokio::test]
async fn node_proxy_should_forward_the_path_and_pass_errors_back() {
    let server = FakeApiServer::start().await;
    let (port, _) = test_kubelet(&server).await;
    create_node(&server, "vk", port).await;
    let client = server.client();
    let summary: serde_json::Value = client
        .request(
            http::Request::get("/api/v1/nodes/vk/proxy/stats/summary")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(summary["node"]["nodeName"], "vk");

    let req = http::Request::get("/api/v1/nodes/vk/proxy/nope")
        .header("host", "fake")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = send(&server, req).await;
    assert_eq!(resp.status(), 404);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"not found\n");
}

#[tokio::test]
async fn logs_of_an_unbound_pod_or_an_unreachable_kubelet_should_be_status_errors() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("unbound", None))
        .await
        .unwrap();
    let err = pods.logs("unbound", &Default::default()).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 400),
        "{err:?}"
    );

    // A node whose kubelet port has nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap().port();
    drop(listener);
    create_node(&server, "gone", dead).await;
    pods.create(&PostParams::default(), &pod("web", Some("gone")))
        .await
        .unwrap();
    let err = pods.logs("web", &Default::default()).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 500 && s.message.contains("error dialing backend")),
        "{err:?}"
    );
}

#[tokio::test]
async fn following_logs_should_stream_through_the_proxy() {
    use futures::AsyncBufReadExt;
    let server = FakeApiServer::start().await;
    let (port, _) = test_kubelet(&server).await;
    create_node(&server, "vk", port).await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("web", Some("vk")))
        .await
        .unwrap();
    let params = kube::api::LogParams {
        follow: true,
        ..Default::default()
    };
    let mut lines = pods.log_stream("web", &params).await.unwrap().lines();
    let first = timeout(PATIENCE, futures::StreamExt::next(&mut lines))
        .await
        .expect("the first line did not arrive while the body is still open")
        .unwrap()
        .unwrap();
    assert_eq!(first, "following");
}
