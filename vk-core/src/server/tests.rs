//! Router tests through `tower::ServiceExt::oneshot`, without a socket.
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::{Body, to_bytes};
use bytes::Bytes;
use http::{Request, StatusCode};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus};
use kube::api::ObjectMeta;
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;

use super::*;
use crate::provider::{
    ContainerStats, ExecIo, LogOptions, LogStream, PodKey, PodResources, PodStats, Provider,
    ProviderPod, Result as ProviderResult,
};

struct Pods(HashMap<PodKey, Arc<Pod>>);

impl PodLookup for Pods {
    fn get(&self, key: &PodKey) -> Option<Arc<Pod>> {
        self.0.get(key).cloned()
    }
    fn list(&self) -> Vec<Arc<Pod>> {
        self.0.values().cloned().collect()
    }
}

struct TestProvider;

#[async_trait]
impl Provider for TestProvider {
    fn name(&self) -> &str {
        "test"
    }
    async fn create_pod(&self, _: &Pod, _: &PodResources) -> ProviderResult<()> {
        Ok(())
    }
    async fn update_pod(&self, _: &Pod, _: &PodResources) -> ProviderResult<()> {
        Ok(())
    }
    async fn delete_pod(&self, _: &Pod) -> ProviderResult<()> {
        Ok(())
    }
    async fn pod_status(&self, _: &PodKey) -> ProviderResult<Option<PodStatus>> {
        Ok(None)
    }
    async fn list_pods(&self) -> ProviderResult<Vec<ProviderPod>> {
        Ok(vec![])
    }
    async fn logs(&self, _: &PodKey, _: &str, opts: &LogOptions) -> ProviderResult<LogStream> {
        let lines = ["one\n", "two\n", "three\n"];
        let skip = opts
            .tail_lines
            .map_or(0, |n| lines.len().saturating_sub(n as usize));
        Ok(Box::pin(futures::stream::iter(
            lines[skip..]
                .iter()
                .map(|l| Ok(Bytes::from_static(l.as_bytes())))
                .collect::<Vec<_>>(),
        )))
    }
    async fn exec(
        &self,
        _: &PodKey,
        _: &str,
        command: &[String],
        mut io: ExecIo,
    ) -> ProviderResult<i32> {
        if let Some(out) = io.stdout.as_mut() {
            out.write_all(command.join(" ").as_bytes()).await.ok();
        }
        Ok(0)
    }
    async fn stats(&self) -> ProviderResult<Vec<PodStats>> {
        Ok(vec![PodStats {
            key: PodKey::new("default", "web"),
            containers: vec![ContainerStats {
                name: "c".into(),
                cpu_usage_core_nano_seconds: Some(1_000_000_000),
                memory_working_set_bytes: Some(10),
                ..ContainerStats::default()
            }],
            ..PodStats::default()
        }])
    }
}

fn pod(name: &str, node: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.into()),
            containers: vec![Container {
                name: "c".into(),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

fn app(mode: AuthorizationMode) -> Router {
    let pods = [pod("web", "vk"), pod("elsewhere", "other-node")]
        .into_iter()
        .map(|p| (PodKey::of(&p), Arc::new(p)))
        .collect();
    let auth = Auth::new(
        AuthConfig {
            authorization: mode,
            ..AuthConfig::default()
        },
        None,
    );
    router(ServerState::new(
        "vk",
        Arc::new(TestProvider),
        Arc::new(Pods(pods)),
        Arc::new(auth),
    ))
}

/// A request as the API server makes it: with its verified client certificate.
fn as_apiserver(method: &str, uri: &str) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(ClientCertUser(UserInfo {
        username: "kube-apiserver-kubelet-client".into(),
        groups: vec!["system:masters".into()],
        ..UserInfo::default()
    }));
    req
}

async fn call(req: Request<Body>) -> (StatusCode, String) {
    let res = app(AuthorizationMode::AlwaysAllow)
        .oneshot(req)
        .await
        .unwrap();
    let status = res.status();
    let body = to_bytes(res.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn status_reason(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["kind"], "Status");
    v["reason"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_request_without_credentials_should_be_refused() {
    for uri in ["/exec/default/web/c?command=ls&output=1", "/pods", "/nope"] {
        let req = Request::builder()
            .method("POST")
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let (status, body) = call(req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(status_reason(&body), "Unauthorized");
    }
}

#[tokio::test]
async fn webhook_authorization_without_an_api_server_should_forbid() {
    let res = app(AuthorizationMode::Webhook)
        .oneshot(as_apiserver("GET", "/pods"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logs_should_stream_with_tail_lines() {
    let (status, body) = call(as_apiserver(
        "GET",
        "/containerLogs/default/web/c?tailLines=2&follow=true",
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "two\nthree\n");
    let (_, body) = call(as_apiserver(
        "GET",
        "/containerLogs/default/web/c?limitBytes=5",
    ))
    .await;
    assert_eq!(body, "one\nt");
}

#[tokio::test]
async fn unknown_pods_and_containers_should_be_404_with_a_status() {
    for uri in [
        "/containerLogs/default/missing/c",
        "/containerLogs/default/web/missing",
        "/containerLogs/default/elsewhere/c",
        "/exec/default/missing/c?command=ls&output=1",
    ] {
        let (status, body) = call(as_apiserver("GET", uri)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(status_reason(&body), "NotFound");
    }
}

#[tokio::test]
async fn exec_without_an_upgrade_should_be_a_bad_request() {
    let (status, body) = call(as_apiserver(
        "POST",
        "/exec/default/web/c?command=ls&output=1",
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("upgrade request required"));
    let (status, body) = call(as_apiserver("POST", "/exec/default/web/c?command=ls")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("at least 1 of stdin, stdout, stderr"));
}

#[tokio::test]
async fn exec_with_no_common_protocol_should_be_forbidden_with_the_accepted_list() {
    let mut req = as_apiserver("POST", "/exec/default/web/c?command=ls&output=1");
    req.headers_mut()
        .insert("upgrade", http::HeaderValue::from_static("SPDY/3.1"));
    req.headers_mut().insert(
        "x-stream-protocol-version",
        http::HeaderValue::from_static("v9.channel.k8s.io"),
    );
    let res = app(AuthorizationMode::AlwaysAllow)
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers()
            .get_all("x-accepted-stream-protocol-versions")
            .iter()
            .count(),
        5
    );
}

#[tokio::test]
async fn port_forward_should_be_refused_with_a_clear_status() {
    let (status, body) = call(as_apiserver("POST", "/portForward/default/web")).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert!(body.contains("port-forward is not supported"));
}

#[tokio::test]
async fn run_should_return_the_output() {
    let (status, body) = call(as_apiserver(
        "POST",
        "/run/default/web/c?cmd=echo+hello+world",
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "echo hello world");
}

#[tokio::test]
async fn pods_should_list_only_this_nodes_pods() {
    let (status, body) = call(as_apiserver("GET", "/pods")).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["kind"], "PodList");
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["metadata"]["name"], "web");
}

#[tokio::test]
async fn health_stats_and_metrics_should_answer() {
    assert_eq!(call(as_apiserver("GET", "/healthz")).await.1, "ok");
    let (status, body) = call(as_apiserver("GET", "/metrics/resource")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(
        "container_cpu_usage_seconds_total{container=\"c\",namespace=\"default\",pod=\"web\"} 1 "
    ));
    let (status, body) = call(as_apiserver("GET", "/stats/summary")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"nodeName\":\"vk\""));
    let (status, body) = call(as_apiserver("GET", "/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.ends_with("# EOF\n"));
}
