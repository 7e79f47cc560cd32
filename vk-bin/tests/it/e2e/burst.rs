//! `kill -9` of `vk-aci run` in the middle of a 100-pod burst, then a restart: every pod
//! Running, no duplicate and no leaked container group.
use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use tokio::time::Duration;

use super::{Cluster, eventually, running_on};

fn pod(name: &str, node: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "burst"}},
        "spec": {
            "nodeName": node,
            "containers": [{
                "name": "app",
                "image": "busybox:1.36",
                "command": ["sleep", "3600"],
                "ports": [{"containerPort": 80}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}
            }],
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]
        }
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_then_restart_should_leave_every_pod_running_once() {
    let cluster = Cluster::start().await;
    let name = "vk-e2e-burst";
    let mut first = cluster.spawn_node(name);
    cluster.ready_node(name, &first).await;

    let pods = cluster.pods("default");
    for i in 0..100 {
        pods.create(&PostParams::default(), &pod(&format!("burst-{i:03}"), name))
            .await
            .unwrap();
    }
    let emulator = &cluster.emulator;
    eventually(Duration::from_secs(60), "the first groups", || async {
        emulator.group_names().len() >= 10
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", first.log()));
    first.child.start_kill().unwrap(); // SIGKILL
    let _ = first.child.wait().await;
    let at_kill = emulator.group_names().len();

    let second = cluster.spawn_node(name);
    eventually(Duration::from_secs(90), "all 100 pods Running", || {
        let pods = pods.clone();
        async move {
            pods.list(&ListParams::default().labels("app=burst"))
                .await
                .is_ok_and(|l| l.items.len() == 100 && l.items.iter().all(|p| running_on(p, name)))
        }
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e} (groups at kill: {at_kill}, groups now: {})\nnot running: {:?}\n{}",
            emulator.group_names().len(),
            not_running_blocking(&pods),
            second.log()
        )
    });

    let groups: BTreeSet<String> = emulator.group_names().into_iter().collect();
    let expected: BTreeSet<String> = (0..100)
        .map(|i| cluster.group_name("default", &format!("burst-{i:03}")))
        .collect();
    assert_eq!(groups, expected, "one group per pod, none leaked");
    assert_eq!(emulator.group_names().len(), 100, "no duplicate group");
}

fn not_running_blocking(pods: &kube::Api<Pod>) -> Vec<String> {
    let pods = pods.clone();
    super::block_on_aside(async move {
        pods.list(&ListParams::default().labels("app=burst"))
            .await
            .map(|l| {
                l.items
                    .iter()
                    .filter(|p| !running_on(p, "vk-e2e-burst"))
                    .map(|p| {
                        let status = p.status.as_ref();
                        format!(
                            "{} phase={:?} ip={:?}",
                            p.metadata.name.clone().unwrap_or_default(),
                            status.and_then(|s| s.phase.clone()),
                            status.and_then(|s| s.pod_ip.clone())
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
}
