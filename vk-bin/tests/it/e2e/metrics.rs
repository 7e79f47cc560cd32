//! Pod metrics on the ACI node, end to end: the emulator's Azure Monitor -> `vk-aci run`'s
//! `/metrics/resource` -> the fake API server's metrics-server -> real `kubectl top`, and
//! a HorizontalPodAutoscaler scaling nginx-vn (seed 003) out and back in on that CPU.
use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{ListParams, PostParams};
use tokio::time::Duration;
use vk_aci::emulator::ContainerUsage;

use super::{Cluster, NodeProcess, eventually, text};

const NODE: &str = "vk-e2e-metrics";
const NAMESPACE: &str = "virtualnode";
const MIB: f64 = 1024.0 * 1024.0;

/// 50% of nginx-vn's 500m CPU request; no scale-down delay so the test sees it.
const HPA: &str = "
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: nginx-vn
  namespace: virtualnode
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: nginx-vn}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 50}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
";

async fn cluster_with_node() -> (Cluster, NodeProcess) {
    let cluster = Cluster::start_with(|b| {
        b.metric_resolution(Duration::from_secs(1))
            .hpa_sync_period(Duration::from_secs(1))
            .hpa_cpu_initialization_period(Duration::from_secs(1))
    })
    .await;
    let process = cluster.spawn_node_with(NODE, &["--metrics-refresh-interval", "1s"], &[]);
    cluster.ready_node(NODE, &process).await;
    let namespaces: Api<Namespace> = Api::all(cluster.api.client());
    let namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}
    }))
    .unwrap();
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    (cluster, process)
}

/// Running nginx-vn pods on the node, by name.
async fn nginx_pods(cluster: &Cluster) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(cluster.api.client(), NAMESPACE);
    let Ok(list) = pods
        .list(&ListParams::default().labels("app=nginx-vn"))
        .await
    else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && super::running_on(p, NODE))
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

/// The first nginx-vn pod Running on the node.
async fn first_running(cluster: &Cluster, process: &NodeProcess) -> String {
    eventually(Duration::from_secs(60), "nginx-vn Running", || async {
        !nginx_pods(cluster).await.is_empty()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n--- vk-aci log ---\n{}", process.log()));
    nginx_pods(cluster).await.remove(0)
}

fn group_of(cluster: &Cluster, pod: &str) -> String {
    cluster.group_name(NAMESPACE, pod)
}

/// Column `column` of `pod`'s line in `kubectl top pod` output, without `unit`.
fn top_value(out: &str, pod: &str, column: usize, unit: &str) -> Option<u64> {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(pod))?;
    line.split_whitespace()
        .nth(column)?
        .strip_suffix(unit)?
        .parse()
        .ok()
}

/// `kubectl top pod` millicores of `pod`, if it is listed.
fn top_millicores(out: &str, pod: &str) -> Option<u64> {
    top_value(out, pod, 1, "m")
}

/// `kubectl top pod` memory of `pod` in MiB, if it is listed.
fn top_memory_mib(out: &str, pod: &str) -> Option<u64> {
    top_value(out, pod, 2, "Mi")
}

async fn apply(cluster: &Cluster, version: &str, path: &Path) {
    let out = cluster
        .kubectl(version, &["apply", "-f", path.to_str().unwrap()])
        .await;
    assert!(out.status.success(), "apply: {}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_top_should_show_what_the_emulator_says_each_container_uses() {
    let (cluster, process) = cluster_with_node().await;
    apply(&cluster, "1.33", &Cluster::fixture("nginx-vn.yaml")).await;
    let pod = first_running(&cluster, &process).await;
    cluster.emulator.set_usage(
        &group_of(&cluster, &pod),
        "nginx",
        ContainerUsage {
            cpu_millicores: 300.0,
            memory_bytes: 96.0 * MIB,
        },
    );
    for version in ["1.33", "1.27"] {
        let last = std::sync::Mutex::new(String::new());
        let seen = eventually(Duration::from_secs(60), "kubectl top near 300m", || async {
            let out = cluster
                .kubectl(version, &["top", "pod", "-n", NAMESPACE])
                .await;
            *last.lock().unwrap() = format!("{}{}", text(&out.stdout), text(&out.stderr));
            // metrics-server's rate spans two scrapes: once both are after the change it
            // is the container's use (whole-second data times: a few % either way).
            out.status.success()
                && top_millicores(&text(&out.stdout), &pod)
                    .is_some_and(|m| (285..=315).contains(&m))
        })
        .await;
        let last = last.into_inner().unwrap();
        assert!(
            seen.is_ok(),
            "kubectl {version} top pod never showed ~300m; last:\n{last}\n--- vk-aci log ---\n{}",
            process.log()
        );
        // Memory is Azure Monitor's average over the open minute: between the 16Mi the
        // container used before the change and the 96Mi it uses now.
        let memory = top_memory_mib(&last, &pod);
        assert!(
            memory.is_some_and(|m| m > 16 && m <= 96),
            "memory between 16Mi and 96Mi: {last}"
        );
        let node = cluster.kubectl(version, &["top", "node", NODE]).await;
        assert!(node.status.success(), "top node: {}", text(&node.stderr));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpa_should_scale_nginx_vn_out_when_its_cpu_rises_and_back_in_when_it_falls() {
    let (cluster, process) = cluster_with_node().await;
    apply(&cluster, "1.33", &Cluster::fixture("nginx-vn.yaml")).await;
    let hpa = cluster.dir.path().join("hpa.yaml");
    std::fs::write(&hpa, HPA).unwrap();
    apply(&cluster, "1.33", &hpa).await;
    let deployments: Api<Deployment> = Api::namespaced(cluster.api.client(), NAMESPACE);
    let replicas = || async {
        deployments
            .get("nginx-vn")
            .await
            .ok()
            .and_then(|d| d.spec.replicas)
            .unwrap_or(0)
    };
    let first = first_running(&cluster, &process).await;

    // 400m of a 500m request: 80% against 50%, so two replicas.
    let busy = ContainerUsage {
        cpu_millicores: 400.0,
        memory_bytes: 64.0 * MIB,
    };
    cluster
        .emulator
        .set_usage(&group_of(&cluster, &first), "nginx", busy);
    eventually(Duration::from_secs(90), "the HPA to scale out", || async {
        replicas().await >= 2
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n--- hpa ---\n{}\n--- vk-aci log ---\n{}",
            hpa_text(&cluster),
            process.log()
        )
    });
    eventually(
        Duration::from_secs(60),
        "the new replicas Running",
        || async { nginx_pods(&cluster).await.len() >= 2 },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n--- vk-aci log ---\n{}", process.log()));

    // Every pod idles: back to the minimum.
    for pod in nginx_pods(&cluster).await {
        cluster
            .emulator
            .set_usage(&group_of(&cluster, &pod), "nginx", ContainerUsage::DEFAULT);
    }
    eventually(
        Duration::from_secs(90),
        "the HPA to scale back in",
        || async { replicas().await == 1 },
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n--- hpa ---\n{}\n--- vk-aci log ---\n{}",
            hpa_text(&cluster),
            process.log()
        )
    });
}

fn hpa_text(cluster: &Cluster) -> String {
    std::process::Command::new(crate::kubectl::path(crate::kubectl::CURRENT))
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(["get", "hpa", "-n", NAMESPACE, "-o", "yaml"])
        .output()
        .map(|o| text(&o.stdout))
        .unwrap_or_default()
}
