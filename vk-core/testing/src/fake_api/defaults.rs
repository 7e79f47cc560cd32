//! Defaults and admission the real API server applies on create: pod spec defaults,
//! a Pending status, the default service account, namespace phase.
use serde_json::{Value, json};

/// Set `pointer` to `value` unless it is already set, creating parent objects on the way.
pub(crate) fn set_default(obj: &mut Value, pointer: &str, value: Value) {
    if obj.pointer(pointer).is_some() {
        return;
    }
    let mut parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let Some(last) = parts.pop() else {
        return;
    };
    let mut node = obj;
    for p in parts {
        if !node.is_object() {
            return;
        }
        node = node
            .as_object_mut()
            .expect("invariant: checked is_object")
            .entry(p)
            .or_insert_with(|| json!({}));
    }
    if let Some(m) = node.as_object_mut() {
        m.insert(last.to_owned(), value);
    }
}

/// Defaults for a new object of `plural`.
pub(crate) fn on_create(plural: &str, obj: &mut Value) {
    match plural {
        "pods" => pod(obj),
        "namespaces" => {
            set_default(obj, "/spec/finalizers", json!(["kubernetes"]));
            if let Some(m) = obj.as_object_mut() {
                m.insert("status".into(), json!({"phase": "Active"}));
            }
        }
        "deployments" | "replicasets" | "jobs" => {
            if let Some(spec) = obj.pointer_mut("/spec/template/spec") {
                containers(spec);
            }
            if plural == "jobs" {
                return;
            }
            set_default(obj, "/spec/replicas", json!(1));
            set_default(obj, "/spec/revisionHistoryLimit", json!(10));
            set_default(obj, "/spec/template/spec/restartPolicy", json!("Always"));
            set_default(
                obj,
                "/spec/template/spec/terminationGracePeriodSeconds",
                json!(30),
            );
            set_default(obj, "/spec/template/spec/dnsPolicy", json!("ClusterFirst"));
            set_default(
                obj,
                "/spec/template/spec/schedulerName",
                json!("default-scheduler"),
            );
            if plural == "deployments" {
                set_default(
                    obj,
                    "/spec/strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                );
                set_default(obj, "/spec/progressDeadlineSeconds", json!(600));
            }
            set_default(obj, "/status", json!({}));
        }
        "horizontalpodautoscalers" => hpa(obj),
        _ => {}
    }
}

/// `autoscaling/v2` defaults: one replica at least, 80% CPU utilization when no metric
/// is given, and every unset field of a given `behavior` (the scale-down window stays
/// unset: the controller fills it from its own flag).
fn hpa(obj: &mut Value) {
    set_default(obj, "/spec/minReplicas", json!(1));
    if obj
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
        && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    if obj.pointer("/spec/behavior").is_some_and(Value::is_object) {
        let up_policies = json!([
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ]);
        let down_policies = json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]);
        for (dir, window, policies) in [
            ("scaleUp", Some(json!(0)), up_policies),
            ("scaleDown", None, down_policies),
        ] {
            let base = format!("/spec/behavior/{dir}");
            if obj.pointer(&base).is_none_or(Value::is_null)
                && let Some(b) = obj
                    .pointer_mut("/spec/behavior")
                    .and_then(Value::as_object_mut)
            {
                b.insert(dir.to_owned(), json!({}));
            }
            if let Some(w) = window {
                set_default(obj, &format!("{base}/stabilizationWindowSeconds"), w);
            }
            set_default(obj, &format!("{base}/selectPolicy"), json!("Max"));
            set_default(obj, &format!("{base}/policies"), policies);
        }
    }
}

fn pod(obj: &mut Value) {
    set_default(obj, "/spec/restartPolicy", json!("Always"));
    set_default(obj, "/spec/terminationGracePeriodSeconds", json!(30));
    set_default(obj, "/spec/dnsPolicy", json!("ClusterFirst"));
    set_default(obj, "/spec/schedulerName", json!("default-scheduler"));
    set_default(obj, "/spec/serviceAccountName", json!("default"));
    set_default(obj, "/spec/enableServiceLinks", json!(true));
    set_default(obj, "/spec/priority", json!(0));
    set_default(obj, "/spec/preemptionPolicy", json!("PreemptLowerPriority"));
    // The DefaultTolerationSeconds admission plugin: five minutes on a not-ready or
    // unreachable node unless the pod tolerates those taints itself.
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        set_default(obj, "/spec/tolerations", json!([]));
        if let Some(tols) = obj
            .pointer_mut("/spec/tolerations")
            .and_then(Value::as_array_mut)
            && !tols.iter().any(|t| {
                t.get("key").and_then(Value::as_str) == Some(key)
                    && t.get("effect")
                        .and_then(Value::as_str)
                        .is_none_or(|e| e.is_empty() || e == "NoExecute")
            })
        {
            tols.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
    if let Some(spec) = obj.get_mut("spec") {
        containers(spec);
    }
    let qos = qos_class(obj);
    if let Some(m) = obj.as_object_mut() {
        let status = m.entry("status").or_insert_with(|| json!({}));
        if status.get("phase").is_none() {
            status["phase"] = json!("Pending");
        }
        status["qosClass"] = json!(qos);
    }
}

/// SetDefaults of the containers of a pod spec (a pod's or a template's).
fn containers(spec: &mut Value) {
    for list in ["/containers", "/initContainers"] {
        if let Some(cs) = spec.pointer_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                set_default(c, "/terminationMessagePath", json!("/dev/termination-log"));
                set_default(c, "/terminationMessagePolicy", json!("File"));
                let latest = c.get("image").and_then(Value::as_str).is_some_and(|i| {
                    !i.rsplit('/').next().unwrap_or(i).contains(':') || i.ends_with(":latest")
                });
                set_default(
                    c,
                    "/imagePullPolicy",
                    json!(if latest { "Always" } else { "IfNotPresent" }),
                );
                set_default(c, "/resources", json!({}));
                if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                    for port in ports {
                        set_default(port, "/protocol", json!("TCP"));
                    }
                }
            }
        }
    }
}

fn qos_class(pod: &Value) -> &'static str {
    let cs = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !cs.is_empty();
    for c in &cs {
        let req = c.pointer("/resources/requests");
        let lim = c.pointer("/resources/limits");
        if req.is_some() || lim.is_some() {
            any = true;
        }
        for r in ["cpu", "memory"] {
            let l = lim.and_then(|l| l.get(r));
            let q = req.and_then(|q| q.get(r)).or(l);
            if l.is_none() || q != l {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_hpa_should_get_the_autoscaling_v2_defaults() {
        let mut h = json!({"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}});
        on_create("horizontalpodautoscalers", &mut h);
        assert_eq!(h["spec"]["minReplicas"], 1);
        assert_eq!(
            h["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        assert_eq!(
            h["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"],
            0
        );
        assert_eq!(
            h["spec"]["behavior"]["scaleUp"]["policies"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            h["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
            0
        );
        assert_eq!(h["spec"]["behavior"]["scaleDown"]["selectPolicy"], "Max");
        let mut plain = json!({"spec": {"maxReplicas": 3}});
        on_create("horizontalpodautoscalers", &mut plain);
        assert!(plain["spec"].get("behavior").is_none());
    }

    #[test]
    fn a_new_pod_is_pending_with_the_usual_defaults() {
        let mut p = json!({"metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        on_create("pods", &mut p);
        assert_eq!(p["status"]["phase"], "Pending");
        assert_eq!(p["status"]["qosClass"], "BestEffort");
        assert_eq!(p["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(p["spec"]["containers"][0]["imagePullPolicy"], "Always");
    }
}
