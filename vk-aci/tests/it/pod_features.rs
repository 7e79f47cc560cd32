//! Issue 14 at runtime: vk-core's runtime on the fake API server, AciProvider and the
//! emulator running claims, lifecycle hooks, Spot evictions and confidential groups.
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{self, Duration};
use vk_aci::emulator::{EmulatorConfig, EmulatorHandle};
use vk_core::testing::FakeApiServer;
use vk_core::{NodeConfig, Runtime};

use crate::common::*;

const NODE: &str = "vk-aci-features";
const PATIENCE: Duration = Duration::from_secs(60);

/// The fake API server, the emulator and a running node.
struct Node {
    api: FakeApiServer,
    em: EmulatorHandle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), vk_core::RuntimeError>>>,
}

impl Node {
    async fn start(controllers: bool) -> Self {
        let api = FakeApiServer::builder()
            .controllers(controllers)
            .start()
            .await
            .expect("fake API server starts");
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
            .provider_timeout(Duration::from_secs(20))
            .lease(Duration::from_secs(40), Duration::from_millis(500))
            .node_status(Duration::from_millis(500), Duration::from_secs(300))
            .build();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(runtime.run(async {
            let _ = stopped.await;
        }));
        Self {
            api,
            em,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.api.client(), "default")
    }

    /// Wait until `pred` holds for pod `name`, returning it.
    async fn wait_pod(&self, name: &str, what: &str, pred: impl Fn(&Pod) -> bool) -> Pod {
        let pods = self.pods();
        let waited = time::timeout(PATIENCE, async {
            loop {
                if let Some(p) = pods.get_opt(name).await.unwrap()
                    && pred(&p)
                {
                    return p;
                }
                time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        match waited {
            Ok(p) => p,
            Err(_) => panic!("{what}: {:?}", pods.get_opt(name).await),
        }
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            time::timeout(PATIENCE, task)
                .await
                .expect("runtime shutdown probably deadlocked")
                .unwrap()
                .unwrap();
        }
    }
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

fn reason(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.reason.as_deref())
        .unwrap_or_default()
}

fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_should_wait_for_its_claim_to_bind_then_run_with_the_azure_files_share() {
    let node = Node::start(false).await;
    let client = node.api.client();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    secrets
        .create(
            &PostParams::default(),
            &from_json(serde_json::json!({
                "metadata": {"name": "files-key", "namespace": "default"},
                "stringData": {
                    "azurestorageaccountname": "filesacct",
                    "azurestorageaccountkey": "k-987654321",
                },
            })),
        )
        .await
        .unwrap();
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    volumes
        .create(
            &PostParams::default(),
            &from_json(serde_json::json!({
                "metadata": {"name": "pv-files"},
                "spec": {
                    "capacity": {"storage": "100Gi"},
                    "accessModes": ["ReadWriteMany"],
                    "csi": {
                        "driver": "file.csi.azure.com",
                        "volumeHandle": "rg#filesacct#orders##",
                        "nodeStageSecretRef": {"name": "files-key", "namespace": "default"},
                    },
                },
            })),
        )
        .await
        .unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    claims
        .create(
            &PostParams::default(),
            &from_json(serde_json::json!({
                "metadata": {"name": "orders", "namespace": "default"},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "",
                    "resources": {"requests": {"storage": "100Gi"}},
                },
            })),
        )
        .await
        .unwrap();
    let pod: Pod = from_json(serde_json::json!({
        "metadata": {"name": "with-claim", "namespace": "default"},
        "spec": {
            "nodeName": NODE,
            "containers": [{
                "name": "app", "image": "nginx",
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "orders"}}],
        },
    }));
    node.pods()
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    let waiting = node
        .wait_pod("with-claim", "pending with the claim's reason", |p| {
            reason(p) == "PersistentVolumeClaimNotBound"
        })
        .await;
    assert_eq!(phase(&waiting), "Pending");
    let message = waiting.status.unwrap().message.unwrap_or_default();
    assert!(message.contains("orders"), "{message}");
    assert!(node.em.group_names().is_empty(), "no group before the bind");

    // The binder's work: the claim gets its volume, then Bound.
    claims
        .patch(
            "orders",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"volumeName": "pv-files"}})),
        )
        .await
        .unwrap();
    claims
        .patch_status(
            "orders",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"status": {"phase": "Bound"}})),
        )
        .await
        .unwrap();
    node.wait_pod("with-claim", "running once bound", |p| {
        phase(p) == "Running"
    })
    .await;
    let name = vk_translate::container_group_name("default", "with-claim");
    let group = node.em.group_spec(&name).expect("the group exists");
    let volume = serde_json::to_value(&group.properties.volumes).unwrap();
    assert_eq!(volume[0]["azureFile"]["shareName"], "orders", "{volume}");
    assert_eq!(
        volume[0]["azureFile"]["storageAccountName"], "filesacct",
        "{volume}"
    );
    node.shutdown().await;
}
