//! Resources served in more than one version. Objects are stored in one version; a
//! request to another version has its body converted to the stored version on the way in
//! and every object converted back on the way out, as the API server does.
//!
//! `events.k8s.io/v1` Events are stored as core/v1 Events (see `events`).
//!
//! `autoscaling/v1` HorizontalPodAutoscalers are stored as `autoscaling/v2`: the v1
//! `targetCPUUtilizationPercentage` is v2's CPU `Utilization` metric; what v1 cannot hold
//! (other metrics, `behavior`, conditions, other current metrics) travels in the
//! `autoscaling.alpha.kubernetes.io/*` annotations, as upstream (which writes them in
//! the older v1 alpha shapes; this fake writes the v2 shapes).
use serde_json::{Map, Value, json};

use super::resources::{self, ResId};

/// v1 annotation holding the metrics other than CPU utilization.
const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// v1 annotation holding the current values of those metrics.
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// v1 annotation holding the status conditions.
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// v1 annotation holding `spec.behavior`.
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";

/// Converters between a served version and the stored one.
#[derive(Clone, Copy)]
struct Converters {
    to_view: fn(&Value) -> Value,
    from_view: fn(&Value) -> Value,
}

/// How requests to one resource reach the store.
#[derive(Clone, Copy)]
pub(crate) struct Served {
    /// The resource objects are stored under.
    pub storage: ResId,
    converters: Option<Converters>,
}

impl Served {
    /// How `res` is served.
    pub fn of(res: ResId) -> Self {
        let r = resources::get(res);
        if r.group == "events.k8s.io" {
            return Self {
                storage: resources::ids::events(),
                converters: Some(Converters {
                    to_view: super::events::to_events_v1,
                    from_view: super::events::from_events_v1,
                }),
            };
        }
        if r.group == "autoscaling" && r.version == "v1" {
            return Self {
                storage: resources::ids::horizontal_pod_autoscalers(),
                converters: Some(Converters {
                    to_view: hpa_to_v1,
                    from_view: hpa_from_v1,
                }),
            };
        }
        Self {
            storage: res,
            converters: None,
        }
    }

    /// Whether objects are converted (the request names a non-storage version).
    pub fn converts(self) -> bool {
        self.converters.is_some()
    }

    /// A stored object as the requested version shows it.
    pub fn out(self, stored: Value) -> Value {
        match self.converters {
            Some(c) if stored.is_object() => (c.to_view)(&stored),
            _ => stored,
        }
    }

    /// A request body in the requested version, as stored.
    pub fn stored(self, v: Value) -> Value {
        match self.converters {
            Some(c) if v.is_object() => (c.from_view)(&v),
            _ => v,
        }
    }
}

fn is_cpu_utilization(m: &Value) -> bool {
    m["type"] == "Resource"
        && m["resource"]["name"] == "cpu"
        && m.pointer("/resource/target/averageUtilization")
            .is_some_and(|u| !u.is_null())
}

fn is_cpu_current(m: &Value) -> bool {
    m["type"] == "Resource"
        && m["resource"]["name"] == "cpu"
        && m.pointer("/resource/current/averageUtilization")
            .is_some_and(|u| !u.is_null())
}

fn copy(from: &Value, to: &mut Map<String, Value>, field: &str) {
    if let Some(v) = from.get(field).filter(|v| !v.is_null()) {
        to.insert(field.to_owned(), v.clone());
    }
}

/// `autoscaling/v2` -> `autoscaling/v1`.
fn hpa_to_v1(v2: &Value) -> Value {
    let mut meta = v2.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut notes = meta
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let spec2 = &v2["spec"];
    let mut spec = Map::new();
    for f in ["scaleTargetRef", "minReplicas", "maxReplicas"] {
        copy(spec2, &mut spec, f);
    }
    let metrics = spec2["metrics"].as_array().cloned().unwrap_or_default();
    let mut others = Vec::new();
    for m in metrics {
        if is_cpu_utilization(&m) && !spec.contains_key("targetCPUUtilizationPercentage") {
            spec.insert(
                "targetCPUUtilizationPercentage".into(),
                m["resource"]["target"]["averageUtilization"].clone(),
            );
        } else {
            others.push(m);
        }
    }
    if !others.is_empty() {
        notes.insert(METRICS.into(), json!(Value::Array(others).to_string()));
    }
    if let Some(b) = spec2.get("behavior").filter(|b| !b.is_null()) {
        notes.insert(BEHAVIOR.into(), json!(b.to_string()));
    }
    let status2 = &v2["status"];
    let mut status = Map::new();
    for f in ["observedGeneration", "lastScaleTime"] {
        copy(status2, &mut status, f);
    }
    status.insert(
        "currentReplicas".into(),
        status2.get("currentReplicas").cloned().unwrap_or(json!(0)),
    );
    status.insert(
        "desiredReplicas".into(),
        status2.get("desiredReplicas").cloned().unwrap_or(json!(0)),
    );
    let mut other_current = Vec::new();
    for m in status2["currentMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if is_cpu_current(&m) && !status.contains_key("currentCPUUtilizationPercentage") {
            status.insert(
                "currentCPUUtilizationPercentage".into(),
                m["resource"]["current"]["averageUtilization"].clone(),
            );
        } else {
            other_current.push(m);
        }
    }
    if !other_current.is_empty() {
        notes.insert(
            CURRENT_METRICS.into(),
            json!(Value::Array(other_current).to_string()),
        );
    }
    if let Some(c) = status2
        .get("conditions")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
    {
        notes.insert(
            CONDITIONS.into(),
            json!(Value::Array(c.clone()).to_string()),
        );
    }
    if let Some(m) = meta.as_object_mut() {
        if notes.is_empty() {
            m.remove("annotations");
        } else {
            m.insert("annotations".into(), Value::Object(notes));
        }
    }
    json!({
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": spec,
        "status": status,
    })
}

