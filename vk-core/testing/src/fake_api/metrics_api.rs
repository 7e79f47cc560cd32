//! `metrics.k8s.io/v1beta1` as metrics-server v0.7 serves it behind the aggregator:
//! discovery, `nodes` and `pods` (get and list, label and field selectors), as
//! `NodeMetrics`/`PodMetrics` JSON with `usage` quantities in metrics-server's units (CPU
//! in nanocores, memory in bytes, printed canonically: `12345678n`, `16Mi`), and the
//! Tables `kubectl get` asks for. Usage comes from [`MetricsStorage`].
use http::Method;
use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::time::Duration;

use super::body::{self, Body};
use super::metrics_storage::{MetricsStorage, PodUsage, Usage};
use super::quantity;
use super::request::Query;
use super::resources::ids;
use super::selectors::{FieldSelector, LabelSelector};
use super::state::State;
use super::status::ApiError;
use super::store::{Filter, ObjKey};

/// The API group.
pub(crate) const GROUP: &str = "metrics.k8s.io";
/// Its only version.
pub(crate) const VERSION: &str = "v1beta1";

/// Which collection a request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `NodeMetrics`.
    Nodes,
    /// `PodMetrics`.
    Pods,
}

/// A request path under `/apis/metrics.k8s.io/v1beta1/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MetricsPath {
    /// The collection.
    pub kind: Kind,
    /// The namespace (pods only).
    pub ns: Option<String>,
    /// The object name.
    pub name: Option<String>,
}

/// Parse the segments after `/apis/metrics.k8s.io/v1beta1/`.
pub(crate) fn parse(rest: &[&str]) -> Option<MetricsPath> {
    let path = |kind, ns: Option<&str>, name: Option<&str>| {
        Some(MetricsPath {
            kind,
            ns: ns.map(str::to_owned),
            name: name.map(str::to_owned),
        })
    };
    match rest {
        ["nodes"] => path(Kind::Nodes, None, None),
        ["nodes", name] if !name.is_empty() => path(Kind::Nodes, None, Some(name)),
        ["pods"] => path(Kind::Pods, None, None),
        ["namespaces", ns, "pods"] => path(Kind::Pods, Some(ns), None),
        ["namespaces", ns, "pods", name] if !name.is_empty() => {
            path(Kind::Pods, Some(ns), Some(name))
        }
        _ => None,
    }
}

fn group_version() -> Value {
    json!({"groupVersion": format!("{GROUP}/{VERSION}"), "version": VERSION})
}

/// The group's entry in `/apis`.
pub(crate) fn group_entry() -> Value {
    json!({"name": GROUP, "versions": [group_version()], "preferredVersion": group_version()})
}

/// `/apis/metrics.k8s.io`.
pub(crate) fn api_group() -> Value {
    let mut g = group_entry();
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    g
}

/// `/apis/metrics.k8s.io/v1beta1`.
pub(crate) fn resource_list() -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{GROUP}/{VERSION}"),
        "resources": [
            {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
            {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]},
        ],
    })
}

/// A pod's metrics with what the API adds from the pod itself.
#[derive(Clone, Debug)]
pub(crate) struct PodMetrics {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The pod's labels.
    pub labels: Value,
    /// Usage.
    pub usage: PodUsage,
}

