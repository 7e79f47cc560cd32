//! `vk-aci run` with the name of a machine's Node: refused with exit status 2, the Node
//! left as it was (taking it over would run that machine's pods on ACI too).
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{Patch, PatchParams};
use tokio::time::{self, Duration};

use super::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machines_node_should_be_refused_with_exit_status_2() {
    let cluster = Cluster::start().await;
    let name = "aks-nodepool1-12345678-vmss000000";
    let nodes: Api<Node> = Api::all(cluster.api.client());
    let machine: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
    }))
    .unwrap();
    nodes
        .patch(
            name,
            &PatchParams::apply("kubelet"),
            &Patch::Apply(&machine),
        )
        .await
        .unwrap();
    let mut process = cluster.spawn_node(name);
    let status = time::timeout(Duration::from_secs(60), process.child.wait())
        .await
        .expect("vk-aci exits instead of taking the Node over")
        .unwrap();
    let log = process.log();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("was not registered by a virtual kubelet"),
        "{log}"
    );
    let after = nodes.get(name).await.unwrap();
    assert!(
        !after
            .metadata
            .labels
            .unwrap_or_default()
            .contains_key("type"),
        "the machine's Node is untouched"
    );
}
