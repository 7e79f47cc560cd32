//! Node registration, conditions, the Lease, shutdown.
use std::sync::Arc;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use vk_testing::FakeApiServer;

use super::harness::{NODE, TestProvider, builder, eventually, start};

fn condition(node: &Node, type_: &str) -> Option<String> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

#[tokio::test]
async fn node_should_register_ready_with_labels_taint_and_a_renewing_lease() {
    let api = FakeApiServer::start().await;
    let rt = start(builder(&api, Arc::new(TestProvider::default())));
    let nodes: Api<Node> = Api::all(api.client());
    let node = eventually("the node to be Ready", || async {
        let n = nodes.get_opt(NODE).await.unwrap()?;
        (condition(&n, "Ready").as_deref() == Some("True")).then_some(n)
    })
    .await;
    let labels = node.metadata.labels.clone().unwrap();
    assert_eq!(labels["type"], "virtual-kubelet");
    assert_eq!(labels["kubernetes.io/hostname"], NODE);
    let taint = &node.spec.as_ref().unwrap().taints.as_ref().unwrap()[0];
    assert_eq!(taint.key, "virtual-kubelet.io/provider");
    assert_eq!(taint.value.as_deref(), Some("test"));
    for c in [
        "MemoryPressure",
        "DiskPressure",
        "PIDPressure",
        "NetworkUnavailable",
    ] {
        assert_eq!(condition(&node, c).as_deref(), Some("False"), "{c}");
    }
    let status = node.status.unwrap();
    assert_eq!(
        status
            .daemon_endpoints
            .unwrap()
            .kubelet_endpoint
            .unwrap()
            .port,
        10250
    );

    let leases: Api<Lease> = Api::namespaced(api.client(), "kube-node-lease");
    let first = eventually("the lease to exist", || async {
        leases.get_opt(NODE).await.unwrap()
    })
    .await;
    let owner = &first.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Node", NODE));
    assert_eq!(
        first.spec.as_ref().unwrap().lease_duration_seconds,
        Some(40)
    );
    let renewed_at = first.spec.unwrap().renew_time;
    eventually("the lease to be renewed", || async {
        let l = leases.get_opt(NODE).await.unwrap()?;
        (l.spec?.renew_time != renewed_at).then_some(())
    })
    .await;
    rt.stop().await;
}

#[tokio::test]
async fn deleted_lease_should_be_recreated() {
    let api = FakeApiServer::start().await;
    let rt = start(builder(&api, Arc::new(TestProvider::default())));
    let leases: Api<Lease> = Api::namespaced(api.client(), "kube-node-lease");
    let first = eventually("the lease to exist", || async {
        leases.get_opt(NODE).await.unwrap()
    })
    .await;
    leases.delete(NODE, &DeleteParams::default()).await.unwrap();
    eventually("the lease to be recreated", || async {
        let l = leases.get_opt(NODE).await.unwrap()?;
        (l.metadata.uid != first.metadata.uid).then_some(())
    })
    .await;
    rt.stop().await;
}

#[tokio::test]
async fn lease_write_conflicts_should_be_retried() {
    let api = FakeApiServer::start().await;
    let rt = start(builder(&api, Arc::new(TestProvider::default())));
    let leases: Api<Lease> = Api::namespaced(api.client(), "kube-node-lease");
    let first = eventually("the lease to exist", || async {
        leases.get_opt(NODE).await.unwrap()
    })
    .await;
    api.knobs().conflict_next_writes("leases", 2);
    let before = first.spec.unwrap().renew_time;
    eventually("the lease to be renewed after conflicts", || async {
        let l = leases.get_opt(NODE).await.unwrap()?;
        (l.spec?.renew_time != before).then_some(())
    })
    .await;
    rt.stop().await;
}

#[tokio::test]
async fn other_writers_conditions_should_survive_status_updates() {
    let api = FakeApiServer::start().await;
    let rt = start(builder(&api, Arc::new(TestProvider::default())));
    let nodes: Api<Node> = Api::all(api.client());
    eventually("the node to be Ready", || async {
        let n = nodes.get_opt(NODE).await.unwrap()?;
        (condition(&n, "Ready").as_deref() == Some("True")).then_some(())
    })
    .await;
    // A node problem detector applies its own condition with its own field manager.
    let theirs = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE},
        "status": {"conditions": [{"type": "KernelDeadlock", "status": "False", "reason": "KernelHasNoDeadlock"}]},
    });
    nodes
        .patch_status(
            NODE,
            &PatchParams::apply("node-problem-detector"),
            &Patch::Apply(theirs),
        )
        .await
        .unwrap();
    // Shutdown re-applies the runtime's conditions (Ready=False).
    rt.stop().await;
    let node = nodes.get(NODE).await.unwrap();
    assert_eq!(condition(&node, "Ready").as_deref(), Some("False"));
    assert_eq!(condition(&node, "KernelDeadlock").as_deref(), Some("False"));
}

#[tokio::test]
async fn a_node_another_kubelet_registered_should_be_refused_not_taken_over() {
    let api = FakeApiServer::start().await;
    let nodes: Api<Node> = Api::all(api.client());
    // A real machine's Node, registered by its kubelet.
    let machine: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux"}},
    }))
    .unwrap();
    nodes
        .patch(
            NODE,
            &PatchParams::apply("kubelet"),
            &Patch::Apply(&machine),
        )
        .await
        .unwrap();
    let runtime = builder(&api, Arc::new(TestProvider::default())).build();
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        runtime.run(std::future::pending::<()>()),
    )
    .await
    .expect("the runtime gives up at once");
    let error = outcome.expect_err("a Node another kubelet registered is not ours");
    assert!(error.is_foreign_node(), "{error}");
    assert!(error.to_string().contains(NODE), "{error}");
    let after = nodes.get(NODE).await.unwrap();
    assert!(
        !after
            .metadata
            .labels
            .unwrap_or_default()
            .contains_key("type"),
        "the machine's Node is left as it was"
    );
}

#[tokio::test]
async fn a_node_an_earlier_virtual_kubelet_registered_should_be_adopted() {
    let api = FakeApiServer::start().await;
    let nodes: Api<Node> = Api::all(api.client());
    // The Go virtual-kubelet's Node (another field manager, its `type` label): swapping
    // its image for ours keeps the node.
    let earlier: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE, "labels": {"type": "virtual-kubelet", "kubernetes.io/role": "agent"}},
    }))
    .unwrap();
    nodes
        .patch(
            NODE,
            &PatchParams::apply("virtual-kubelet"),
            &Patch::Apply(&earlier),
        )
        .await
        .unwrap();
    let rt = start(builder(&api, Arc::new(TestProvider::default())));
    eventually("the node to be Ready", || async {
        let n = nodes.get_opt(NODE).await.unwrap()?;
        (condition(&n, "Ready").as_deref() == Some("True")).then_some(())
    })
    .await;
    rt.stop().await;
}