/// Take annotation `name` out of `notes`, parsed as JSON.
fn take(notes: &mut Map<String, Value>, name: &str) -> Option<Value> {
    notes
        .remove(name)
        .and_then(|v| v.as_str().and_then(|s| serde_json::from_str(s).ok()))
}

/// `autoscaling/v1` -> `autoscaling/v2`.
fn hpa_from_v1(v1: &Value) -> Value {
    let mut meta = v1.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut notes = meta
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let spec1 = &v1["spec"];
    let mut spec = Map::new();
    for f in ["scaleTargetRef", "minReplicas", "maxReplicas"] {
        copy(spec1, &mut spec, f);
    }
    let mut metrics = Vec::new();
    if let Some(cpu) = spec1
        .get("targetCPUUtilizationPercentage")
        .filter(|c| !c.is_null())
    {
        metrics.push(json!({
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}},
        }));
    }
    if let Some(Value::Array(others)) = take(&mut notes, METRICS) {
        metrics.extend(others);
    }
    if !metrics.is_empty() {
        spec.insert("metrics".into(), Value::Array(metrics));
    }
    if let Some(b) = take(&mut notes, BEHAVIOR) {
        spec.insert("behavior".into(), b);
    }
    let status1 = &v1["status"];
    let mut status = Map::new();
    for f in [
        "observedGeneration",
        "lastScaleTime",
        "currentReplicas",
        "desiredReplicas",
    ] {
        copy(status1, &mut status, f);
    }
    let mut current = Vec::new();
    if let Some(cpu) = status1
        .get("currentCPUUtilizationPercentage")
        .filter(|c| !c.is_null())
    {
        current.push(json!({
            "type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": cpu}},
        }));
    }
    if let Some(Value::Array(others)) = take(&mut notes, CURRENT_METRICS) {
        current.extend(others);
    }
    if !current.is_empty() {
        status.insert("currentMetrics".into(), Value::Array(current));
    }
    if let Some(c) = take(&mut notes, CONDITIONS) {
        status.insert("conditions".into(), c);
    }
    if let Some(m) = meta.as_object_mut() {
        if notes.is_empty() {
            m.remove("annotations");
        } else {
            m.insert("annotations".into(), Value::Object(notes));
        }
    }
    let mut out = json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": spec,
    });
    if v1.get("status").is_some() {
        out["status"] = Value::Object(status);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_hpa_should_become_a_v2_cpu_utilization_metric_and_back() {
        let v1 = json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1,
                "maxReplicas": 5,
                "targetCPUUtilizationPercentage": 50,
            },
        });
        let v2 = hpa_from_v1(&v1);
        assert_eq!(v2["apiVersion"], "autoscaling/v2");
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            50
        );
        assert!(v2.get("status").is_none());
        let back = hpa_to_v1(&v2);
        assert_eq!(back["spec"], v1["spec"]);
        assert_eq!(back["status"]["currentReplicas"], 0);
    }

    #[test]
    fn what_v1_cannot_hold_should_travel_in_annotations() {
        let v2 = json!({
            "metadata": {"name": "web", "annotations": {"keep": "me"}},
            "spec": {
                "maxReplicas": 3,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}},
            },
            "status": {
                "currentReplicas": 2,
                "desiredReplicas": 2,
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "50Mi"}}},
                    {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 30, "averageValue": "30m"}}},
                ],
                "conditions": [{"type": "AbleToScale", "status": "True"}],
            },
        });
        let v1 = hpa_to_v1(&v2);
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 30);
        let notes = &v1["metadata"]["annotations"];
        assert_eq!(notes["keep"], "me");
        for a in [METRICS, CURRENT_METRICS, CONDITIONS, BEHAVIOR] {
            assert!(notes[a].is_string(), "{a}");
        }
        let again = hpa_from_v1(&v1);
        assert_eq!(again["metadata"]["annotations"], json!({"keep": "me"}));
        assert_eq!(again["spec"]["behavior"], v2["spec"]["behavior"]);
        assert_eq!(again["status"]["conditions"], v2["status"]["conditions"]);
        assert_eq!(again["spec"]["metrics"].as_array().unwrap().len(), 2);
    }
}
