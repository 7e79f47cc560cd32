//! Events: one storage (core/v1) served as `v1` and as `events.k8s.io/v1`, converted as
//! the API server converts them. What the fake's own controllers record is in
//! `event_recorder`.
use serde_json::{Map, Value, json};

/// Field renames between core/v1 (left) and events.k8s.io/v1 (right).
const RENAMES: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// Fields with the same name in both versions.
const SAME: &[&str] = &[
    "metadata",
    "eventTime",
    "series",
    "reportingInstance",
    "action",
    "reason",
    "related",
    "type",
];

fn convert(v: &Value, api_version: &str, from_core: bool) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!("Event"));
    out.insert("apiVersion".into(), json!(api_version));
    let Some(obj) = v.as_object() else {
        return Value::Object(out);
    };
    for f in SAME {
        if let Some(x) = obj.get(*f).filter(|x| !x.is_null()) {
            out.insert((*f).to_owned(), x.clone());
        }
    }
    for (core, new) in RENAMES {
        let (from, to) = if from_core { (core, new) } else { (new, core) };
        if let Some(x) = obj.get(*from).filter(|x| !x.is_null()) {
            out.insert((*to).to_owned(), x.clone());
        }
    }
    // The series' last observation is a MicroTime in both; core/v1 also counts it.
    Value::Object(out)
}

/// A stored core/v1 Event as `events.k8s.io/v1` shows it.
pub(crate) fn to_events_v1(core: &Value) -> Value {
    convert(core, "events.k8s.io/v1", true)
}

/// An `events.k8s.io/v1` Event as stored (core/v1).
pub(crate) fn from_events_v1(v1: &Value) -> Value {
    convert(v1, "v1", false)
}

/// The field selector paths of `events.k8s.io/v1` on the stored core/v1 object.
pub(crate) fn core_field_path(path: &str) -> String {
    for (core, new) in RENAMES {
        if let Some(rest) = path.strip_prefix(new) {
            return format!("{core}{rest}");
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_should_convert_both_ways_between_versions() {
        let core = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web"},
            "reason": "Started", "message": "Started container nginx",
            "source": {"component": "kubelet"}, "count": 2,
            "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:01:00Z",
            "type": "Normal", "reportingComponent": "kubelet", "reportingInstance": "node-1",
        });
        let v1 = to_events_v1(&core);
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v1["regarding"]["name"], "web");
        assert_eq!(v1["note"], "Started container nginx");
        assert_eq!(v1["deprecatedCount"], 2);
        assert_eq!(v1["reportingController"], "kubelet");
        assert_eq!(from_events_v1(&v1), core);
        assert_eq!(core_field_path("regarding.name"), "involvedObject.name");
        assert_eq!(core_field_path("reason"), "reason");
    }
}
