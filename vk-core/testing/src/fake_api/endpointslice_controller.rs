//! The EndpointSlice and Endpoints controllers: they keep each selector Service's
//! EndpointSlice (discovery.k8s.io/v1) and Endpoints (core/v1) in step with its pods.
//!
//! Simplifications: one IPv4 EndpointSlice per Service (the real controller splits at 100
//! endpoints); a named `targetPort` is resolved against the first pod that has it.
use serde_json::{Value, json};

use super::registry;
use super::resources::{self, ids};
use super::state::State;
use super::store::{DeleteOpts, Filter, ObjKey};

/// The label naming an EndpointSlice's Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming who manages an EndpointSlice.
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn selects(selector: &serde_json::Map<String, Value>, pod: &Value) -> bool {
    selector
        .iter()
        .all(|(k, v)| pod.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
}

/// The port a Service port reaches on `pods`: a number, or a container port's name.
fn target_port(port: &Value, pods: &[&Value]) -> Option<i64> {
    match port.get("targetPort") {
        Some(Value::String(name)) => pods.iter().find_map(|p| {
            p.pointer("/spec/containers")
                .and_then(Value::as_array)?
                .iter()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .find(|cp| cp["name"] == name.as_str())
                .and_then(|cp| cp["containerPort"].as_i64())
        }),
        Some(n) if n.is_i64() => n.as_i64(),
        _ => port.get("port").and_then(Value::as_i64),
    }
}

fn owner_ref(svc: &Value) -> Value {
    json!([{
        "apiVersion": "v1",
        "kind": "Service",
        "name": svc["metadata"]["name"],
        "uid": svc["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    }])
}

/// Bring every selector Service's EndpointSlice and Endpoints up to date with its pods.
pub(crate) fn reconcile(st: &State) {
    let all = |res| st.store.list(res, &Filter::default(), None, None).0;
    let services = all(ids::services());
    let selecting = |svc: &Value| {
        svc.pointer("/spec/selector")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    };
    if !services.iter().any(selecting) {
        return;
    }
    let pods = all(ids::pods());
    let slices = all(ids::endpoint_slices());
    for svc in services {
        let Some(selector) = svc.pointer("/spec/selector").and_then(Value::as_object) else {
            continue;
        };
        if svc.pointer("/metadata/deletionTimestamp").is_some() || selector.is_empty() {
            continue;
        }
        let ns = s(&svc, "/metadata/namespace");
        let name = s(&svc, "/metadata/name");
        let publish_not_ready = svc.pointer("/spec/publishNotReadyAddresses") == Some(&json!(true));
        let mut selected: Vec<&Value> = pods
            .iter()
            .filter(|p| {
                s(p, "/metadata/namespace") == ns
                    && !s(p, "/status/podIP").is_empty()
                    && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")
                    && selects(selector, p)
            })
            .collect();
        selected.sort_by_key(|p| s(p, "/metadata/name").to_owned());
        let svc_ports: Vec<Value> = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ports: Vec<Value> = svc_ports
            .iter()
            .map(|p| {
                json!({
                    "name": p.get("name").cloned().unwrap_or_else(|| json!("")),
                    "port": target_port(p, &selected),
                    "protocol": p.get("protocol").cloned().unwrap_or_else(|| json!("TCP")),
                })
            })
            .collect();
        let endpoints: Vec<Value> = selected
            .iter()
            .map(|p| {
                let terminating = p.pointer("/metadata/deletionTimestamp").is_some();
                let ready = is_ready(p) && !terminating;
                let mut e = json!({
                    "addresses": [s(p, "/status/podIP")],
                    "conditions": {
                        "ready": ready || (publish_not_ready && !terminating),
                        "serving": is_ready(p),
                        "terminating": terminating,
                    },
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": ns,
                        "name": p["metadata"]["name"],
                        "uid": p["metadata"]["uid"],
                    },
                });
                if let Some(node) = p.pointer("/spec/nodeName").filter(|n| n != &"") {
                    e["nodeName"] = node.clone();
                }
                e
            })
            .collect();
        slice(st, &svc, &slices, ports.clone(), endpoints);
        legacy_endpoints(st, &svc, ns, name, &ports, &selected, publish_not_ready);
    }
}

fn slice(st: &State, svc: &Value, slices: &[Value], ports: Vec<Value>, endpoints: Vec<Value>) {
    let ns = s(svc, "/metadata/namespace");
    let name = s(svc, "/metadata/name");
    let uid = s(svc, "/metadata/uid");
    let existing = slices.iter().find(|sl| {
        s(sl, "/metadata/namespace") == ns
            && sl
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|o| o["uid"] == uid))
    });
    match existing {
        None => {
            let obj = json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "generateName": format!("{name}-"),
                    "labels": {
                        SERVICE_NAME_LABEL: name,
                        MANAGED_BY_LABEL: MANAGED_BY,
                        "endpointslice.kubernetes.io/skip-mirror": "true",
                    },
                    "ownerReferences": owner_ref(svc),
                },
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            });
            let r = resources::get(ids::endpoint_slices());
            let _ = registry::create(st, r, ids::endpoint_slices(), ns, obj);
        }
        Some(sl)
            if sl.get("endpoints") != Some(&json!(endpoints))
                || sl.get("ports") != Some(&json!(ports)) =>
        {
            let key = ObjKey::new(ids::endpoint_slices(), ns, s(sl, "/metadata/name"));
            let _ = st.store.modify(&key, |cur| {
                let mut new = cur.clone();
                new["endpoints"] = json!(endpoints);
                new["ports"] = json!(ports);
                Ok(new)
            });
        }
        Some(_) => {}
    }
}

