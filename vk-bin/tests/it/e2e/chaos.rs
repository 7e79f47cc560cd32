//! Chaos, with a fixed plan: 500 pods on the virtual node while a fifth of ARM calls fail
//! (half of them after taking effect: lost answers), groups linger `Deleting`, pods are
//! force-deleted and recreated under the same names (new UIDs), and `vk-aci run` is killed
//! with SIGKILL twice. At the end every pod has exactly one group, tagged with its UID; no
//! group is left without its pod; no pod is Running without a group.
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams};
use tokio::time::{self, Duration, Instant};
use vk_aci::emulator::FaultConfig;

use super::{Cluster, NodeProcess, eventually, running_on};

const NODE: &str = "vk-e2e-chaos";
const PODS: usize = 500;

fn pod(i: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("chaos-{i:03}"), "namespace": "default", "labels": {"app": "chaos"}},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "app", "image": "busybox:1.36", "command": ["sleep", "3600"],
                            "ports": [{"containerPort": 80}]}],
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]
        }
    }))
    .unwrap()
}

/// Force-delete pods `range` (grace 0, as `kubectl delete --force`) and create them again:
/// same names, new UIDs.
async fn replace(cluster: &Cluster, range: std::ops::Range<usize>) {
    let pods = cluster.pods("default");
    let force = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    for i in range.clone() {
        let _ = pods.delete(&format!("chaos-{i:03}"), &force).await;
    }
    for i in range {
        // The old object may take a moment to go.
        let name = format!("chaos-{i:03}");
        for _ in 0..100 {
            if pods.create(&PostParams::default(), &pod(i)).await.is_ok() {
                break;
            }
            time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            pods.get_opt(&name).await.unwrap().is_some(),
            "{name} recreated"
        );
    }
}

async fn kill(process: &mut NodeProcess) {
    process.child.start_kill().unwrap(); // SIGKILL
    let _ = process.child.wait().await;
}

