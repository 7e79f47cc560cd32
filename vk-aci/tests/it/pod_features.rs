//! Issue 14 at runtime: vk-core's runtime on the fake API server, AciProvider and the
//! emulator running claims, lifecycle hooks, Spot evictions and confidential groups.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{self, Duration};
use vk_aci::emulator::{EmulatorConfig, EmulatorHandle};
use vk_testing::FakeApiServer;

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
        let em = emulator(runtime_emulator_config()).await;
        let runtime = aci_runtime(&api, &em, NODE, Duration::from_secs(20));
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

    /// Wait for a `reason` event about pod `name`; returns its note.
    async fn wait_event(&self, name: &str, reason: &str) -> String {
        let events: Api<Event> = Api::namespaced(self.api.client(), "default");
        let found = time::timeout(PATIENCE, async {
            loop {
                let list = events.list(&ListParams::default()).await.unwrap();
                if let Some(e) = list.items.into_iter().find(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                }) {
                    return e.note.unwrap_or_default();
                }
                time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("no {reason} event for {name}"))
    }

    /// Wait until the emulator has no group for pod `name`.
    async fn wait_group_gone(&self, name: &str) {
        let group = vk_translate::container_group_name("default", name);
        time::timeout(PATIENCE, async {
            while self.em.group_names().contains(&group) {
                time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the deleted pod's group is gone");
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

fn ready(p: &Pod) -> bool {
    p.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn hook_pod(name: &str, post_start: &str, pre_stop: &str) -> Pod {
    from_json(serde_json::json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": NODE,
            "terminationGracePeriodSeconds": 10,
            "containers": [{
                "name": "app", "image": "nginx",
                "lifecycle": {
                    "postStart": {"exec": {"command": ["sh", "-c", post_start]}},
                    "preStop": {"exec": {"command": ["sh", "-c", pre_stop]}},
                },
            }],
        },
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_start_should_finish_before_ready_and_pre_stop_should_run_before_the_delete() {
    let node = Node::start(false).await;
    let pods = node.pods();
    let pod = hook_pod(
        "hooked",
        "sleep 2; echo post-start-ran",
        "sleep 1; echo pre-stop-ran",
    );
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let group = vk_translate::container_group_name("default", "hooked");

    // Follow the pod: the hook starts once the container runs, and the pod is not Ready
    // before it has ended (it sleeps 2 s).
    let started = time::Instant::now();
    let (mut hook_seen, mut held_seen) = (None, false);
    let ready_at = time::timeout(PATIENCE, async {
        loop {
            if hook_seen.is_none()
                && node.em.journal().iter().any(|l| {
                    l.starts_with(&format!("exec {group}/app")) && l.contains("post-start-ran")
                })
            {
                hook_seen = Some(started.elapsed());
            }
            let p = pods.get("hooked").await.unwrap();
            let waiting = p
                .status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
                .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
                .any(|w| {
                    w.message
                        .as_deref()
                        .is_some_and(|m| m.contains("postStart"))
                });
            held_seen |= waiting && hook_seen.is_some();
            if ready(&p) {
                return started.elapsed();
            }
            time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the pod becomes Ready");
    let hook_seen = hook_seen.expect("the postStart hook ran before Ready");
    assert!(
        ready_at >= hook_seen + Duration::from_millis(1500),
        "Ready at {ready_at:?}, hook started at {hook_seen:?}: Ready before the hook ended"
    );
    assert!(
        held_seen,
        "the container showed waiting for its postStart hook"
    );

    // preStop runs before the DELETE, within the grace period.
    let deleting = time::Instant::now();
    pods.delete("hooked", &DeleteParams::default())
        .await
        .unwrap();
    node.wait_group_gone("hooked").await;
    assert!(
        deleting.elapsed() < Duration::from_secs(10),
        "the deletion stays within the 10 s grace period"
    );
    let journal = node.em.journal();
    let hook = journal
        .iter()
        .position(|l| l.contains("pre-stop-ran"))
        .expect("the preStop hook ran");
    let delete = journal
        .iter()
        .rposition(|l| l == "container_groups.delete")
        .expect("the group was deleted");
    assert!(hook < delete, "preStop before the DELETE: {journal:?}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_without_hooks_should_be_deleted_without_an_exec() {
    let node = Node::start(false).await;
    let pods = node.pods();
    let pod: Pod = from_json(serde_json::json!({
        "metadata": {"name": "plain", "namespace": "default"},
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "nginx"}]},
    }));
    pods.create(&PostParams::default(), &pod).await.unwrap();
    node.wait_pod("plain", "running", |p| phase(p) == "Running")
        .await;
    pods.delete("plain", &DeleteParams::default())
        .await
        .unwrap();
    node.wait_group_gone("plain").await;
    assert_eq!(node.em.call_count("containers.execute_command"), 0);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_hooks_should_be_events_and_a_failed_post_start_should_kill_the_container() {
    let node = Node::start(false).await;
    let pods = node.pods();
    // postStart fails, restartPolicy Never: the kubelet kills the container, the pod fails.
    let mut never = hook_pod("fails-start", "exit 3", "true");
    never.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    pods.create(&PostParams::default(), &never).await.unwrap();
    let note = node.wait_event("fails-start", "FailedPostStartHook").await;
    assert!(note.contains("exited with 3"), "{note}");
    let failed = node
        .wait_pod("fails-start", "failed after its hook failed", |p| {
            phase(p) == "Failed"
        })
        .await;
    assert!(!ready(&failed));
    assert_eq!(node.em.call_count("container_groups.stop"), 1);

    // preStop fails: an event, and the deletion goes on.
    pods.create(
        &PostParams::default(),
        &hook_pod("fails-stop", "true", "exit 5"),
    )
    .await
    .unwrap();
    node.wait_pod("fails-stop", "ready", ready).await;
    pods.delete("fails-stop", &DeleteParams::default())
        .await
        .unwrap();
    let note = node.wait_event("fails-stop", "FailedPreStopHook").await;
    assert!(note.contains("exited with 5"), "{note}");
    node.wait_group_gone("fails-stop").await;

    // An image without the shell: the hook fails and says why.
    let mut no_shell = hook_pod("no-shell", "true", "true");
    no_shell.metadata.annotations = Some(
        [(
            vk_aci::provider::exec::EXEC_SHELL_ANNOTATION.to_owned(),
            "/bin/nosh".to_owned(),
        )]
        .into(),
    );
    no_shell.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    pods.create(&PostParams::default(), &no_shell)
        .await
        .unwrap();
    let note = node.wait_event("no-shell", "FailedPostStartHook").await;
    assert!(note.contains("no shell"), "{note}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicted_spot_pod_should_fail_as_evicted_and_its_replica_set_should_replace_it() {
    let node = Node::start(true).await;
    let sets: Api<ReplicaSet> = Api::namespaced(node.api.client(), "default");
    sets.create(
        &PostParams::default(),
        &from_json(serde_json::json!({
            "metadata": {"name": "spot", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "spot"}},
                "template": {
                    "metadata": {"labels": {"app": "spot"}},
                    "spec": {
                        "tolerations": [
                            {"key": "virtual-kubelet.io/provider", "operator": "Exists"},
                            {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal",
                             "value": "spot", "effect": "NoSchedule"},
                        ],
                        "containers": [{"name": "app", "image": "busybox:1.36"}],
                    },
                },
            },
        })),
    )
    .await
    .unwrap();
    let pods = node.pods();
    let running = |list: &[Pod]| {
        list.iter()
            .filter(|p| phase(p) == "Running")
            .filter_map(|p| p.metadata.name.clone())
            .collect::<Vec<_>>()
    };
    let first = time::timeout(PATIENCE, async {
        loop {
            let list = pods.list(&ListParams::default()).await.unwrap().items;
            if let Some(name) = running(&list).pop() {
                return name;
            }
            time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the ReplicaSet's pod runs on the virtual node");
    let group = vk_translate::container_group_name("default", &first);
    let spec = node.em.group_spec(&group).unwrap();
    assert_eq!(
        spec.properties.priority.as_ref().map(|p| p.as_str()),
        Some("Spot")
    );
    assert!(node.em.evict(&group), "the emulator evicts Spot groups");

    let evicted = node
        .wait_pod(&first, "failed as evicted", |p| phase(p) == "Failed")
        .await;
    assert_eq!(reason(&evicted), "Evicted");
    assert!(
        evicted
            .status
            .and_then(|s| s.message)
            .is_some_and(|m| m.contains("evicted")),
        "the pod says why"
    );
    time::timeout(PATIENCE, async {
        loop {
            let list = pods.list(&ListParams::default()).await.unwrap().items;
            if running(&list).iter().any(|n| *n != first) {
                return;
            }
            time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the ReplicaSet replaces the evicted pod");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confidential_pod_should_run_as_a_confidential_group() {
    let node = Node::start(false).await;
    let pod: Pod = from_json(serde_json::json!({
        "metadata": {
            "name": "secretive",
            "namespace": "default",
            "annotations": {
                "virtual-kubelet.io/container-sku": "Confidential",
                "virtual-kubelet.io/confidential-compute-cce-policy": "cGFja2FnZSBwb2xpY3k=",
            },
        },
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "nginx"}]},
    }));
    node.pods()
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    node.wait_pod("secretive", "running", |p| phase(p) == "Running")
        .await;
    let group = node
        .em
        .group_spec(&vk_translate::container_group_name("default", "secretive"))
        .unwrap();
    let props = serde_json::to_value(&group.properties).unwrap();
    assert_eq!(props["sku"], "Confidential", "{props}");
    assert_eq!(
        props["confidentialComputeProperties"]["ccePolicy"],
        "cGFja2FnZSBwb2xpY3k="
    );
    node.shutdown().await;
}

/// A DELETE that fails after the preStop hooks ran is retried without running them again
/// (the first version forgot the hooks had run before the DELETE was sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_delete_should_run_pre_stop_hooks_once() {
    use vk_aci::emulator::faults::Injected;
    use vk_core::provider::{PodKey, PodResources, Provider};

    let mut config = EmulatorConfig::instant();
    config.timeline.pending = Duration::from_millis(100);
    let em = emulator(config).await;
    let provider = provider(&em);
    let pod = hook_pod("retried", "true", "echo bye");
    let mut pod = pod;
    pod.metadata.uid = Some("uid-retried".into());
    provider
        .create_pod(&pod, &PodResources::default())
        .await
        .unwrap();
    let key = PodKey::of(&pod);
    time::timeout(PATIENCE, async {
        loop {
            let status = provider.pod_status(&key).await.unwrap();
            if status.is_some_and(|s| s.phase.as_deref() == Some("Running")) {
                return;
            }
            time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the pod runs");
    let execs = em.call_count("containers.execute_command");
    // The owner read and the hook's exec go through; every attempt at the DELETE fails.
    em.inject(Injected {
        status: None,
        ..Injected::status(200, "")
    });
    em.inject(Injected {
        status: None,
        ..Injected::status(200, "")
    });
    for _ in 0..4 {
        em.inject(Injected::status(500, "InternalServerError"));
    }
    assert!(provider.delete_pod(&pod).await.is_err());
    assert_eq!(em.call_count("containers.execute_command"), execs + 1);
    provider.delete_pod(&pod).await.unwrap();
    assert_eq!(
        em.call_count("containers.execute_command"),
        execs + 1,
        "the hook ran once"
    );
}
