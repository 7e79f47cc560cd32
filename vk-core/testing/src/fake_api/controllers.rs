//! Optional controllers (off by default, builder `controllers(true)`): Deployment ->
//! ReplicaSet -> Pods, Job -> Pods (see `job_controller`), a scheduler binding pending pods
//! to Ready nodes, and the EndpointSlice and Endpoints controllers of Services (see
//! `endpointslice_controller`).
//!
//! Simplifications: a Deployment change replaces the pods at once (old ReplicaSets are
//! scaled to zero, as the `Recreate` strategy does, whatever the strategy says); scale-down
//! deletes unbound pods first, then the newest, with the pods' own grace period. The
//! scheduler picks the first Ready, schedulable node (by name) whose taints the pod
//! tolerates and whose labels match its `nodeSelector`; no resources, affinity or spread.
use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::event_recorder::{self, Kind};
use super::registry;
use super::resources::{self, ids};
use super::state::State;
use super::status::ApiError;
use super::store::{DeleteOpts, Filter, ObjKey, WatchFrom};
use super::{endpointslice_controller, job_controller};

/// Start the controllers; they stop with the server.
pub(crate) fn spawn(st: Arc<State>) {
    tokio::spawn(async move {
        let watch = |res| st.store.watch(res, Filter::default(), WatchFrom::Now);
        let (Ok(mut d), Ok(mut r), Ok(mut p), Ok(mut n), Ok(mut j), Ok(mut sv)) = (
            watch(ids::deployments()),
            watch(ids::replica_sets()),
            watch(ids::pods()),
            watch(ids::nodes()),
            watch(ids::jobs()),
            watch(ids::services()),
        ) else {
            return;
        };
        let mut registered = HashSet::new();
        loop {
            reconcile(&st);
            register_nodes(&st, &mut registered);
            tokio::select! {
                m = d.rx.recv() => if m.is_none() { break },
                m = r.rx.recv() => if m.is_none() { break },
                m = p.rx.recv() => if m.is_none() { break },
                m = n.rx.recv() => if m.is_none() { break },
                m = j.rx.recv() => if m.is_none() { break },
                m = sv.rx.recv() => if m.is_none() { break },
                () = st.stop.cancelled() => break,
            }
            // Take everything else that queued up: one reconcile covers it.
            for rx in [
                &mut d.rx, &mut r.rx, &mut p.rx, &mut n.rx, &mut j.rx, &mut sv.rx,
            ] {
                while rx.try_recv().is_ok() {}
            }
        }
        for id in [d.id, r.id, p.id, n.id, j.id, sv.id] {
            st.store.unwatch(id);
        }
    });
}

fn reconcile(st: &State) {
    for dep in all(st, ids::deployments()) {
        deployment(st, &dep);
    }
    for rs in all(st, ids::replica_sets()) {
        replica_set(st, &rs);
    }
    job_controller::reconcile(st);
    schedule(st);
    endpointslice_controller::reconcile(st);
    endpointslice_controller::collect_endpoints(st);
}

/// The node lifecycle controller's `RegisteredNode` event, once per node (by UID).
fn register_nodes(st: &State, registered: &mut HashSet<String>) {
    for node in all(st, ids::nodes()) {
        let uid = s(&node, "/metadata/uid").to_owned();
        if registered.insert(uid) {
            let name = s(&node, "/metadata/name");
            let message = format!("Node {name} event: Registered Node {name} in Controller");
            event_recorder::record(
                st,
                &node,
                Kind::Normal,
                "RegisteredNode",
                &message,
                "node-controller",
            );
        }
    }
}

fn all(st: &State, res: resources::ResId) -> Vec<Value> {
    st.store.list(res, &Filter::default(), None, None).0
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn owned_by<'a>(items: &'a [Value], uid: &str) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|o| {
            o.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
        })
        .collect()
}

fn owner_ref(owner: &Value, kind: &str) -> Value {
    json!([{
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    }])
}

/// A short stable hash of the pod template, like `pod-template-hash`.
fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let digest = Sha256::digest(template.to_string().as_bytes());
    digest
        .iter()
        .take(10)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

fn replicas(o: &Value) -> i64 {
    o.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0)
}

fn set_status(st: &State, res: resources::ResId, o: &Value, status: Value) {
    let key = ObjKey::new(res, s(o, "/metadata/namespace"), s(o, "/metadata/name"));
    let _ = st.store.modify(&key, |cur| {
        let mut new = cur.clone();
        new["status"] = status;
        Ok(new)
    });
}

