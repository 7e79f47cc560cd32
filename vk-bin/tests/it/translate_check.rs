//! `vk-aci translate` and `vk-aci check` run as a user would: on files and stdin.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn examples() -> Vec<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vk-translate/tests/fixtures/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 4);
    files
}

fn vk_aci(args: &[&str], files: &[PathBuf], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vk-aci"))
        .args(args)
        .args(files)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Splits a stream of pretty JSON documents.
fn json_documents(stdout: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<serde_json::Value>()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn translate_examples_should_print_one_arm_body_per_workload() {
    let out = vk_aci(&["translate"], &examples(), None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let documents = json_documents(&text(&out.stdout));
    assert_eq!(documents.len(), 4);
    for doc in &documents {
        let body = doc.as_object().unwrap();
        let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["location", "properties", "tags"], "{doc}");
        assert!(
            doc["properties"]["containers"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        );
        assert!(doc["tags"]["PodName"].is_string());
    }
    // The registry password is redacted by default.
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\"password\": \"<redacted>\""), "{stdout}");
    assert!(!stdout.contains("s3cret"));
    // Warnings go to stderr, naming the field.
    assert!(
        text(&out.stderr).contains("spec.dnsPolicy"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn translate_with_show_secrets_should_print_secret_values() {
    let file = examples()
        .into_iter()
        .find(|p| p.ends_with("private-registry-pod.yaml"))
        .unwrap();
    let out = vk_aci(&["translate", "--show-secrets"], &[file], None);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("\"password\": \"s3cret\""));
}

#[test]
fn translate_should_read_stdin_for_dash() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx\n";
    let out = vk_aci(&["translate", "-", "--region", "eastus"], &[], Some(pod));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let documents = json_documents(&text(&out.stdout));
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0]["location"], "eastus");
}

#[test]
fn check_examples_should_report_every_workload_and_succeed() {
    let out = vk_aci(&["check"], &examples(), None);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("Pod default/helloworld"), "{stdout}");
    assert!(stdout.contains("runs with changes"), "{stdout}");
    assert!(
        stdout.contains("Deployment virtualnode/nginx-vn"),
        "{stdout}"
    );
    // The pods get the API server's defaults first (issue 17): an unset dnsPolicy is
    // ClusterFirst, which a node without cluster DNS reachable from ACI warns about.
    assert!(
        stdout.contains("spec.dnsPolicy: the node has no cluster DNS reachable from ACI"),
        "{stdout}"
    );
    assert!(stdout.contains("4 workloads"), "{stdout}");
}

#[test]
fn check_should_exit_one_when_something_cannot_run() {
    let manifests = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: disk\nspec:\n  containers:\n  - name: c\n    image: nginx\n  volumes:\n  - name: h\n    hostPath: {path: /var}\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n      - name: c\n        image: agent\n";
    let out = vk_aci(&["check", "-"], &[], Some(manifests));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("cannot run"), "{stdout}");
    assert!(stdout.contains("spec.volumes[0].hostPath"), "{stdout}");
    assert!(stdout.contains("DaemonSet default/agent"), "{stdout}");
    assert!(stdout.contains("never scheduled"), "{stdout}");
}

#[test]
fn malformed_yaml_should_be_a_clear_error_with_exit_two() {
    let out = vk_aci(
        &["check", "-"],
        &[],
        Some("kind: Pod\n---\nmetadata: [unclosed\n"),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("-: document 2: invalid YAML"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn invalid_object_should_name_the_document_and_field() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: eighty}]\n";
    let out = vk_aci(&["translate", "-"], &[], Some(pod));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("document 1 (Pod \"p\")"), "{stderr}");
    assert!(
        stderr.contains("spec.containers[0].ports[0].containerPort"),
        "{stderr}"
    );
}

#[test]
fn missing_secret_should_be_a_clear_error_naming_the_field() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx\n    env:\n    - name: PASSWORD\n      valueFrom:\n        secretKeyRef: {name: db, key: password}\n";
    let out = vk_aci(&["translate", "-"], &[], Some(pod));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr
            .contains("spec.containers[0].env[0].valueFrom.secretKeyRef: secret \"db\" not found"),
        "{stderr}"
    );
}