/// A node's metrics.
#[derive(Clone, Debug)]
struct NodeMetrics {
    name: String,
    labels: Value,
    usage: Usage,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

/// The fields metrics-server lets a field selector see: the object's name (and
/// namespace); anything else reads as empty.
fn meta_fields(obj: &Value, namespaced: bool) -> Value {
    let mut meta = json!({"name": obj["metadata"]["name"]});
    if namespaced {
        meta["namespace"] = obj["metadata"]["namespace"].clone();
    }
    json!({ "metadata": meta })
}

/// Metrics of the pods in `ns` (or everywhere) that the selectors pick and that have
/// usage, sorted by namespace and name: what `GET .../pods` lists and what the HPA
/// controller reads.
pub(crate) fn pod_metrics(
    st: &State,
    storage: &MetricsStorage,
    ns: Option<&str>,
    labels: &LabelSelector,
    fields: &FieldSelector,
) -> Vec<PodMetrics> {
    let filter = Filter {
        ns: ns.map(str::to_owned),
        labels: labels.clone(),
        fields: FieldSelector::default(),
    };
    let pods = st.store.list(ids::pods(), &filter, None, None).0;
    pods.iter()
        .filter(|p| fields.matches(&meta_fields(p, true)))
        .filter_map(|p| {
            let namespace = s(p, "/metadata/namespace");
            let name = s(p, "/metadata/name");
            Some(PodMetrics {
                usage: storage.pod(namespace, name)?,
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                labels: p["metadata"]["labels"].clone(),
            })
        })
        .collect()
}

fn node_metrics(
    st: &State,
    storage: &MetricsStorage,
    labels: &LabelSelector,
    fields: &FieldSelector,
) -> Vec<NodeMetrics> {
    let filter = Filter {
        ns: None,
        labels: labels.clone(),
        fields: FieldSelector::default(),
    };
    st.store
        .list(ids::nodes(), &filter, None, None)
        .0
        .iter()
        .filter(|n| fields.matches(&meta_fields(n, false)))
        .filter_map(|n| {
            let name = s(n, "/metadata/name");
            Some(NodeMetrics {
                usage: storage.node(name)?,
                name: name.to_owned(),
                labels: n["metadata"]["labels"].clone(),
            })
        })
        .collect()
}

/// A `metav1.Time`: RFC 3339 in whole seconds, `null` for the zero time.
fn time(t: Timestamp) -> Value {
    if t == Timestamp::MIN {
        Value::Null
    } else {
        json!(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
    }
}

/// Go's `time.Duration.String()`: `1.5s`, `2m0.25s`, `1h0m0s`, `750ms`, `0s`.
pub(crate) fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    let frac = |whole: u128, rem: u128, digits: usize| -> String {
        let mut f = format!("{rem:0digits$}");
        while f.ends_with('0') {
            f.pop();
        }
        if f.is_empty() {
            whole.to_string()
        } else {
            format!("{whole}.{f}")
        }
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", frac(nanos / 1_000, nanos % 1_000, 3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", frac(nanos / 1_000_000, nanos % 1_000_000, 6));
    }
    let secs = nanos / 1_000_000_000;
    let seconds = frac(secs % 60, nanos % 1_000_000_000, 9);
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    if h > 0 {
        format!("{h}h{m}m{seconds}s")
    } else if m > 0 {
        format!("{m}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "cpu": quantity::nano_cores(u.cpu_nano_cores).to_string(),
        "memory": quantity::bytes(u.memory).to_string(),
    })
}

fn metadata(name: &str, ns: Option<&str>, labels: &Value, now: Timestamp) -> Value {
    let mut m = json!({"name": name, "creationTimestamp": time(now)});
    if let Some(ns) = ns {
        m["namespace"] = json!(ns);
    }
    if labels.as_object().is_some_and(|l| !l.is_empty()) {
        m["labels"] = labels.clone();
    }
    m
}

fn pod_json(p: &PodMetrics, now: Timestamp) -> Value {
    json!({
        "kind": "PodMetrics",
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": metadata(&p.name, Some(&p.namespace), &p.labels, now),
        "timestamp": time(p.usage.timestamp),
        "window": go_duration(p.usage.window),
        "containers": p.usage.containers.iter().map(|(name, u)| json!({"name": name, "usage": usage_json(u)})).collect::<Vec<_>>(),
    })
}

fn node_json(n: &NodeMetrics, now: Timestamp) -> Value {
    json!({
        "kind": "NodeMetrics",
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": metadata(&n.name, None, &n.labels, now),
        "timestamp": time(n.usage.timestamp),
        "window": go_duration(n.usage.window),
        "usage": usage_json(&n.usage),
    })
}

fn list_json(kind: &str, items: Vec<Value>) -> Value {
    json!({
        "kind": kind,
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": {},
        "items": items,
    })
}

/// A row of an answer: the name, the usage the Table shows, the object.
type Row = (String, Usage, Value);

/// metrics-server's Table: Name, then `cpu` and `memory` summed over containers, Window.
fn table(items: &[Row]) -> Value {
    let col = |name: &str, format: &str| json!({"name": name, "type": "string", "format": format, "description": "", "priority": 0});
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [col("Name", "name"), col("cpu", "quantity"), col("memory", "quantity"), col("Window", "duration")],
        "rows": items.iter().map(|(name, u, obj)| json!({
            "cells": [name, quantity::nano_cores(u.cpu_nano_cores).to_string(), quantity::bytes(u.memory).to_string(), go_duration(u.window)],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            },
        })).collect::<Vec<_>>(),
    })
}