fn deployment(st: &State, dep: &Value) {
    if dep.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    let ns = s(dep, "/metadata/namespace");
    let uid = s(dep, "/metadata/uid");
    let template = dep.pointer("/spec/template").cloned().unwrap_or_default();
    let hash = template_hash(&template);
    let name = format!("{}-{hash}", s(dep, "/metadata/name"));
    let all_rs = all(st, ids::replica_sets());
    let mine = owned_by(&all_rs, uid);
    let want = replicas(dep);
    if !mine.iter().any(|rs| s(rs, "/metadata/name") == name) {
        let mut tpl = template.clone();
        tpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
        let mut selector = dep
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or_else(|| json!({}));
        selector["matchLabels"]["pod-template-hash"] = json!(hash);
        let mut labels = tpl["metadata"]["labels"].clone();
        labels["pod-template-hash"] = json!(hash);
        let rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name, "labels": labels, "ownerReferences": owner_ref(dep, "Deployment")},
            "spec": {"replicas": want, "selector": selector, "template": tpl},
        });
        if registry::create(
            st,
            resources::get(ids::replica_sets()),
            ids::replica_sets(),
            ns,
            rs,
        )
        .is_ok()
        {
            scaled(st, dep, &name, 0, want);
        }
    }
    let (mut total, mut ready, mut updated) = (0, 0, 0);
    for rs in owned_by(&all(st, ids::replica_sets()), uid) {
        let current = s(rs, "/metadata/name") == name;
        let target = if current { want } else { 0 };
        if replicas(rs) != target {
            let key = ObjKey::new(ids::replica_sets(), ns, s(rs, "/metadata/name"));
            let changed = st.store.modify(&key, |cur| {
                let mut new = cur.clone();
                new["spec"]["replicas"] = json!(target);
                Ok(new)
            });
            if changed.is_ok() {
                scaled(st, dep, s(rs, "/metadata/name"), replicas(rs), target);
            }
        }
        let n = |p: &str| rs.pointer(p).and_then(Value::as_i64).unwrap_or(0);
        total += n("/status/replicas");
        ready += n("/status/readyReplicas");
        if current {
            updated += n("/status/replicas");
        }
    }
    let mut status = json!({
        "observedGeneration": dep["metadata"]["generation"],
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": (want - ready).max(0),
    });
    let available = ready >= want;
    status["conditions"] = json!([{
        "type": "Available",
        "status": if available { "True" } else { "False" },
        "reason": if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
    }]);
    if dep.get("status") != Some(&status) {
        set_status(st, ids::deployments(), dep, status);
    }
}

/// The Deployment controller's `ScalingReplicaSet` event.
fn scaled(st: &State, dep: &Value, rs: &str, from: i64, to: i64) {
    let direction = if to > from { "up" } else { "down" };
    let message = format!("Scaled {direction} replica set {rs} from {from} to {to}");
    event_recorder::record(
        st,
        dep,
        Kind::Normal,
        "ScalingReplicaSet",
        &message,
        "deployment-controller",
    );
}

/// The ReplicaSet controller's event source.
const RS_CONTROLLER: &str = "replicaset-controller";

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn replica_set(st: &State, rs: &Value) {
    if rs.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    let ns = s(rs, "/metadata/namespace");
    let uid = s(rs, "/metadata/uid");
    let pods = all(st, ids::pods());
    let mut live: Vec<&Value> = owned_by(&pods, uid)
        .into_iter()
        .filter(|p| {
            p.pointer("/metadata/deletionTimestamp").is_none()
                && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")
        })
        .collect();
    let want = usize::try_from(replicas(rs)).unwrap_or(0);
    if live.len() < want {
        for _ in live.len()..want {
            let tpl = rs.pointer("/spec/template").cloned().unwrap_or_default();
            let pod = json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "generateName": format!("{}-", s(rs, "/metadata/name")),
                    "labels": tpl.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
                    "annotations": tpl.pointer("/metadata/annotations").cloned().unwrap_or_else(|| json!({})),
                    "ownerReferences": owner_ref(rs, "ReplicaSet"),
                },
                "spec": tpl.get("spec").cloned().unwrap_or_else(|| json!({})),
            });
            if let Ok(pod) = registry::create(st, resources::get(ids::pods()), ids::pods(), ns, pod)
            {
                let message = format!("Created pod: {}", s(&pod, "/metadata/name"));
                event_recorder::record(
                    st,
                    rs,
                    Kind::Normal,
                    "SuccessfulCreate",
                    &message,
                    RS_CONTROLLER,
                );
            }
        }
    } else if live.len() > want {
        // Unbound pods first, then the newest.
        live.sort_by_key(|p| {
            (
                !s(p, "/spec/nodeName").is_empty(),
                std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_owned()),
            )
        });
        for p in live.iter().take(live.len() - want) {
            let key = ObjKey::new(ids::pods(), ns, s(p, "/metadata/name"));
            if st.store.delete(&key, &DeleteOpts::default()).is_ok() {
                let message = format!("Deleted pod: {}", s(p, "/metadata/name"));
                event_recorder::record(
                    st,
                    rs,
                    Kind::Normal,
                    "SuccessfulDelete",
                    &message,
                    RS_CONTROLLER,
                );
            }
        }
    }
    let pods = all(st, ids::pods());
    let current: Vec<&Value> = owned_by(&pods, uid)
        .into_iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .collect();
    let ready = current.iter().filter(|p| is_ready(p)).count();
    let status = json!({
        "observedGeneration": rs["metadata"]["generation"],
        "replicas": current.len(),
        "fullyLabeledReplicas": current.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
    });
    if rs.get("status") != Some(&status) {
        set_status(st, ids::replica_sets(), rs, status);
    }
}

