//! End to end: vk-core's runtime on the fake API server, AciProvider, and the emulator.
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use tokio::sync::oneshot;
use tokio::time::{self, Duration};
use vk_aci::emulator::EmulatorConfig;
use vk_core::testing::FakeApiServer;
use vk_core::{NodeConfig, Runtime};

use crate::common::*;

const NODE: &str = "vk-aci-e2e";
const PATIENCE: Duration = Duration::from_secs(60);

fn api_pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}],
        },
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_pods_should_run_on_aci_and_deletes_should_remove_their_groups() {
    let api = FakeApiServer::start().await;
    let mut config = EmulatorConfig::instant();
    config.timeline.pending = Duration::from_millis(200);
    config.timeline.creating = Duration::from_millis(200);
    let em = emulator(config).await;
    let mut provider_config = provider_config();
    provider_config.node.node_name = NODE.to_owned();
    let provider = vk_aci::AciProvider::new(
        client(&em),
        provider_config,
        Arc::new(vk_core::clock::SystemClock),
    );
    let runtime = Runtime::builder(api.client(), Arc::new(provider), NodeConfig::named(NODE))
        .resync_period(Duration::from_secs(2))
        .status_coalescing(Duration::from_millis(10))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .provider_timeout(Duration::from_secs(10))
        .lease(Duration::from_secs(40), Duration::from_millis(500))
        .node_status(Duration::from_millis(500), Duration::from_secs(300))
        .build();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));

    let pods: Api<Pod> = Api::namespaced(api.client(), "default");
    for i in 0..100 {
        pods.create(&PostParams::default(), &api_pod(&format!("p{i}")))
            .await
            .unwrap();
    }
    time::timeout(PATIENCE, async {
        loop {
            let list = pods.list(&ListParams::default()).await.unwrap();
            let running = list
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .count();
            if running == 100 {
                return;
            }
            time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("all 100 pods Running in the API");
    assert_eq!(em.group_names().len(), 100);
    let p0 = pods.get("p0").await.unwrap();
    assert!(
        p0.status.unwrap().pod_ip.is_some(),
        "the group's IP is the pod IP"
    );

    pods.delete("p0", &DeleteParams::default()).await.unwrap();
    time::timeout(PATIENCE, async {
        while em.group_names().iter().any(|n| n.contains("p0")) {
            time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the deleted pod's group is gone");

    let calls = em.calls();
    assert_eq!(calls["container_groups.create_or_update"], 100, "{calls:?}");
    let _ = stop.send(());
    time::timeout(PATIENCE, task)
        .await
        .expect("runtime shutdown probably deadlocked")
        .unwrap()
        .unwrap();
}
