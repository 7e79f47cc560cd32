//! Fault injection (409, 429, latency) and request counters.
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use vk_testing::FakeApiServer;

use super::crud::pod;

#[tokio::test]
async fn injected_conflicts_should_fail_the_next_writes_of_that_resource_only() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("web", None))
        .await
        .unwrap();
    server.knobs().conflict_next_writes("pods/status", 1);
    let patch = Patch::Merge(json!({"status": {"phase": "Running"}}));
    pods.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
    )
    .await
    .unwrap();
    let err = pods
        .patch_status("web", &PatchParams::default(), &patch)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err:?}"
    );
    pods.patch_status("web", &PatchParams::default(), &patch)
        .await
        .unwrap();
}

#[tokio::test]
async fn throttling_should_answer_429_with_retry_after() {
    let server = FakeApiServer::start().await;
    server.knobs().throttle_next_requests(1, 7);
    let resp = reqwest_like_get(&server, "/api/v1/namespaces/default/pods").await;
    assert_eq!(resp.0, 429);
    assert_eq!(resp.1.as_deref(), Some("7"));
    assert!(
        resp.2.contains("\"reason\":\"TooManyRequests\""),
        "{}",
        resp.2
    );
    let resp = reqwest_like_get(&server, "/api/v1/namespaces/default/pods").await;
    assert_eq!(resp.0, 200);
}

/// A raw GET with the admin token: (status, Retry-After, body).
async fn reqwest_like_get(server: &FakeApiServer, path: &str) -> (u16, Option<String>, String) {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::TokioIo;
    let stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header("authorization", format!("Bearer {}", server.admin_token()))
        .header("host", "fake")
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, retry, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn counters_should_count_requests_by_verb_and_resource() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("web", None))
        .await
        .unwrap();
    pods.get("web").await.unwrap();
    pods.list(&ListParams::default()).await.unwrap();
    pods.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {}})),
    )
    .await
    .unwrap();
    let c = server.counters();
    assert_eq!(c.get("create", "pods"), 1);
    assert_eq!(c.get("get", "pods"), 1);
    assert_eq!(c.get("list", "pods"), 1);
    assert_eq!(c.get("patch", "pods/status"), 1);
    assert_eq!(c.total("delete"), 0);
}
