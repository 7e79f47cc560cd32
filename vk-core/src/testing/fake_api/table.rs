//! Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get` (pods, nodes and
//! deployments get their usual columns; everything else NAME and AGE).
use serde_json::{Value, json};

use super::resources::Resource;

/// Whether an `Accept` header asks for a Table.
pub(crate) fn wants_table(accept: &str) -> bool {
    accept.contains("as=Table")
}

fn col(name: &str, ty: &str, priority: u8, description: &str) -> Value {
    let mut c = json!({"name": name, "type": ty, "format": "", "description": description, "priority": priority});
    if name == "Name" {
        c["format"] = json!("name");
    }
    c
}

fn columns(res: &Resource) -> Vec<Value> {
    let name = col(
        "Name",
        "string",
        0,
        "Name must be unique within a namespace.",
    );
    let age = col(
        "Age",
        "string",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    match res.plural {
        "pods" => vec![
            name,
            col(
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            age,
            col(
                "IP",
                "string",
                1,
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            ),
            col(
                "Node",
                "string",
                1,
                "NodeName is a request to schedule this pod onto a specific node.",
            ),
            col(
                "Nominated Node",
                "string",
                1,
                "nominatedNodeName is set only when this pod preempts other pods on the node.",
            ),
            col(
                "Readiness Gates",
                "string",
                1,
                "If specified, all readiness gates will be evaluated for pod readiness.",
            ),
        ],
        "nodes" => vec![
            name,
            col("Status", "string", 0, "The status of the node"),
            col("Roles", "string", 0, "The roles of the node"),
            age,
            col(
                "Version",
                "string",
                0,
                "Kubelet Version reported by the node.",
            ),
            col(
                "Internal-IP",
                "string",
                1,
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
            ),
            col(
                "External-IP",
                "string",
                1,
                "List of addresses reachable to the node. Queried from cloud provider, if available.",
            ),
            col(
                "OS-Image",
                "string",
                1,
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
            ),
            col(
                "Kernel-Version",
                "string",
                1,
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
            ),
            col(
                "Container-Runtime",
                "string",
                1,
                "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
            ),
        ],
        "deployments" => vec![
            name,
            col("Ready", "string", 0, "Number of the pod with ready state"),
            col(
                "Up-to-date",
                "string",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            col(
                "Available",
                "string",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            age,
        ],
        "certificatesigningrequests" => vec![
            name,
            age,
            col("SignerName", "string", 0, "The name of the signer."),
            col(
                "Requestor",
                "string",
                0,
                "The user that created the request.",
            ),
            col(
                "Condition",
                "string",
                0,
                "The request's conditions, or Pending.",
            ),
        ],
        _ => vec![name, age],
    }
}

/// A short age like kubectl prints (`5s`, `3m2s`, `4h`, `2d3h`).
pub(crate) fn age(created: Option<&str>, now: jiff::Timestamp) -> String {
    let Some(t) = created.and_then(|c| c.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let secs = now.as_second().saturating_sub(t.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn or_none(x: &str) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x.into()
    }
}

fn pod_cells(o: &Value, age: String) -> Vec<Value> {
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let statuses = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ready = statuses
        .iter()
        .filter(|c| c["ready"] == json!(true))
        .count();
    let restarts: i64 = statuses
        .iter()
        .filter_map(|c| c["restartCount"].as_i64())
        .sum();
    let mut status = s(o, "/status/reason").to_owned();
    if status.is_empty() {
        status = s(o, "/status/phase").to_owned();
    }
    for c in &statuses {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            status = r.to_owned();
        } else if let Some(r) = c
            .pointer("/state/terminated/reason")
            .and_then(Value::as_str)
        {
            status = r.to_owned();
        }
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        status = "Terminating".into();
    }
    vec![
        json!(s(o, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts),
        json!(age),
        json!(or_none(s(o, "/status/podIP"))),
        json!(or_none(s(o, "/spec/nodeName"))),
        json!(or_none(s(o, "/status/nominatedNodeName"))),
        json!("<none>"),
    ]
}

fn node_cells(o: &Value, age: String) -> Vec<Value> {
    let conds = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ready = conds.iter().find(|c| c["type"] == "Ready");
    let mut status = match ready.and_then(|c| c["status"].as_str()) {
        Some("True") => "Ready".to_owned(),
        _ => "NotReady".to_owned(),
    };
    if o.pointer("/spec/unschedulable") == Some(&json!(true)) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            // As the API server's node printer: `node-role.kubernetes.io/<role>` keys and
            // the value of the older `kubernetes.io/role` label (which virtual nodes carry).
            l.iter()
                .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
                    Some(role) if !role.is_empty() => Some(role.to_owned()),
                    _ if k == "kubernetes.io/role" => {
                        v.as_str().filter(|v| !v.is_empty()).map(str::to_owned)
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let addr = |ty: &str| {
        o.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|x| x["type"] == ty))
            .and_then(|x| x["address"].as_str())
            .unwrap_or("<none>")
            .to_owned()
    };
    vec![
        json!(s(o, "/metadata/name")),
        json!(status),
        json!(if roles.is_empty() {
            "<none>".to_owned()
        } else {
            roles.join(",")
        }),
        json!(age),
        json!(s(o, "/status/nodeInfo/kubeletVersion")),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(or_none(s(o, "/status/nodeInfo/osImage"))),
        json!(or_none(s(o, "/status/nodeInfo/kernelVersion"))),
        json!(or_none(s(o, "/status/nodeInfo/containerRuntimeVersion"))),
    ]
}

fn deployment_cells(o: &Value, age: String) -> Vec<Value> {
    let n = |p: &str| o.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    vec![
        json!(s(o, "/metadata/name")),
        json!(format!(
            "{}/{}",
            n("/status/readyReplicas"),
            n("/spec/replicas")
        )),
        json!(n("/status/updatedReplicas")),
        json!(n("/status/availableReplicas")),
        json!(age),
    ]
}

fn csr_cells(o: &Value, age: String) -> Vec<Value> {
    let mut conditions: Vec<&str> = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter_map(|c| c["type"].as_str()).collect())
        .unwrap_or_default();
    if o.pointer("/status/certificate")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.is_empty())
    {
        conditions.push("Issued");
    }
    let condition = if conditions.is_empty() {
        "Pending".to_owned()
    } else {
        conditions.join(",")
    };
    vec![
        json!(s(o, "/metadata/name")),
        json!(age),
        json!(s(o, "/spec/signerName")),
        json!(s(o, "/spec/username")),
        json!(condition),
    ]
}

fn row(res: &Resource, o: &Value, now: jiff::Timestamp) -> Value {
    let age = age(
        o.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
        now,
    );
    let cells = match res.plural {
        "pods" => pod_cells(o, age),
        "nodes" => node_cells(o, age),
        "deployments" => deployment_cells(o, age),
        "certificatesigningrequests" => csr_cells(o, age),
        _ => vec![json!(s(o, "/metadata/name")), json!(age)],
    };
    json!({
        "cells": cells,
        "object": {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": o.get("metadata").cloned().unwrap_or_else(|| json!({})),
        },
    })
}

/// A Table of `items`; `with_columns` false leaves the column definitions out (watch
/// events after the first).
pub(crate) fn table(
    res: &Resource,
    items: &[Value],
    rv: &str,
    cont: Option<&str>,
    now: jiff::Timestamp,
    with_columns: bool,
) -> Value {
    let mut meta = json!({"resourceVersion": rv});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": if with_columns { json!(columns(res)) } else { json!([]) },
        "rows": items.iter().map(|o| row(res, o, now)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_roles_should_come_from_both_role_label_forms() {
        let node = json!({"metadata": {"name": "n", "labels": {
            "kubernetes.io/role": "agent",
            "node-role.kubernetes.io/control-plane": "",
            "type": "virtual-kubelet",
        }}});
        let cells = node_cells(&node, "1s".to_owned());
        let roles = cells[2].as_str().unwrap();
        let mut roles: Vec<&str> = roles.split(',').collect();
        roles.sort_unstable();
        assert_eq!(roles, ["agent", "control-plane"]);
    }

    #[test]
    fn node_without_role_labels_should_show_none() {
        let node = json!({"metadata": {"name": "n", "labels": {"kubernetes.io/role": ""}}});
        assert_eq!(node_cells(&node, "1s".to_owned())[2], json!("<none>"));
    }
}
