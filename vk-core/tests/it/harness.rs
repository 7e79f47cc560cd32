//! `vk_testing::harness` itself, around `vk_testing::MockProvider`.
use std::sync::Arc;

use futures::FutureExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use tokio::time::Duration;
use vk_testing::MockProvider;
use vk_testing::harness::{Harness, pod};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_should_run_a_pod_from_a_manifest_to_its_deletion() {
    let provider = MockProvider::new();
    let h = Harness::builder()
        .node_name("harness-node")
        .start(Arc::new(provider.clone()))
        .await
        .expect("the harness starts");

    // The Node advertises the kubelet the harness started.
    let nodes: Api<Node> = Api::all(h.client());
    let node = nodes.get("harness-node").await.expect("the node exists");
    let status = node.status.expect("a node status");
    let endpoint = status.daemon_endpoints.and_then(|d| d.kubelet_endpoint);
    assert_eq!(
        endpoint.map(|e| e.port),
        Some(i32::from(h.kubelet_addr().port()))
    );

    // JSON is YAML too; the pod is bound to the node whatever the manifest says.
    let manifest = r#"{"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}"#;
    let created = h.create_pod_yaml(manifest).await;
    let spec = created.spec.expect("a spec");
    assert_eq!(spec.node_name.as_deref(), Some("harness-node"));
    h.wait_for_phase("default/web", "Running").await;
    h.wait_for_condition("web", "Ready").await;
    assert!(
        provider
            .pods()
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some("web"))
    );

    // kubectl reaches the provider through the fake's kubelet proxy.
    let logs = h.kubectl("1.33").ok(&["logs", "web", "--tail=1"]).await;
    assert!(logs.starts_with("mock log line"), "{logs}");
    assert!(logs.ends_with("from default/web/c\n"), "{logs}");

    h.delete_pod("web").await;
    assert!(provider.pods().is_empty(), "the provider deleted the pod");
    h.shutdown().await.expect("the node stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_wait_should_fail_with_the_pods_last_status() {
    let mut h = Harness::start(Arc::new(MockProvider::new())).await;
    h.create_pod(pod("forever", &["sleep", "infinity"])).await;
    h.wait_for_phase("forever", "Running").await;
    h.set_patience(Duration::from_secs(3));

    let waited = std::panic::AssertUnwindSafe(h.wait_for_phase("forever", "Succeeded"))
        .catch_unwind()
        .await;
    let panic = waited.expect_err("a running pod never succeeds");
    let message = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(
        message.contains("pod default/forever did not reach phase Succeeded within 3s"),
        "{message}"
    );
    assert!(message.contains("phase: Running"), "{message}");
    h.shutdown().await.expect("the node stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_with_controllers_should_run_a_deployment_on_its_node() {
    let h = Harness::builder()
        .controllers(true)
        .start(Arc::new(MockProvider::new()))
        .await
        .expect("the harness starts");
    // The scheduler places the pods: they tolerate the node's taint.
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "c", "image": "nginx"}],
                    "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
                },
            },
        },
    }))
    .expect("a deployment");
    let deployments: Api<Deployment> = Api::namespaced(h.client(), "default");
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("the deployment is created");
    let ready =
        |d: Option<&Deployment>| d.and_then(|d| d.status.as_ref()?.ready_replicas) == Some(2);
    tokio::time::timeout(h.patience(), await_condition(deployments, "web", ready))
        .await
        .expect("both replicas become ready in time")
        .expect("the deployment is watched");
    let pods = h
        .pods("default")
        .list(&ListParams::default().labels("app=web"))
        .await;
    for pod in pods.expect("pods are listed") {
        let node = pod.spec.and_then(|s| s.node_name);
        assert_eq!(node.as_deref(), Some(h.node_name()));
    }
    h.shutdown().await.expect("the node stops cleanly");
}
