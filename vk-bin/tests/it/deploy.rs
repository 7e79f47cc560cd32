//! deploy/kustomize rendered with `kubectl kustomize` agrees with what the binary accepts:
//! every flag and variable the StatefulSet passes exists, probes hit the health port, and
//! the ClusterRole grants what the virtual node calls.
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_yaml::Value;

use crate::kubectl;

/// The workspace root.
pub(super) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn render(dir: &str) -> Vec<Value> {
    render_path(&root().join(dir), dir)
}

fn render_path(path: &std::path::Path, dir: &str) -> Vec<Value> {
    let out = Command::new(kubectl::path(kubectl::CURRENT))
        .arg("kustomize")
        .arg(path)
        .output()
        .unwrap();
    documents(out, &format!("kustomize {dir}"))
}

/// The YAML documents a successful renderer (`what`) printed, empty ones dropped.
pub(super) fn documents(out: Output, what: &str) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|d: &Value| !d.is_null())
        .collect()
}

pub(super) fn run_help() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vk-aci"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

pub(super) fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

/// Upstream flags `vk-aci run` accepts without listing them in `--help` (the helm module
/// runs the binary with them).
const HIDDEN_UPSTREAM_FLAGS: &[&str] = &[
    "--trace-exporter",
    "--trace-sample-rate",
    "--trace-service-name",
];

pub(super) fn check_statefulset(docs: &[Value], help: &str) {
    let container = &kind(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "run");
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        let name = flag.split('=').next().unwrap();
        assert!(
            help.contains(&format!("{name} "))
                || help.contains(&format!("{name}["))
                || HIDDEN_UPSTREAM_FLAGS.contains(&name),
            "vk-aci run has no {name}"
        );
    }
    // Credential variables are read by credential selection, not by flags.
    let azure_env = vk_aci::arm::credentials::ENV_VARS;
    for env in container["env"].as_sequence().unwrap() {
        let name = env["name"].as_str().unwrap();
        assert!(
            help.contains(&format!("env: {name}="))
                || azure_env.contains(&name)
                || name == "POD_NAME",
            "vk-aci run reads no {name}"
        );
    }
    let ports = container["ports"].as_sequence().unwrap();
    let port = |name: &str| {
        ports
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_u64())
    };
    assert_eq!(port("kubelet"), Some(10250), "KUBELET_PORT default");
    assert_eq!(port("metrics"), Some(10255), "--metrics-addr default");
    assert!(help.contains("0.0.0.0:10255"));
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/livez");
}

pub(super) fn grants(docs: &[Value], group: &str, resource: &str, verb: &str) -> bool {
    kind(docs, "ClusterRole")["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|rule| {
            let has = |field: &str, want: &str| {
                rule[field]
                    .as_sequence()
                    .is_some_and(|s| s.iter().any(|v| v == want || v == "*"))
            };
            has("apiGroups", group) && has("resources", resource) && has("verbs", verb)
        })
}

/// Whether the rendered RBAC lets the node `verb` CertificateSigningRequests.
pub(super) fn grants_csrs(docs: &[Value], verb: &str) -> bool {
    grants(
        docs,
        "certificates.k8s.io",
        "certificatesigningrequests",
        verb,
    )
}

/// The rendered RBAC grants what `--rotate-server-certificates` needs: create and follow
/// the node's CertificateSigningRequests.
pub(super) fn check_csr_rights(docs: &[Value]) {
    for verb in ["create", "get", "list", "watch"] {
        assert!(
            grants_csrs(docs, verb),
            "missing {verb} certificatesigningrequests"
        );
    }
}