fn tolerates(pod: &Value, taint: &Value) -> bool {
    let effect = s(taint, "/effect");
    if effect == "PreferNoSchedule" {
        return true;
    }
    pod.pointer("/spec/tolerations")
        .and_then(Value::as_array)
        .is_some_and(|tols| {
            tols.iter().any(|t| {
                let key_ok = (s(t, "/key").is_empty() && s(t, "/operator") == "Exists")
                    || s(t, "/key") == s(taint, "/key");
                let effect_ok = s(t, "/effect").is_empty() || s(t, "/effect") == effect;
                let value_ok =
                    s(t, "/operator") == "Exists" || s(t, "/value") == s(taint, "/value");
                key_ok && effect_ok && value_ok
            })
        })
}

fn fits(pod: &Value, node: &Value) -> bool {
    let ready = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
    if !ready || node.pointer("/spec/unschedulable") == Some(&json!(true)) {
        return false;
    }
    let selector_ok = pod
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
        .is_none_or(|sel| {
            sel.iter()
                .all(|(k, v)| node.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
        });
    let taints_ok = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .is_none_or(|taints| taints.iter().all(|t| tolerates(pod, t)));
    selector_ok && taints_ok
}

fn schedule(st: &State) {
    let nodes = all(st, ids::nodes());
    for pod in all(st, ids::pods()) {
        if !s(&pod, "/spec/nodeName").is_empty()
            || pod.pointer("/metadata/deletionTimestamp").is_some()
            || !matches!(s(&pod, "/spec/schedulerName"), "" | "default-scheduler")
        {
            continue;
        }
        let Some(node) = nodes.iter().find(|n| fits(&pod, n)) else {
            continue;
        };
        let node_name = s(node, "/metadata/name").to_owned();
        let key = ObjKey::new(
            ids::pods(),
            s(&pod, "/metadata/namespace"),
            s(&pod, "/metadata/name"),
        );
        let now = st.store.now_string();
        let bound = st.store.modify(&key, |cur| {
            if !s(cur, "/spec/nodeName").is_empty() {
                return Err(ApiError::conflict(
                    resources::get(ids::pods()),
                    s(cur, "/metadata/name"),
                    "already bound",
                ));
            }
            let mut new = cur.clone();
            new["spec"]["nodeName"] = json!(node_name);
            let conds = new["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut conds: Vec<Value> = conds
                .into_iter()
                .filter(|c| c["type"] != "PodScheduled")
                .collect();
            conds
                .push(json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now}));
            new["status"]["conditions"] = json!(conds);
            Ok(new)
        });
        if let Ok(pod) = bound {
            event_recorder::scheduled(st, &pod, &node_name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taints_need_matching_tolerations() {
        let taint =
            json!({"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"});
        let pod = |tols: Value| json!({"spec": {"tolerations": tols}});
        assert!(!tolerates(&pod(json!([])), &taint));
        assert!(tolerates(
            &pod(json!([{"key": "virtual-kubelet.io/provider", "operator": "Exists"}])),
            &taint
        ));
        assert!(tolerates(
            &pod(
                json!([{"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}])
            ),
            &taint
        ));
        assert!(!tolerates(
            &pod(json!([{"key": "virtual-kubelet.io/provider", "value": "aws"}])),
            &taint
        ));
        assert!(tolerates(&pod(json!([{"operator": "Exists"}])), &taint));
    }

    #[test]
    fn the_template_hash_is_stable_and_short() {
        let t = json!({"spec": {"containers": [{"name": "c"}]}});
        assert_eq!(template_hash(&t), template_hash(&t.clone()));
        assert_eq!(template_hash(&t).len(), 10);
        assert_ne!(template_hash(&t), template_hash(&json!({})));
    }
}