/// The pods (name -> UID) and the groups (name -> UID tag) as they are now.
async fn state(
    cluster: &Cluster,
) -> (
    BTreeMap<String, String>,
    BTreeMap<String, Option<String>>,
    usize,
) {
    let pods = cluster.pods("default");
    let list = pods
        .list(&ListParams::default().labels("app=chaos"))
        .await
        .unwrap();
    let running = list.items.iter().filter(|p| running_on(p, NODE)).count();
    let pods: BTreeMap<String, String> = list
        .items
        .iter()
        .map(|p| {
            (
                p.metadata.name.clone().unwrap_or_default(),
                p.metadata.uid.clone().unwrap_or_default(),
            )
        })
        .collect();
    let groups = cluster
        .emulator
        .group_names()
        .into_iter()
        .map(|g| {
            let uid = cluster
                .emulator
                .group_spec(&g)
                .and_then(|s| s.tags.get(vk_translate::names::TAG_POD_UID).cloned());
            (g, uid)
        })
        .collect();
    (pods, groups, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_pods_through_faults_replacements_and_two_kills_should_end_one_group_each() {
    let started = Instant::now();
    let cluster = Cluster::start_configured(
        |api| api,
        |em| em.timeline.deleting = Duration::from_secs(2),
    )
    .await;
    let env = [("RUST_LOG", "info,vk_core=debug")];
    let mut first = cluster.spawn_node_with(NODE, &[], &env);
    cluster.ready_node(NODE, &first).await;
    cluster.emulator.set_faults(FaultConfig {
        error_rate: 0.1,
        lost_response_rate: 0.1,
        ..FaultConfig::default()
    });
    let pods = cluster.pods("default");
    for i in 0..PODS {
        pods.create(&PostParams::default(), &pod(i)).await.unwrap();
    }
    let emulator = &cluster.emulator;
    eventually(Duration::from_secs(120), "150 groups", || async {
        emulator.group_names().len() >= 150
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", first.log()));
    kill(&mut first).await;
    let groups_at_first_kill = emulator.group_names().len();
    // Replaced while no process acts on the node.
    replace(&cluster, 0..50).await;

    let mut second = cluster.spawn_node_with(NODE, &[], &env);
    eventually(Duration::from_secs(120), "350 pods Running", || async {
        state(&cluster).await.2 >= 350
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\n{}",
            summary_blocking(&cluster),
            tail(&second.log())
        )
    });
    // Replaced while the node runs: deletes and creates race the old groups' deletion.
    replace(&cluster, 50..100).await;
    kill(&mut second).await;
    let groups_at_second_kill = emulator.group_names().len();

    let third = cluster.spawn_node_with(NODE, &[], &env);
    let converged = eventually(
        Duration::from_secs(240),
        "every pod Running with one group of its UID",
        || async {
            let (pods, groups, running) = state(&cluster).await;
            running == PODS
                && groups.len() == PODS
                && pods.iter().all(|(name, uid)| {
                    let group = cluster.group_name("default", name);
                    groups
                        .get(&group)
                        .is_some_and(|tag| tag.as_deref() == Some(uid.as_str()))
                })
        },
    )
    .await;
    let (pods, groups, running) = state(&cluster).await;
    let expected: BTreeSet<String> = pods
        .keys()
        .map(|name| cluster.group_name("default", name))
        .collect();
    let leaked: Vec<&String> = groups.keys().filter(|g| !expected.contains(*g)).collect();
    let wrong_uid: Vec<&String> = pods
        .iter()
        .filter(|(name, uid)| {
            let group = cluster.group_name("default", name);
            groups
                .get(&group)
                .is_some_and(|tag| tag.as_deref() != Some(uid.as_str()))
        })
        .map(|(name, _)| name)
        .collect();
    let missing: Vec<&String> = pods
        .keys()
        .filter(|name| !groups.contains_key(&cluster.group_name("default", name)))
        .collect();
    // Keep the three processes' logs where asked (for looking into a failure).
    if let Some(dir) = std::env::var_os("VK_CHAOS_LOG_DIR") {
        for (n, process) in [&first, &second, &third].into_iter().enumerate() {
            let _ = std::fs::write(
                std::path::Path::new(&dir).join(format!("node-{n}.log")),
                process.log(),
            );
        }
    }
    let calls = emulator.calls();
    eprintln!(
        "chaos: {PODS} pods, 100 replaced, 2 kills; groups at the kills {groups_at_first_kill} / \
         {groups_at_second_kill}; converged in {:.0} s; {running} Running, {} groups; ARM calls {calls:?}",
        started.elapsed().as_secs_f64(),
        groups.len()
    );
    assert!(
        converged.is_ok() && leaked.is_empty() && wrong_uid.is_empty() && missing.is_empty(),
        "running {running}/{PODS}; leaked groups {leaked:?}; groups of another UID {wrong_uid:?}; \
         pods without a group {missing:?}\n{}\n--- vk-aci log (tail) ---\n{}",
        summary_blocking(&cluster),
        tail(&third.log())
    );
}

/// Why pods are not Running: `reason: message` and how many, from a thread of its own (the
/// caller is panicking inside the runtime).
fn summary_blocking(cluster: &Cluster) -> String {
    let pods = cluster.pods("default");
    super::block_on_aside(async move {
        let list = pods
            .list(&ListParams::default().labels("app=chaos"))
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        for p in list.iter().filter(|p| !running_on(p, NODE)) {
            let s = p.status.clone().unwrap_or_default();
            let key = format!(
                "phase={:?} reason={:?} message={:?} deleting={} ({})",
                s.phase,
                s.reason,
                s.message.map(|m| m.chars().take(120).collect::<String>()),
                p.metadata.deletion_timestamp.is_some(),
                if s.phase.as_deref() == Some("Failed") {
                    p.metadata.name.clone().unwrap_or_default()
                } else {
                    String::new()
                }
            );
            *why.entry(key).or_default() += 1;
        }
        format!("{why:#?}")
    })
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