/// The core/v1 Endpoints of a Service (kubectl 1.27's `describe service` reads them).
fn legacy_endpoints(
    st: &State,
    svc: &Value,
    ns: &str,
    name: &str,
    ports: &[Value],
    pods: &[&Value],
    publish_not_ready: bool,
) {
    let address = |p: &Value| {
        let mut a = json!({
            "ip": s(p, "/status/podIP"),
            "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]},
        });
        if let Some(node) = p.pointer("/spec/nodeName").filter(|n| n != &"") {
            a["nodeName"] = node.clone();
        }
        a
    };
    let live: Vec<&&Value> = pods
        .iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .collect();
    let ready: Vec<Value> = live
        .iter()
        .filter(|p| publish_not_ready || is_ready(p))
        .map(|p| address(p))
        .collect();
    let not_ready: Vec<Value> = live
        .iter()
        .filter(|p| !(publish_not_ready || is_ready(p)))
        .map(|p| address(p))
        .collect();
    let ports: Vec<Value> = ports
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if p["name"] == ""
                && let Some(m) = p.as_object_mut()
            {
                m.remove("name");
            }
            p
        })
        .collect();
    let mut subsets = Vec::new();
    if !ready.is_empty() || !not_ready.is_empty() {
        let mut subset = json!({"ports": ports});
        if !ready.is_empty() {
            subset["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = json!(not_ready);
        }
        subsets.push(subset);
    }
    let key = ObjKey::new(ids::endpoints(), ns, name);
    match st.store.get(&key) {
        None => {
            let obj = json!({
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {
                    "name": name,
                    "labels": svc.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
                },
                "subsets": subsets,
            });
            let _ = registry::create(
                st,
                resources::get(ids::endpoints()),
                ids::endpoints(),
                ns,
                obj,
            );
        }
        Some(cur) if cur.get("subsets").cloned().unwrap_or_else(|| json!([])) != json!(subsets) => {
            let _ = st.store.modify(&key, |cur| {
                let mut new = cur.clone();
                new["subsets"] = json!(subsets);
                Ok(new)
            });
        }
        Some(_) => {}
    }
}

/// Delete the Endpoints of Services that are gone (EndpointSlices go with their owner).
pub(crate) fn collect_endpoints(st: &State) {
    let (eps, ..) = st
        .store
        .list(ids::endpoints(), &Filter::default(), None, None);
    for ep in eps {
        let ns = s(&ep, "/metadata/namespace");
        let name = s(&ep, "/metadata/name");
        if st
            .store
            .get(&ObjKey::new(ids::services(), ns, name))
            .is_none()
        {
            let _ = st.store.delete(
                &ObjKey::new(ids::endpoints(), ns, name),
                &DeleteOpts::default(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_target_ports_should_resolve_against_the_pods() {
        let pod =
            json!({"spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]}});
        let pods = [&pod];
        assert_eq!(
            target_port(&json!({"port": 80, "targetPort": "http"}), &pods),
            Some(8080)
        );
        assert_eq!(
            target_port(&json!({"port": 80, "targetPort": 9090}), &pods),
            Some(9090)
        );
        assert_eq!(
            target_port(&json!({"port": 80, "targetPort": "nope"}), &pods),
            None
        );
    }
}