/// A pod's usage summed over its containers (the Table's cells).
fn pod_total(p: &PodUsage) -> Usage {
    Usage {
        timestamp: p.timestamp,
        window: p.window,
        cpu_nano_cores: p
            .containers
            .iter()
            .fold(0u64, |a, (_, u)| a.saturating_add(u.cpu_nano_cores)),
        memory: p
            .containers
            .iter()
            .fold(0u64, |a, (_, u)| a.saturating_add(u.memory)),
    }
}

/// Answer a request under `/apis/metrics.k8s.io/v1beta1/`.
pub(crate) fn serve(
    st: &State,
    storage: &MetricsStorage,
    method: &Method,
    path: &MetricsPath,
    q: &Query,
    want_table: bool,
) -> Result<http::Response<Body>, ApiError> {
    if *method != Method::GET {
        return Err(ApiError::method_not_allowed(method.as_str()));
    }
    if matches!(q.get("watch").map(String::as_str), Some("true" | "1")) {
        return Err(ApiError::method_not_allowed("watch"));
    }
    let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))?;
    let now = st.clock.now();
    let plural = match path.kind {
        Kind::Nodes => "nodes.metrics.k8s.io",
        Kind::Pods => "pods.metrics.k8s.io",
    };
    st.counters
        .hit(if path.name.is_some() { "get" } else { "list" }, plural);
    let rows: Vec<Row> = match (path.kind, &path.name) {
        (Kind::Nodes, Some(name)) => {
            if st.store.get(&ObjKey::new(ids::nodes(), "", name)).is_none() {
                return Err(ApiError::not_found_in("", "nodes", name));
            }
            let picked = FieldSelector::parse(&format!("metadata.name={name}"))?;
            let n = node_metrics(st, storage, &LabelSelector::default(), &picked)
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::not_found_in(GROUP, "nodemetrics", name))?;
            vec![(n.name.clone(), n.usage, node_json(&n, now))]
        }
        (Kind::Nodes, None) => node_metrics(st, storage, &labels, &fields)
            .iter()
            .map(|n| (n.name.clone(), n.usage, node_json(n, now)))
            .collect(),
        (Kind::Pods, Some(name)) => {
            let ns = path.ns.as_deref().unwrap_or_default();
            if st.store.get(&ObjKey::new(ids::pods(), ns, name)).is_none() {
                return Err(ApiError::not_found_in("", "pods", name));
            }
            let picked = FieldSelector::parse(&format!("metadata.name={name}"))?;
            let p = pod_metrics(st, storage, Some(ns), &LabelSelector::default(), &picked)
                .into_iter()
                .next()
                .ok_or_else(|| {
                    ApiError::not_found_in(GROUP, "podmetrics", &format!("{ns}/{name}"))
                })?;
            vec![(p.name.clone(), pod_total(&p.usage), pod_json(&p, now))]
        }
        (Kind::Pods, None) => pod_metrics(st, storage, path.ns.as_deref(), &labels, &fields)
            .iter()
            .map(|p| (p.name.clone(), pod_total(&p.usage), pod_json(p, now)))
            .collect(),
    };
    if want_table {
        return Ok(body::json(200, &table(&rows)));
    }
    if path.name.is_some()
        && let Some((_, _, item)) = rows.first()
    {
        return Ok(body::json(200, item));
    }
    let kind = match path.kind {
        Kind::Nodes => "NodeMetricsList",
        Kind::Pods => "PodMetricsList",
    };
    Ok(body::json(
        200,
        &list_json(kind, rows.into_iter().map(|(_, _, item)| item).collect()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_should_print_as_go_does() {
        let d = Duration::from_millis;
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(d(1500)), "1.5s");
        assert_eq!(go_duration(d(1001)), "1.001s");
        assert_eq!(go_duration(d(15_000)), "15s");
        assert_eq!(go_duration(d(750)), "750ms");
        assert_eq!(go_duration(d(61_250)), "1m1.25s");
        assert_eq!(go_duration(d(3_600_000)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_nanos(1500)), "1.5µs");
    }

    #[test]
    fn metrics_paths_should_parse() {
        assert_eq!(parse(&["nodes"]).unwrap().kind, Kind::Nodes);
        let p = parse(&["namespaces", "default", "pods", "web"]).unwrap();
        assert_eq!(
            (p.kind, p.ns.as_deref(), p.name.as_deref()),
            (Kind::Pods, Some("default"), Some("web"))
        );
        assert!(parse(&["namespaces", "default", "nodes"]).is_none());
        assert!(parse(&["widgets"]).is_none());
    }
}