/// Issue 15, item 9: kube-proxy's own identity in VNet mode. A ServiceAccount bound to a
/// ClusterRole with the rules of `system:node-proxier` and nothing more, and a Role that
/// lets vk-aci's ServiceAccount `vk_aci_account` mint tokens for that ServiceAccount only.
pub(super) fn check_kube_proxy_rbac(docs: &[Value], vk_aci_account: &str) {
    let named = |kind: &str, suffix: &str| {
        docs.iter()
            .find(|d| {
                d["kind"] == kind
                    && d["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.ends_with(suffix))
            })
            .unwrap_or_else(|| panic!("no {kind} named *{suffix}"))
    };
    let account = named("ServiceAccount", "vk-aci-kube-proxy");
    assert_eq!(account["automountServiceAccountToken"], false);
    let namespace = account["metadata"]["namespace"].clone();
    let role = named("ClusterRole", "-kube-proxy");
    let rules = role["rules"].as_sequence().unwrap();
    let list = |rule: &Value, field: &str| -> Vec<String> {
        rule[field]
            .as_sequence()
            .map(|s| {
                s.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let allows = |group: &str, resource: &str, verb: &str| {
        rules.iter().any(|rule| {
            list(rule, "apiGroups").iter().any(|g| g == group)
                && list(rule, "resources").iter().any(|r| r == resource)
                && list(rule, "verbs").iter().any(|v| v == verb)
        })
    };
    for (group, resource) in [
        ("", "endpoints"),
        ("", "services"),
        ("", "nodes"),
        ("discovery.k8s.io", "endpointslices"),
    ] {
        for verb in ["get", "list", "watch"] {
            assert!(
                allows(group, resource, verb),
                "kube-proxy: {verb} {resource}"
            );
        }
    }
    for verb in ["create", "patch", "update"] {
        assert!(allows("", "events", verb), "kube-proxy: {verb} events");
    }
    for rule in rules {
        let resources = list(rule, "resources");
        let verbs = list(rule, "verbs");
        assert!(
            resources.iter().all(|r| [
                "endpoints",
                "services",
                "nodes",
                "endpointslices",
                "events"
            ]
            .contains(&r.as_str())),
            "kube-proxy gets nothing more than system:node-proxier: {resources:?}"
        );
        assert!(
            !verbs.iter().any(|v| v == "*" || v == "delete"),
            "{verbs:?}"
        );
        if resources.iter().any(|r| r != "events") {
            assert!(
                verbs
                    .iter()
                    .all(|v| ["get", "list", "watch"].contains(&v.as_str())),
                "kube-proxy only reads: {verbs:?}"
            );
        }
    }
    let binding = named("ClusterRoleBinding", "-kube-proxy");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], "vk-aci-kube-proxy");
    assert_eq!(binding["subjects"][0]["namespace"], namespace);
    let token = named("Role", "-kube-proxy-token");
    assert_eq!(token["metadata"]["namespace"], namespace);
    let token_rules = token["rules"].as_sequence().unwrap();
    assert_eq!(token_rules.len(), 1, "{token_rules:?}");
    assert_eq!(
        list(&token_rules[0], "resources"),
        ["serviceaccounts/token"]
    );
    assert_eq!(list(&token_rules[0], "verbs"), ["create"]);
    assert_eq!(
        list(&token_rules[0], "resourceNames"),
        ["vk-aci-kube-proxy"],
        "tokens for kube-proxy's ServiceAccount only"
    );
    let token_binding = named("RoleBinding", "-kube-proxy-token");
    assert_eq!(token_binding["roleRef"]["name"], token["metadata"]["name"]);
    assert_eq!(token_binding["subjects"][0]["name"], vk_aci_account);
    assert_eq!(token_binding["subjects"][0]["namespace"], namespace);
}

pub(super) fn check_rbac(docs: &[Value]) {
    for (group, resource, verbs) in [
        ("", "nodes", &["get", "create", "patch"][..]),
        ("", "nodes/status", &["patch"]),
        ("", "pods", &["get", "list", "watch", "delete"]),
        ("", "pods/status", &["patch", "update"]),
        ("", "secrets", &["get"]),
        ("", "configmaps", &["get"]),
        ("", "persistentvolumeclaims", &["get"]),
        ("", "persistentvolumes", &["get"]),
        ("", "events", &["create"]),
        (
            "coordination.k8s.io",
            "leases",
            &["get", "create", "update"],
        ),
        ("authentication.k8s.io", "tokenreviews", &["create"]),
        ("authorization.k8s.io", "subjectaccessreviews", &["create"]),
    ] {
        for verb in verbs {
            assert!(
                grants(docs, group, resource, verb),
                "missing {verb} {group}/{resource}"
            );
        }
    }
    assert!(
        !grants(docs, "", "secrets", "list"),
        "secrets are read one by one"
    );
    for resource in ["persistentvolumeclaims", "persistentvolumes"] {
        assert!(
            !grants(docs, "", resource, "list"),
            "{resource} are read one by one (issue 14: get only)"
        );
    }
    assert!(
        !grants(docs, "", "pods", "create"),
        "the node never creates pods"
    );
}

#[test]
fn the_kustomize_base_and_overlays_should_match_the_binary() {
    let help = run_help();
    for dir in [
        "deploy/kustomize/base",
        "deploy/kustomize/overlays/service-principal",
        "deploy/kustomize/overlays/workload-identity",
    ] {
        let docs = render(dir);
        check_statefulset(&docs, &help);
        check_rbac(&docs);
        check_kube_proxy_rbac(&docs, "vk-aci");
        assert!(
            !grants_csrs(&docs, "create"),
            "{dir}: certificatesigningrequests only with the rotate-server-certificates component"
        );
    }
}

#[test]
fn the_rotate_server_certificates_component_should_grant_csrs_and_set_the_flag() {
    let help = run_help();
    // kustomize wants relative paths: an overlay in a temporary directory pointing back.
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(root()).unwrap();
    let depth = dir.path().components().count() - 1;
    let back = "../".repeat(depth) + root.to_str().unwrap().trim_start_matches('/');
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {back}/deploy/kustomize/overlays/workload-identity\ncomponents:\n  - {back}/deploy/kustomize/components/rotate-server-certificates\n"
        ),
    )
    .unwrap();
    let docs = render_path(dir.path(), "workload-identity + rotate-server-certificates");
    check_statefulset(&docs, &help);
    check_rbac(&docs);
    check_csr_rights(&docs);
    assert!(
        !grants(
            &docs,
            "certificates.k8s.io",
            "certificatesigningrequests/approval",
            "update"
        ),
        "the node never approves its own requests"
    );
    let env = &kind(&docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_sequence()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "VKUBELET_ROTATE_SERVER_CERTIFICATES" && e["value"] == "true")
    );
}

