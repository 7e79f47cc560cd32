//! Discovery documents: `/version`, `/api`, `/api/v1`, `/apis` and the group/version
//! resource lists kubectl and kube-rs read. Aggregated discovery (`apidiscovery.k8s.io`)
//! is not served: clients asking for it get the plain documents and fall back.
use serde_json::{Value, json};

use super::metrics_api;
use super::resources::{self, RESOURCES};

/// The version the fake claims to be.
pub(crate) const GIT_VERSION: &str = "v1.33.0-fake";

/// `/version`.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub(crate) fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    })
}

fn group_entry(group: &str, versions: &[&str]) -> Value {
    let gvs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "preferredVersion": gvs.first().cloned().unwrap_or_default(),
        "versions": gvs,
    })
}

/// `/apis`; `metrics` adds `metrics.k8s.io`, as metrics-server's APIService does.
pub(crate) fn groups(metrics: bool) -> Value {
    let mut groups: Vec<Value> = resources::groups()
        .iter()
        .map(|(g, v)| group_entry(g, v))
        .collect();
    if metrics {
        groups.push(metrics_api::group_entry());
    }
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": groups,
    })
}

/// `/apis/{group}`, if served.
pub(crate) fn group(name: &str, metrics: bool) -> Option<Value> {
    if metrics && name == metrics_api::GROUP {
        return Some(metrics_api::api_group());
    }
    let (g, v) = resources::groups().into_iter().find(|(g, _)| *g == name)?;
    let mut e = group_entry(g, &v);
    e["kind"] = json!("APIGroup");
    e["apiVersion"] = json!("v1");
    Some(e)
}

/// `/api/v1` or `/apis/{group}/{version}`, if served.
pub(crate) fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut list = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs(),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if matches!(
            r.plural,
            "pods" | "deployments" | "replicasets" | "horizontalpodautoscalers"
        ) {
            entry["categories"] = json!(["all"]);
        }
        list.push(entry);
        for sub in r.subresources {
            let (kind, verbs): (&str, &[&str]) = match *sub {
                "status" | "approval" => (r.kind, &["get", "patch", "update"]),
                "scale" => ("Scale", &["get", "patch", "update"]),
                "token" => ("TokenRequest", &["create"]),
                "binding" => ("Binding", &["create"]),
                "eviction" => ("Eviction", &["create"]),
                "log" => ("Pod", &["get"]),
                "exec" | "attach" | "portforward" => ("PodExecOptions", &["create", "get"]),
                "proxy" => (
                    "NodeProxyOptions",
                    &["create", "delete", "get", "patch", "update"],
                ),
                _ => (r.kind, &["get"]),
            };
            list.push(json!({
                "name": format!("{}/{sub}", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": verbs,
            }));
        }
    }
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": list,
    }))
}
