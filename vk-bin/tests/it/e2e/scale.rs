//! nginx-vn.yaml scaled 1 -> 20 -> 2 and helloworld-vn.yaml, through the fake API server's
//! Deployment controller: every pod Running on the virtual node, removed pods' groups gone.
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{ListParams, PostParams};
use tokio::time::Duration;

use super::{Cluster, eventually, text};

async fn running(pods: &Api<Pod>, selector: &str, node: &str) -> (usize, usize) {
    let Ok(list) = pods.list(&ListParams::default().labels(selector)).await else {
        return (0, usize::MAX);
    };
    let live: Vec<&Pod> = list
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let running = live
        .iter()
        .filter(|p| {
            p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node)
                && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        })
        .count();
    (running, list.items.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_vn_scaled_1_20_2_should_run_every_pod_and_delete_removed_groups() {
    let cluster = Cluster::start().await;
    let node = "vk-e2e-scale";
    let process = cluster.spawn_node(node);
    cluster.ready_node(node, &process).await;
    // The namespace through the API (kubectl is exercised by the walkthrough test).
    let namespaces: Api<Namespace> = Api::all(cluster.api.client());
    let namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "virtualnode"}
    }))
    .unwrap();
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    for fixture in ["nginx-vn.yaml", "helloworld-vn.yaml"] {
        let path = Cluster::fixture(fixture);
        let out = cluster
            .kubectl("1.33", &["apply", "-f", path.to_str().unwrap()])
            .await;
        assert!(
            out.status.success(),
            "apply {fixture}: {}",
            text(&out.stderr)
        );
    }
    let pods = cluster.pods("virtualnode");
    let emulator = &cluster.emulator;
    let groups = |prefix: &str| {
        emulator
            .group_names()
            .into_iter()
            .filter(|g| g.starts_with(prefix))
            .count()
    };

    for (replicas, limit) in [(1, 60), (20, 90), (2, 60)] {
        if replicas != 1 {
            let out = cluster
                .kubectl(
                    "1.33",
                    &[
                        "scale",
                        "-n",
                        "virtualnode",
                        "deployment/nginx-vn",
                        &format!("--replicas={replicas}"),
                    ],
                )
                .await;
            assert!(out.status.success(), "scale: {}", text(&out.stderr));
        }
        eventually(
            Duration::from_secs(limit),
            &format!("{replicas} nginx-vn pods Running and {replicas} groups"),
            || {
                let pods = pods.clone();
                async move {
                    running(&pods, "app=nginx-vn", node).await == (replicas, replicas)
                        && groups("virtualnode-nginx-vn-") == replicas
                }
            },
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}: groups {:?}\n--- vk-aci log ---\n{}",
                emulator.group_names(),
                process.log()
            )
        });
    }
    eventually(Duration::from_secs(30), "helloworld-vn Running", || {
        let pods = pods.clone();
        async move { running(&pods, "app=helloworld-vn", node).await == (1, 1) }
    })
    .await
    .unwrap();
    assert_eq!(groups("virtualnode-helloworld-vn-"), 1);
}
