//! Snapshots of the translation of every fixture: the shared examples and the realistic pods
//! in `tests/fixtures/pods/` (secret values redacted).
//!
//! A fixture may hold a `kind: TestNode` document setting the node options it needs.

use std::path::Path;

use serde::{Deserialize, Serialize};
use vk_translate::manifests::{Manifests, Outcome};
use vk_translate::{ClusterCredentials, KubeProxyOptions, NodeOptions, redact_secrets};

/// Node options a fixture asks for.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct TestNode {
    subnet_ids: Vec<String>,
    cluster_dns: Option<String>,
    cluster_domain: Option<String>,
    cluster_name: Option<String>,
    cluster_resource_id: Option<String>,
    log_analytics: Option<TestLogAnalytics>,
    kube_proxy: Option<TestKubeProxy>,
    realtime_metrics: bool,
    region: Option<String>,
    zones: Vec<String>,
    acr_pull_identity: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestKubeProxy {
    master_uri: String,
    cluster_cidr: String,
    ca_pem: String,
    token: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestLogAnalytics {
    workspace_id: String,
    workspace_key: String,
}

fn node_options(text: &str) -> NodeOptions {
    let mut node = NodeOptions::default().node_name("virtual-node-aci-linux");
    for document in serde_yaml::Deserializer::from_str(text) {
        let Ok(value) = serde_yaml::Value::deserialize(document) else {
            break;
        };
        if value.get("kind").and_then(serde_yaml::Value::as_str) != Some("TestNode") {
            continue;
        }
        let test: TestNode = serde_yaml::from_value(value).unwrap();
        if !test.subnet_ids.is_empty() {
            node = node.private_ip(test.subnet_ids);
        }
        if let Some(dns) = test.cluster_dns {
            node = node.cluster_dns(dns);
        }
        if let Some(domain) = test.cluster_domain {
            node = node.cluster_domain(domain);
        }
        if let Some(name) = test.cluster_name {
            node = node.cluster_name(name);
        }
        if let Some(id) = test.cluster_resource_id {
            node = node.cluster_resource_id(id);
        }
        if let Some(log) = test.log_analytics {
            node = node.log_analytics(log.workspace_id, log.workspace_key);
        }
        if let Some(proxy) = test.kube_proxy {
            let credentials = ClusterCredentials {
                ca_pem: proxy.ca_pem.into_bytes(),
                token: Some(proxy.token),
                client_certificate_pem: None,
                client_key_pem: None,
            };
            node = node.kube_proxy(KubeProxyOptions::new(
                proxy.cluster_cidr,
                &proxy.master_uri,
                &credentials,
            ));
        }
        node = node.realtime_metrics(test.realtime_metrics);
        if let Some(region) = test.region {
            node = node.region(region);
        }
        if !test.zones.is_empty() {
            node = node.zones(test.zones);
        }
        if let Some(identity) = test.acr_pull_identity {
            node = node.acr_pull_identity(identity);
        }
    }
    node
}

/// What a snapshot records for one workload.
#[derive(Serialize)]
struct Snapshot {
    workload: String,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_group_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_group: Option<serde_json::Value>,
    /// The lifecycle hooks the provider runs, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    hooks: Option<serde_json::Value>,
}

fn snapshots(path: &Path) -> Vec<Snapshot> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut manifests = Manifests::default();
    manifests.add("fixture.yaml", &text).unwrap();
    assert!(
        !manifests.workloads.is_empty(),
        "no workload in {}",
        path.display()
    );
    manifests
        .translate(&node_options(&text))
        .into_iter()
        .map(|result| {
            let w = &result.workload;
            let workload = format!("{} {}/{}", w.kind, w.namespace, w.name);
            match result.outcome {
                Outcome::Runs(t) => {
                    let mut group = t.container_group;
                    redact_secrets(&mut group);
                    Snapshot {
                        workload,
                        outcome: if t.warnings.is_empty() {
                            "runs as is"
                        } else {
                            "runs with changes"
                        },
                        container_group_name: Some(t.name),
                        warnings: t.warnings.iter().map(ToString::to_string).collect(),
                        errors: Vec::new(),
                        reason: None,
                        container_group: Some(serde_json::to_value(&group).unwrap()),
                        hooks: (!t.hooks.is_empty())
                            .then(|| serde_json::to_value(&t.hooks).unwrap()),
                    }
                }
                Outcome::CannotRun(e) => Snapshot {
                    workload,
                    outcome: "cannot run",
                    container_group_name: None,
                    warnings: Vec::new(),
                    errors: e.field_errors().iter().map(ToString::to_string).collect(),
                    reason: Some(e.reason().to_owned()),
                    container_group: None,
                    hooks: None,
                },
                Outcome::NeverScheduled(reason) => Snapshot {
                    workload,
                    outcome: "never scheduled",
                    container_group_name: None,
                    warnings: Vec::new(),
                    errors: Vec::new(),
                    reason: Some(reason.to_owned()),
                    container_group: None,
                    hooks: None,
                },
            }
        })
        .collect()
}

#[test]
fn shared_examples_should_translate_as_snapshotted() {
    insta::glob!("../fixtures/examples", "*.yaml", |path| {
        insta::assert_yaml_snapshot!(snapshots(path));
    });
}

#[test]
fn realistic_pods_should_translate_as_snapshotted() {
    insta::glob!("../fixtures/pods", "*.yaml", |path| {
        insta::assert_yaml_snapshot!(snapshots(path));
    });
}

#[test]
fn snapshots_should_hold_no_secret_value() {
    // Every secret value used by the fixtures, decoded.
    let secrets = [
        "super-secret-pw",
        "tok-123456",
        "k-987654321",
        "hunter22",
        "hubpass",
        "acrpassword",
        "s3cret",
        "workspace-key-secret",
        "c3RvcmFnZS1rZXktdmFsdWU=",
        "private-key",
        "cHJpdmF0ZS1rZXk",
        "kube-proxy-sa-token",
        "aks-dns.hcp",
        "c3VwZXItc2VjcmV0LXB3",
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} in {}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} snapshots");
}
