//! The events the fake's own controllers record as the real ones do (the scheduler's
//! `Scheduled`, the ReplicaSet, Deployment and Job controllers' `SuccessfulCreate`,
//! `ScalingReplicaSet`, `Completed`...), so `kubectl describe` and `kubectl events` show
//! them.
use serde_json::{Value, json};

use super::registry;
use super::resources::{self, ids};
use super::state::State;

/// Whether an event is Normal or a Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Things going as they should.
    Normal,
    /// Something the user may need to act on.
    Warning,
}

/// Record an event about `object` (of `kind`, `apiVersion`) as a controller's legacy
/// recorder does: `source.component`, first and last timestamps, a count of one.
pub(crate) fn record(
    st: &State,
    object: &Value,
    kind: Kind,
    reason: &str,
    message: &str,
    component: &str,
) {
    let meta = &object["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    let namespace = meta["namespace"].as_str().unwrap_or("default");
    let now = st.store.now_string();
    let nanos = st.clock.now().as_nanosecond();
    let mut regarding = json!({
        "kind": object["kind"],
        "namespace": namespace,
        "name": name,
        "uid": meta["uid"],
        "apiVersion": object["apiVersion"],
        "resourceVersion": meta["resourceVersion"],
    });
    if meta.get("namespace").is_none()
        && let Some(m) = regarding.as_object_mut()
    {
        m.remove("namespace");
    }
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{nanos:x}"), "namespace": namespace},
        "involvedObject": regarding,
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": match kind { Kind::Normal => "Normal", Kind::Warning => "Warning" },
        "eventTime": null,
        "reportingComponent": component,
        "reportingInstance": "",
    });
    let _ = registry::create(
        st,
        resources::get(ids::events()),
        ids::events(),
        namespace,
        event,
    );
}

/// Record the scheduler's `Scheduled` event, which it writes through events.k8s.io/v1
/// (an `eventTime`, no deprecated timestamps).
pub(crate) fn scheduled(st: &State, pod: &Value, node: &str) {
    let meta = &pod["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    let namespace = meta["namespace"].as_str().unwrap_or("default");
    let now = st.clock.now();
    let micro = now.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{:x}", now.as_nanosecond()), "namespace": namespace},
        "involvedObject": {
            "kind": "Pod",
            "namespace": namespace,
            "name": name,
            "uid": meta["uid"],
            "apiVersion": "v1",
            "resourceVersion": meta["resourceVersion"],
        },
        "reason": "Scheduled",
        "message": format!("Successfully assigned {namespace}/{name} to {node}"),
        "source": {},
        "type": "Normal",
        "eventTime": micro,
        "action": "Binding",
        "reportingComponent": "default-scheduler",
        "reportingInstance": "default-scheduler-fake-apiserver",
    });
    let _ = registry::create(
        st,
        resources::get(ids::events()),
        ids::events(),
        namespace,
        event,
    );
}
