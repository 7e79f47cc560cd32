//! Issue 14 through `vk-aci run` and real kubectl: a pod with lifecycle hooks (postStart
//! before Ready, preStop before the group's DELETE) and a pod whose Azure Files claim binds
//! late (Pending with the reason, then Running).
use tokio::time::Duration;

use super::{Cluster, eventually, running_on, text};

const PATIENCE: Duration = Duration::from_secs(60);

fn manifests(node: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: hooked
  namespace: default
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 20
  containers:
  - name: app
    image: nginx
    lifecycle:
      postStart:
        exec: {{command: ["sh", "-c", "echo post-start-ran"]}}
      preStop:
        exec: {{command: ["sh", "-c", "echo pre-stop-ran"]}}
---
apiVersion: v1
kind: Secret
metadata:
  name: files-key
  namespace: default
stringData:
  azurestorageaccountname: filesacct
  azurestorageaccountkey: k-987654321
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-files
spec:
  capacity: {{storage: 100Gi}}
  accessModes: [ReadWriteMany]
  csi:
    driver: file.csi.azure.com
    volumeHandle: "rg#filesacct#orders##"
    nodeStageSecretRef: {{name: files-key, namespace: default}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: orders
  namespace: default
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  resources:
    requests: {{storage: 100Gi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: with-claim
  namespace: default
spec:
  nodeName: {node}
  containers:
  - name: app
    image: nginx
    volumeMounts: [{{name: data, mountPath: /data}}]
    ports: [{{containerPort: 80}}]
  volumes:
  - name: data
    persistentVolumeClaim: {{claimName: orders}}
"#
    )
}

async fn pod_features_flow(kubectl: &str) {
    let cluster = Cluster::start().await;
    let name = format!("vk-e2e-features-{}", kubectl.replace('.', "-"));
    let process = cluster.spawn_node(&name);
    cluster.ready_node(&name, &process).await;
    let file = cluster.dir.path().join("features.yaml");
    std::fs::write(&file, manifests(&name)).unwrap();
    let out = cluster
        .kubectl(kubectl, &["create", "-f", file.to_str().unwrap()])
        .await;
    assert!(out.status.success(), "create: {}", text(&out.stderr));

    // The hook pod: Ready only after its postStart hook ran.
    let out = cluster
        .kubectl(
            kubectl,
            &[
                "wait",
                "--for=condition=Ready",
                "pod/hooked",
                "--timeout=60s",
            ],
        )
        .await;
    assert!(
        out.status.success(),
        "wait Ready: {}\n--- vk-aci log ---\n{}",
        text(&out.stderr),
        process.log()
    );
    let journal = cluster.emulator.journal();
    assert!(
        journal.iter().any(|l| l.contains("post-start-ran")),
        "the postStart hook ran before Ready: {journal:?}"
    );

    // The claim pod waits for its claim, with the reason.
    let pods = cluster.pods("default");
    eventually(PATIENCE, "with-claim Pending for its claim", || {
        let pods = pods.clone();
        async move {
            pods.get_opt("with-claim")
                .await
                .ok()
                .flatten()
                .is_some_and(|p| {
                    p.status.and_then(|s| s.reason).as_deref()
                        == Some("PersistentVolumeClaimNotBound")
                })
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n--- vk-aci log ---\n{}", process.log()));
    let out = cluster
        .kubectl(kubectl, &["get", "pod", "with-claim", "-o", "wide"])
        .await;
    assert!(out.status.success(), "get: {}", text(&out.stderr));

    // The binder's work, with kubectl: the claim gets its volume, then Bound.
    let out = cluster
        .kubectl(
            kubectl,
            &[
                "patch",
                "pvc",
                "orders",
                "--type=merge",
                "-p",
                r#"{"spec":{"volumeName":"pv-files"}}"#,
            ],
        )
        .await;
    assert!(out.status.success(), "patch spec: {}", text(&out.stderr));
    let out = cluster
        .kubectl(
            kubectl,
            &[
                "patch",
                "pvc",
                "orders",
                "--subresource=status",
                "--type=merge",
                "-p",
                r#"{"status":{"phase":"Bound"}}"#,
            ],
        )
        .await;
    assert!(out.status.success(), "patch status: {}", text(&out.stderr));
    eventually(PATIENCE, "with-claim Running once bound", || {
        let pods = pods.clone();
        let name = name.clone();
        async move {
            pods.get_opt("with-claim")
                .await
                .ok()
                .flatten()
                .is_some_and(|p| running_on(&p, &name))
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n--- vk-aci log ---\n{}", process.log()));

    // Deleting the hook pod runs preStop before the DELETE.
    let out = cluster
        .kubectl(kubectl, &["delete", "pod", "hooked", "--timeout=60s"])
        .await;
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    let emulator = &cluster.emulator;
    let hooked = cluster.group_name("default", "hooked");
    eventually(PATIENCE, "the hook pod's group to be deleted", || async {
        !emulator.group_names().contains(&hooked)
    })
    .await
    .unwrap();
    let journal = emulator.journal();
    let hook = journal.iter().position(|l| l.contains("pre-stop-ran"));
    let delete = journal.iter().rposition(|l| l == "container_groups.delete");
    assert!(
        matches!((hook, delete), (Some(h), Some(d)) if h < d),
        "preStop before the DELETE: {journal:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_and_a_late_bound_claim_should_work_through_kubectl_1_33() {
    pod_features_flow("1.33").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_and_a_late_bound_claim_should_work_through_kubectl_1_27() {
    pod_features_flow("1.27").await;
}
