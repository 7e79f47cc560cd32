//! Real kubectl (1.33 and 1.27) against the fake: get, apply, delete, watch, and logs
//! through the proxy to a tiny test kubelet that checks the API server's client
//! certificate.
use std::path::Path;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::{Duration, timeout};
use vk_testing::FakeApiServer;
use vk_testing::kubectl::kubectl_path;

use super::kubelet_stub::{create_node, test_kubelet};

const PATIENCE: Duration = Duration::from_secs(60);

/// Run kubectl to completion: (success, stdout, stderr).
pub(crate) async fn kubectl(
    version: &str,
    kubeconfig: &Path,
    args: &[&str],
) -> (bool, String, String) {
    let out = timeout(
        PATIENCE,
        Command::new(kubectl_path(version))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("kubectl hung")
    .expect("kubectl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn ok(version: &str, kubeconfig: &Path, args: &[&str]) -> String {
    let (success, out, err) = kubectl(version, kubeconfig, args).await;
    assert!(success, "kubectl {version} {args:?} failed: {err}\n{out}");
    out
}

const MANIFEST: &str = r"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 2
  selector:
    matchLabels: {app: hello}
  template:
    metadata:
      labels: {app: hello}
    spec:
      containers:
      - name: c
        image: nginx:1.27
---
apiVersion: v1
kind: Pod
metadata:
  name: p1
spec:
  containers:
  - name: c
    image: busybox
";

async fn get_apply_delete(version: &str) {
    let server = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).unwrap();
    let manifest = dir.path().join("app.yaml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    create_node(&server, "vk", 10250).await;

    let out = ok(version, &kc, &["get", "nodes", "-o", "wide"]).await;
    assert!(
        out.contains("vk") && out.contains("Ready") && out.contains("127.0.0.1"),
        "{out}"
    );

    let out = ok(version, &kc, &["apply", "-f", manifest.to_str().unwrap()]).await;
    assert!(
        out.contains("deployment.apps/hello created") && out.contains("pod/p1 created"),
        "{out}"
    );
    let out = ok(version, &kc, &["apply", "-f", manifest.to_str().unwrap()]).await;
    assert!(out.contains("unchanged"), "{out}");

    let out = ok(version, &kc, &["get", "pods", "-o", "wide"]).await;
    assert!(out.contains("p1") && out.contains("Pending"), "{out}");
    let out = ok(version, &kc, &["get", "deployments"]).await;
    assert!(out.contains("hello"), "{out}");

    let out = ok(version, &kc, &["delete", "pod", "p1"]).await;
    assert!(out.contains("deleted"), "{out}");
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    assert!(pods.get_opt("p1").await.unwrap().is_none());
}

#[tokio::test]
async fn kubectl_1_33_should_get_apply_and_delete() {
    get_apply_delete("1.33").await;
}

#[tokio::test]
async fn kubectl_1_27_should_get_apply_and_delete() {
    get_apply_delete("1.27").await;
}

#[tokio::test]
async fn kubectl_get_pods_watch_should_print_a_new_pod() {
    let server = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).unwrap();
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &super::crud::pod("first", None))
        .await
        .unwrap();

    let mut child = Command::new(kubectl_path("1.33"))
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["get", "pods", "-w"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    timeout(PATIENCE, async {
        while let Some(l) = lines.next_line().await.unwrap() {
            let first = l.starts_with("first");
            seen.push(l);
            if first {
                break;
            }
        }
    })
    .await
    .expect("kubectl -w printed no initial list");
    pods.create(&PostParams::default(), &super::crud::pod("second", None))
        .await
        .unwrap();
    timeout(PATIENCE, async {
        while let Some(l) = lines.next_line().await.unwrap() {
            let second = l.starts_with("second");
            seen.push(l);
            if second {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("kubectl -w did not print the new pod: {seen:?}"));
    assert!(seen[0].starts_with("NAME"), "{seen:?}");
    child.kill().await.unwrap();
}

async fn logs_through_proxy(version: &str) {
    let server = FakeApiServer::start().await;
    let (port, seen) = test_kubelet(&server).await;
    create_node(&server, "vk", port).await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &super::crud::pod("web", Some("vk")))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kc).unwrap();

    let out = ok(version, &kc, &["logs", "web", "--tail=5", "--timestamps"]).await;
    assert_eq!(out, "hello from the kubelet\nsecond line\n");
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (target, cn_ok) = &seen[0];
    assert!(
        target.starts_with("/containerLogs/default/web/c?"),
        "{target}"
    );
    assert!(
        target.contains("tailLines=5") && target.contains("timestamps=true"),
        "{target}"
    );
    assert!(!target.contains("container="), "{target}");
    assert!(cn_ok, "the proxy presents the kubelet client certificate");
}

#[tokio::test]
async fn kubectl_1_33_logs_should_reach_the_kubelet_through_the_proxy() {
    logs_through_proxy("1.33").await;
}

#[tokio::test]
async fn kubectl_1_27_logs_should_reach_the_kubelet_through_the_proxy() {
    logs_through_proxy("1.27").await;
}
