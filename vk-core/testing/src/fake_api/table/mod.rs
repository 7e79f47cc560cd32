//! Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get` (pods, nodes,
//! deployments, HPAs, CSRs and, through `network`, Services, Endpoints,
//! EndpointSlices and Jobs get their usual columns; everything else NAME and AGE).
mod age;
mod columns;
mod network;

use serde_json::{Value, json};

use super::quantity::Quantity;
use super::resources::Resource;
use age::age;
use columns::columns;

/// Whether an `Accept` header asks for a Table.
pub(crate) fn wants_table(accept: &str) -> bool {
    accept.contains("as=Table")
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

/// A quantity as the printer shows it (canonical), `<unknown>` when absent.
fn quantity_text(q: Option<&Value>) -> String {
    match q {
        Some(Value::String(s)) => Quantity::parse(s).map_or_else(|| s.clone(), |q| q.to_string()),
        Some(Value::Number(n)) => n.to_string(),
        _ => "<unknown>".into(),
    }
}

/// `formatHPAMetrics`: `cpu: 45%/50%` per metric, at most two then `+ N more...`.
fn hpa_targets(o: &Value) -> String {
    let specs = o
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if specs.is_empty() {
        return "<none>".into();
    }
    let statuses = o
        .pointer("/status/currentMetrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let status = |i: usize, key: &str| {
        statuses
            .get(i)
            .and_then(|m| m.get(key))
            .filter(|v| v.is_object())
    };
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let entry = match s(spec, "/type") {
            "Resource" | "ContainerResource" => {
                let key = if s(spec, "/type") == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let src = &spec[key];
                let name = s(src, "/name");
                let current = status(i, key);
                if src
                    .pointer("/target/averageValue")
                    .is_some_and(|v| !v.is_null())
                {
                    let cur = current.map_or_else(
                        || "<unknown>".to_owned(),
                        |c| quantity_text(c.pointer("/current/averageValue")),
                    );
                    format!(
                        "{name}: {cur}/{}",
                        quantity_text(src.pointer("/target/averageValue"))
                    )
                } else {
                    let cur = current
                        .and_then(|c| c.pointer("/current/averageUtilization"))
                        .and_then(Value::as_i64)
                        .map_or_else(|| "<unknown>".to_owned(), |u| format!("{u}%"));
                    let target = src
                        .pointer("/target/averageUtilization")
                        .and_then(Value::as_i64)
                        .map_or_else(|| "<auto>".to_owned(), |u| format!("{u}%"));
                    format!("{name}: {cur}/{target}")
                }
            }
            "Pods" => format!(
                "{}/{}",
                status(i, "pods").map_or_else(
                    || "<unknown>".to_owned(),
                    |c| quantity_text(c.pointer("/current/averageValue"))
                ),
                quantity_text(spec.pointer("/pods/target/averageValue"))
            ),
            ty @ ("Object" | "External") => {
                let key = if ty == "Object" { "object" } else { "external" };
                let avg = spec[key]
                    .pointer("/target/averageValue")
                    .is_some_and(|v| !v.is_null());
                let field = if avg { "averageValue" } else { "value" };
                let cur = status(i, key).map_or_else(
                    || "<unknown>".to_owned(),
                    |c| quantity_text(c.pointer(&format!("/current/{field}"))),
                );
                let target = quantity_text(spec[key].pointer(&format!("/target/{field}")));
                if avg {
                    format!("{cur}/{target} (avg)")
                } else {
                    format!("{cur}/{target}")
                }
            }
            _ => "<unknown type>".into(),
        };
        list.push(entry);
    }
    if list.len() > 2 {
        let more = list.len() - 2;
        list.truncate(2);
        return format!("{} + {more} more...", list.join(", "));
    }
    list.join(", ")
}

fn hpa_cells(o: &Value, age: String) -> Vec<Value> {
    let min = o
        .pointer("/spec/minReplicas")
        .and_then(Value::as_i64)
        .map_or_else(|| "<unset>".to_owned(), |m| m.to_string());
    vec![
        json!(s(o, "/metadata/name")),
        json!(format!(
            "{}/{}",
            s(o, "/spec/scaleTargetRef/kind"),
            s(o, "/spec/scaleTargetRef/name")
        )),
        json!(hpa_targets(o)),
        json!(min),
        json!(
            o.pointer("/spec/maxReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0)
        ),
        json!(
            o.pointer("/status/currentReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0)
        ),
        json!(age),
    ]
}

fn row(res: &Resource, o: &Value, now: jiff::Timestamp) -> Value {
    let age = age(
        o.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
        now,
    );
    let cells = match res.plural {
        p if network::columns(p).is_some() => network::cells(p, o, age, now).unwrap_or_default(),
        "pods" => pod_cells(o, age),
        "nodes" => node_cells(o, age),
        "deployments" => deployment_cells(o, age),
        "certificatesigningrequests" => csr_cells(o, age),
        "horizontalpodautoscalers" => hpa_cells(o, age),
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
    fn hpa_targets_should_show_current_over_target_per_metric() {
        let hpa = json!({
            "spec": {"metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
            ]},
            "status": {"currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 45, "averageValue": "45m"}}},
                {"type": ""},
            ]},
        });
        assert_eq!(
            hpa_targets(&hpa),
            "cpu: 45%/50%, memory: <unknown>/100Mi + 1 more..."
        );
        assert_eq!(hpa_targets(&json!({"spec": {}})), "<none>");
    }

    #[test]
    fn node_without_role_labels_should_show_none() {
        let node = json!({"metadata": {"name": "n", "labels": {"kubernetes.io/role": ""}}});
        assert_eq!(node_cells(&node, "1s".to_owned())[2], json!("<none>"));
    }
}
