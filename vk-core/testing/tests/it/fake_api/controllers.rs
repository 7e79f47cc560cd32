//! The optional controllers: Deployment -> ReplicaSet -> Pods, and the scheduler.
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::time::{Duration, sleep, timeout};
use vk_testing::FakeApiServer;

const PATIENCE: Duration = Duration::from_secs(10);

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    timeout(PATIENCE, async {
        while !f().await {
            sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never happened: {what}"));
}

async fn virtual_node(server: &FakeApiServer) {
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": "vk", "labels": {"type": "virtual-kubelet"}},
        "spec": {"taints": [{"key": "virtual-kubelet.io/provider", "value": "mock", "effect": "NoSchedule"}]},
    }))
    .unwrap();
    let nodes: Api<Node> = Api::all(server.client());
    nodes.create(&PostParams::default(), &node).await.unwrap();
    nodes
        .patch_status(
            "vk",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_deployment_should_become_a_replica_set_and_pods_bound_to_the_virtual_node() {
    let server = FakeApiServer::builder()
        .controllers(true)
        .start()
        .await
        .unwrap();
    virtual_node(&server).await;
    let client = server.client();
    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let dep: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "hello"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "hello"}},
            "template": {
                "metadata": {"labels": {"app": "hello"}},
                "spec": {
                    "nodeSelector": {"type": "virtual-kubelet"},
                    "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
                    "containers": [{"name": "c", "image": "nginx"}],
                },
            },
        },
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &dep)
        .await
        .unwrap();

    let bound = || async {
        pods.list(&ListParams::default().labels("app=hello"))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("vk"))
            .count()
    };
    eventually("two pods bound to vk", || async { bound().await == 2 }).await;

    let rs = Api::<ReplicaSet>::default_namespaced(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(rs.len(), 1);
    let hash = rs[0].metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    let pod = &pods
        .list(&ListParams::default().labels("app=hello"))
        .await
        .unwrap()
        .items[0];
    assert_eq!(
        pod.metadata.labels.as_ref().unwrap()["pod-template-hash"],
        hash
    );
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("ReplicaSet", rs[0].metadata.name.as_deref().unwrap())
    );

    // Scale down: one pod is deleted gracefully (it is bound, so it stays terminating).
    deployments
        .patch(
            "hello",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    eventually("one pod terminating", || async {
        pods.list(&ListParams::default().labels("app=hello"))
            .await
            .unwrap()
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_some())
            .count()
            == 1
    })
    .await;
    assert_eq!(bound().await, 1);
}

#[tokio::test]
async fn the_scheduler_should_leave_pods_that_do_not_tolerate_the_taint_pending() {
    let server = FakeApiServer::builder()
        .controllers(true)
        .start()
        .await
        .unwrap();
    virtual_node(&server).await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let mut tolerant = super::crud::pod("tolerant", None);
    tolerant.spec.as_mut().unwrap().tolerations = Some(vec![
        serde_json::from_value(json!({"key": "virtual-kubelet.io/provider", "operator": "Exists"}))
            .unwrap(),
    ]);
    pods.create(&PostParams::default(), &tolerant)
        .await
        .unwrap();
    pods.create(
        &PostParams::default(),
        &super::crud::pod("intolerant", None),
    )
    .await
    .unwrap();
    eventually("the tolerant pod is bound", || async {
        pods.get("tolerant")
            .await
            .unwrap()
            .spec
            .unwrap()
            .node_name
            .as_deref()
            == Some("vk")
    })
    .await;
    let intolerant = pods.get("intolerant").await.unwrap();
    assert_eq!(intolerant.spec.unwrap().node_name, None);
}