#[test]
fn invoked_as_virtual_kubelet_with_bad_settings_should_exit_2_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("virtual-kubelet");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_vk-aci"), &link).unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut cmd = Command::new(&link);
        cmd.args(args)
            .env_remove("ACI_RESOURCE_GROUP")
            .env_remove("ACI_REGION")
            .env_remove("KUBECONFIG")
            .env(
                "AZURE_SUBSCRIPTION_ID",
                "00000000-0000-0000-0000-000000000000",
            );
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let endpoint = [
        "--aci-endpoint",
        "http://127.0.0.1:1",
        "--provider",
        "azure",
        "--disable-taint",
        "true",
    ];

    let out = run(&[("ACI_REGION", "westus")], &endpoint);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no resource group"));

    let out = run(
        &[
            ("ACI_REGION", "westus"),
            ("ACI_RESOURCE_GROUP", "rg"),
            ("VKUBELET_TAINT_EFFECT", "Sometimes"),
        ],
        &endpoint,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VKUBELET_TAINT_EFFECT"));

    let out = run(
        &[
            ("ACI_REGION", "westus"),
            ("ACI_RESOURCE_GROUP", "rg"),
            ("APISERVER_CERT_LOCATION", "/nonexistent/cert.pem"),
            ("APISERVER_KEY_LOCATION", "/nonexistent/key.pem"),
        ],
        &endpoint,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/cert.pem"));
}

#[test]
fn the_provider_config_file_should_supply_settings_and_reject_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let run = |toml: &str| {
        let path = dir.path().join("provider.toml");
        std::fs::write(&path, toml).unwrap();
        Command::new(env!("CARGO_BIN_EXE_vk-aci"))
            .args([
                "run",
                "--aci-endpoint",
                "http://127.0.0.1:1",
                "--provider-config",
            ])
            .arg(&path)
            .env_remove("ACI_RESOURCE_GROUP")
            .env_remove("ACI_REGION")
            .env_remove("KUBECONFIG")
            .env("VKUBELET_TAINT_EFFECT", "Sometimes")
            .output()
            .unwrap()
    };
    // ResourceGroup and Region come from the file: the first problem left is the taint.
    let out = run("ResourceGroup = \"rg\"\nRegion = \"westus\"\n");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("VKUBELET_TAINT_EFFECT"), "{stderr}");

    let out = run("ResourceGroup = \"rg\"\nRegoin = \"westus\"\n");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown key \"Regoin\""), "{stderr}");
}

#[test]
fn trace_flags_should_warn_that_traces_are_not_exported() {
    let out = Command::new(env!("CARGO_BIN_EXE_vk-aci"))
        .args(["run", "--aci-endpoint", "http://127.0.0.1:1"])
        .args(["--trace-exporter", "jaeger", "--trace-sample-rate", "0.5"])
        .env_remove("ACI_RESOURCE_GROUP")
        .env_remove("ACI_REGION")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    // No resource group: exit 2, after the warnings.
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for flag in ["--trace-exporter", "--trace-sample-rate"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("WARN") && l.contains(flag) && l.contains("not exported")),
            "{stderr}"
        );
    }
}