#[test]
fn missing_file_and_bad_flags_should_exit_two() {
    let out = vk_aci(&["check", "/nonexistent/file.yaml"], &[], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/file.yaml"));
    let out = vk_aci(&["check", "--no-such-flag"], &[], None);
    assert_eq!(out.status.code(), Some(2));
    let out = vk_aci(&["translate"], &[], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn translate_with_a_subnet_and_master_uri_should_show_the_kube_proxy_extension_redacted() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: app, image: nginx}\n";
    let out = vk_aci(
        &[
            "translate",
            "--subnet-id",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vn/subnets/aci",
            "--master-uri",
            "https://10.0.0.1:443",
            "--enable-real-time-metrics",
            "-",
        ],
        &[],
        Some(pod),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc = &json_documents(&text(&out.stdout))[0];
    let extensions = &doc["properties"]["extensions"];
    assert_eq!(extensions[0]["name"], "kube-proxy", "{doc:#}");
    assert_eq!(
        extensions[0]["properties"]["protectedSettings"]["kubeConfig"],
        "<redacted>"
    );
    assert_eq!(
        extensions[0]["properties"]["settings"]["clusterCidr"],
        "10.240.0.0/16"
    );
    assert_eq!(extensions[1]["name"], "vk-realtime-metrics");
}

/// A pod on an Azure Files claim, its claim, volume and key Secret (issue 14).
const CLAIM_MANIFESTS: &str = "\
apiVersion: v1
kind: Secret
metadata: {name: files-key, namespace: shop}
stringData: {azurestorageaccountname: acct, azurestorageaccountkey: st0rage-k3y}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-files}
spec:
  accessModes: [ReadWriteMany]
  capacity: {storage: 1Gi}
  csi:
    driver: file.csi.azure.com
    volumeHandle: rg#acct#orders
    nodeStageSecretRef: {name: files-key, namespace: shop}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: orders, namespace: shop}
spec:
  accessModes: [ReadWriteMany]
  volumeName: pv-files
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop}
spec:
  containers:
  - name: api
    image: nginx
    volumeMounts: [{name: orders, mountPath: /orders}]
    lifecycle:
      preStop: {exec: {command: [nginx, -s, quit]}}
  volumes:
  - name: orders
    persistentVolumeClaim: {claimName: orders}
";

#[test]
fn translate_should_resolve_azure_files_claims_from_the_same_files_and_list_hooks() {
    let out = vk_aci(&["translate", "-"], &[], Some(CLAIM_MANIFESTS));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = text(&out.stdout);
    let doc = &json_documents(&stdout)[0];
    let file = &doc["properties"]["volumes"][0]["azureFile"];
    assert_eq!(file["shareName"], "orders", "{doc:#}");
    assert_eq!(file["storageAccountName"], "acct");
    assert_eq!(file["storageAccountKey"], "<redacted>");
    assert!(!stdout.contains("st0rage-k3y") && !stderr.contains("st0rage-k3y"));
    assert!(
        stderr.contains(
            "hook: container api: preStop runs [\"nginx\", \"-s\", \"quit\"] through ACI's exec API"
        ),
        "{stderr}"
    );
    let shown = vk_aci(
        &["translate", "--show-secrets", "-"],
        &[],
        Some(CLAIM_MANIFESTS),
    );
    assert!(text(&shown.stdout).contains("\"storageAccountKey\": \"st0rage-k3y\""));
}

#[test]
fn check_should_report_waiting_claims_and_the_new_placements() {
    let manifests = format!(
        "{CLAIM_MANIFESTS}---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: fresh}}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: azurefile-csi
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: waits}}
spec:
  containers: [{{name: c, image: nginx}}]
  volumes: [{{name: fresh, persistentVolumeClaim: {{claimName: fresh}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: spot-web}}
spec:
  tolerations: [{{key: kubernetes.azure.com/scalesetpriority, operator: Exists}}]
  containers: [{{name: c, image: nginx, ports: [{{containerPort: 80}}]}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: zoned
spec:
  nodeSelector: {{topology.kubernetes.io/zone: westus-1, failure-domain.beta.kubernetes.io/zone: '2'}}
  containers: [{{name: c, image: nginx}}]
"
    );
    let out = vk_aci(&["check", "-"], &[], Some(&manifests));
    let stdout = text(&out.stdout);
    // Waiting for a claim is not a failure; the contradictory zones are.
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "Pod default/waits (-, document 6): waits (stays Pending until its claims are Bound)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("persistentvolumeclaim \"fresh\" is not bound yet"),
        "{stdout}"
    );
    assert!(stdout.contains("1 waits for volumes"), "{stdout}");
    assert!(
        stdout.contains("preStop.exec: ACI has no lifecycle hooks: the virtual node runs this command through ACI's exec API"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ACI gives Spot groups no inbound connectivity"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the pod's zone constraints allow no zone together"),
        "{stdout}"
    );

    let waiting_only = "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec:\n  containers: [{name: c, image: nginx}]\n  volumes: [{name: v, persistentVolumeClaim: {claimName: v}}]\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: v}\nspec: {accessModes: [ReadWriteMany], resources: {requests: {storage: 1Gi}}}\n";
    let out = vk_aci(&["check", "-"], &[], Some(waiting_only));
    assert!(out.status.success(), "{}", text(&out.stdout));
}
