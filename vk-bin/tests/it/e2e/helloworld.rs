//! helloworld-pod.yaml through `vk-aci run`: scheduled, Running with an IP, logs, exec with
//! exit status, anonymous kubelet access refused, deletion deletes the group.
use k8s_openapi::api::core::v1::Node;
use tokio::time::Duration;

use super::{Cluster, eventually, text};

async fn helloworld_flow(kubectl: &str) {
    let cluster = Cluster::start().await;
    let name = format!("vk-e2e-{}", kubectl.replace('.', "-"));
    let process = cluster.spawn_node(&name);
    let node = cluster.ready_node(&name, &process).await;

    cluster
        .apply_until_running(
            kubectl,
            "helloworld-pod.yaml",
            "helloworld",
            &name,
            &process,
        )
        .await;
    assert_eq!(
        cluster.emulator.group_names(),
        [cluster.group_name("default", "helloworld")]
    );

    let out = cluster
        .kubectl(kubectl, &["get", "pods", "-o", "wide"])
        .await;
    assert!(text(&out.stdout).contains(&name), "{}", text(&out.stdout));

    let out = cluster.kubectl(kubectl, &["logs", "helloworld"]).await;
    assert!(out.status.success(), "logs: {}", text(&out.stderr));

    let out = cluster
        .kubectl(
            kubectl,
            &["exec", "helloworld", "--", "echo", "hello", "big world"],
        )
        .await;
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello big world\n");

    let out = cluster
        .kubectl(kubectl, &["exec", "helloworld", "--", "sh", "-c", "exit 3"])
        .await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "exec exit 3: {}",
        text(&out.stderr)
    );

    anonymous_exec_is_refused(&node).await;

    let out = cluster
        .kubectl(kubectl, &["delete", "pod", "helloworld", "--timeout=60s"])
        .await;
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    let emulator = &cluster.emulator;
    eventually(
        Duration::from_secs(30),
        "the group to be deleted",
        || async { emulator.group_names().is_empty() },
    )
    .await
    .unwrap();
    assert_eq!(emulator.call_count("container_groups.create_or_update"), 1);
    assert!(emulator.call_count("container_groups.delete") >= 1);
}

/// A request without credentials to the kubelet API's /exec is refused.
async fn anonymous_exec_is_refused(node: &Node) {
    let port = node
        .status
        .as_ref()
        .and_then(|s| s.daemon_endpoints.as_ref())
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map(|e| e.port)
        .expect("the node advertises its kubelet port");
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let answer = client
        .post(format!(
            "https://127.0.0.1:{port}/exec/default/helloworld/helloworld?command=id&output=1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helloworld_should_run_with_logs_and_exec_through_kubectl_1_33() {
    helloworld_flow("1.33").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helloworld_should_run_with_logs_and_exec_through_kubectl_1_27() {
    helloworld_flow("1.27").await;
}
