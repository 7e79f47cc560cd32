//! One node, one actor: two `vk-aci run` processes with the same node name.
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use tokio::time::{self, Duration};

use super::{Cluster, eventually};

async fn holder(cluster: &Cluster, lease: &str) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(cluster.api.client(), "kube-node-lease");
    leases
        .get_opt(lease)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_for_the_same_node_should_wait_and_take_over_on_sigterm() {
    let cluster = Cluster::start().await;
    let name = "vk-e2e-twice";
    let first = cluster.spawn_node(name);
    cluster.ready_node(name, &first).await;
    let first_pid = first.child.id().unwrap();
    let lease = format!("vk-aci-{name}");
    assert_eq!(
        holder(&cluster, &lease).await,
        Some(format!("{name}_{first_pid}"))
    );

    let second = cluster.spawn_node(name);
    let second_pid = second.child.id().unwrap();
    eventually(
        Duration::from_secs(30),
        "the second process to wait",
        || async { second.log().contains("another process holds the lease") },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", second.log()));
    time::sleep(Duration::from_secs(2)).await;
    assert!(!second.log().contains("lease acquired"), "{}", second.log());
    assert_eq!(
        holder(&cluster, &lease).await,
        Some(format!("{name}_{first_pid}"))
    );

    // SIGTERM: the first releases the lease and the second takes over.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &first_pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    eventually(
        Duration::from_secs(30),
        "the second process to take over",
        || async { holder(&cluster, &lease).await == Some(format!("{name}_{second_pid}")) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", second.log()));
    assert!(first.log().contains("shutting down"), "{}", first.log());
}
