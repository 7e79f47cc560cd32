//! The HPA status the controller writes: conditions set as `setConditionInList` does and
//! the status after a failure.
use serde_json::{Value, json};

/// The status conditions being built, set as `setConditionInList` does.
pub(super) fn set_condition(
    status: &mut Value,
    ty: &str,
    ok: bool,
    reason: &str,
    message: &str,
    now: &str,
) {
    let want = if ok { "True" } else { "False" };
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let Some(list) = status["conditions"].as_array_mut() else {
        return;
    };
    let idx = match list.iter().position(|c| c["type"] == ty) {
        Some(i) => i,
        None => {
            list.push(json!({"type": ty, "status": ""}));
            list.len() - 1
        }
    };
    let c = &mut list[idx];
    if c["status"] != want {
        c["lastTransitionTime"] = json!(now);
    }
    c["status"] = json!(want);
    c["reason"] = json!(reason);
    c["message"] = json!(message);
}

/// `setCurrentReplicasAndMetricsInStatus`: the status after a failure, keeping the
/// desired count.
pub(super) fn set_current(status: &mut Value, current: i32, metrics: Vec<Value>) {
    let mut next = json!({
        "currentReplicas": current,
        "desiredReplicas": status.get("desiredReplicas").cloned().unwrap_or(json!(0)),
    });
    if let Some(t) = status.get("lastScaleTime").filter(|t| !t.is_null()) {
        next["lastScaleTime"] = t.clone();
    }
    if !metrics.is_empty() {
        next["currentMetrics"] = json!(metrics);
    }
    if let Some(c) = status.get("conditions") {
        next["conditions"] = c.clone();
    }
    *status = next;
}

/// The status after a sync: the counts, `lastScaleTime` (now when `rescaled`), the
/// metrics' statuses and the conditions.
pub(super) fn synced_status(
    status: &Value,
    current: i32,
    desired: i32,
    rescaled: bool,
    statuses: Option<Vec<Value>>,
    now: &str,
) -> Value {
    let mut next = json!({
        "currentReplicas": current,
        "desiredReplicas": desired,
    });
    if let Some(t) = status.get("lastScaleTime").filter(|t| !t.is_null()) {
        next["lastScaleTime"] = t.clone();
    }
    if rescaled {
        next["lastScaleTime"] = json!(now);
    }
    if let Some(m) = statuses {
        next["currentMetrics"] = json!(m);
    }
    if let Some(c) = status.get("conditions") {
        next["conditions"] = c.clone();
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_should_keep_their_transition_time_while_the_status_holds() {
        let mut status = json!({});
        set_condition(&mut status, "AbleToScale", true, "A", "a", "t1");
        set_condition(&mut status, "AbleToScale", true, "B", "b", "t2");
        assert_eq!(status["conditions"][0]["lastTransitionTime"], "t1");
        assert_eq!(status["conditions"][0]["reason"], "B");
        set_condition(&mut status, "AbleToScale", false, "C", "c", "t3");
        assert_eq!(status["conditions"][0]["lastTransitionTime"], "t3");
    }
}
