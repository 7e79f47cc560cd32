//! The Job controller: pods from the template up to `parallelism`, completions and
//! failures counted from pod phases, the terminal conditions (`SuccessCriteriaMet` then
//! `Complete`; `FailureTarget` then `Failed` once more pods failed than `backoffLimit`).
//!
//! Simplifications: no pod failure policy, success policy, indexed completion,
//! `activeDeadlineSeconds`, backoff delay between retries or TTL after finishing; pods are
//! tracked without the `batch.kubernetes.io/job-tracking` finalizer.
use serde_json::{Value, json};

use super::event_recorder::{self, Kind};
use super::registry;
use super::resources::{self, ids};
use super::state::State;
use super::store::{DeleteOpts, Filter, ObjKey};

/// The Job controller's event source.
const JOB_CONTROLLER: &str = "job-controller";

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn int(v: &Value, p: &str) -> Option<i64> {
    v.pointer(p).and_then(Value::as_i64)
}

fn owned<'a>(pods: &'a [Value], uid: &str) -> Vec<&'a Value> {
    pods.iter()
        .filter(|p| {
            p.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
        })
        .collect()
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn finished(job: &Value) -> bool {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter().any(|c| {
                matches!(c["type"].as_str(), Some("Complete" | "Failed")) && c["status"] == "True"
            })
        })
}

fn condition(ty: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": ty,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": now,
        "lastTransitionTime": now,
    })
}

/// Run every unfinished Job one step.
pub(crate) fn reconcile(st: &State) {
    let (jobs, ..) = st.store.list(ids::jobs(), &Filter::default(), None, None);
    if jobs.is_empty() {
        return;
    }
    let (pods, ..) = st.store.list(ids::pods(), &Filter::default(), None, None);
    for job in jobs {
        if job.pointer("/metadata/deletionTimestamp").is_none() && !finished(&job) {
            step(st, &job, &pods);
        }
    }
}

fn step(st: &State, job: &Value, pods: &[Value]) {
    let ns = s(job, "/metadata/namespace");
    let uid = s(job, "/metadata/uid");
    let now = st.store.now_string();
    let mine = owned(pods, uid);
    let phase = |p: &Value| s(p, "/status/phase").to_owned();
    let succeeded = mine.iter().filter(|p| phase(p) == "Succeeded").count();
    let failed = mine.iter().filter(|p| phase(p) == "Failed").count();
    let active: Vec<&&Value> = mine
        .iter()
        .filter(|p| {
            p.pointer("/metadata/deletionTimestamp").is_none()
                && !matches!(phase(p).as_str(), "Succeeded" | "Failed")
        })
        .collect();
    let terminating = mine
        .iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_some())
        .count();
    let ready = active.iter().filter(|p| is_ready(p)).count();
    let completions = int(job, "/spec/completions");
    let parallelism = usize::try_from(int(job, "/spec/parallelism").unwrap_or(1)).unwrap_or(0);
    let backoff_limit = usize::try_from(int(job, "/spec/backoffLimit").unwrap_or(6)).unwrap_or(0);
    let suspended = job.pointer("/spec/suspend") == Some(&json!(true));

    let mut status = job.get("status").cloned().unwrap_or_else(|| json!({}));
    if !status.is_object() {
        status = json!({});
    }
    let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    let complete = match completions {
        Some(c) => succeeded >= usize::try_from(c).unwrap_or(0),
        // A work queue is done once one pod succeeded and none is left running.
        None => succeeded > 0 && active.is_empty(),
    };
    let over_backoff = failed > backoff_limit;
    if complete {
        for a in &active {
            delete_pod(st, ns, a);
        }
        completed(st, job, &mut conditions, &now);
        status["completionTime"] = json!(now);
    } else if over_backoff {
        for a in &active {
            delete_pod(st, ns, a);
        }
        backoff_limit_exceeded(st, job, &mut conditions, &now);
    } else if !suspended {
        let remaining = completions.map_or(parallelism, |c| {
            usize::try_from(c).unwrap_or(0).saturating_sub(succeeded)
        });
        let want = parallelism.min(remaining);
        for _ in active.len()..want {
            create_pod(st, job, ns);
        }
    }
    if status.get("startTime").is_none() && !suspended {
        status["startTime"] = json!(now);
    }
    let finishing = complete || over_backoff;
    let active_now = if finishing {
        0
    } else if suspended {
        active.len()
    } else {
        let remaining = completions.map_or(parallelism, |c| {
            usize::try_from(c).unwrap_or(0).saturating_sub(succeeded)
        });
        active.len().max(parallelism.min(remaining))
    };
    set_counts(
        &mut status,
        [
            ("active", active_now),
            ("succeeded", succeeded),
            ("failed", failed),
        ],
    );
    status["ready"] = json!(if finishing { 0 } else { ready });
    status["terminating"] = json!(terminating);
    status["uncountedTerminatedPods"] = json!({});
    if !conditions.is_empty() {
        status["conditions"] = json!(conditions);
    }
    if job.get("status") != Some(&status) {
        let key = ObjKey::new(ids::jobs(), ns, s(job, "/metadata/name"));
        let _ = st.store.modify(&key, |cur| {
            let mut new = cur.clone();
            new["status"] = status;
            Ok(new)
        });
    }
}

/// The conditions and event of a Job whose pods reached its completions.
fn completed(st: &State, job: &Value, conditions: &mut Vec<Value>, now: &str) {
    conditions.push(condition(
        "SuccessCriteriaMet",
        "CompletionsReached",
        "Reached expected number of succeeded pods",
        now,
    ));
    conditions.push(condition(
        "Complete",
        "CompletionsReached",
        "Reached expected number of succeeded pods",
        now,
    ));
    event_recorder::record(
        st,
        job,
        Kind::Normal,
        "Completed",
        "Job completed",
        JOB_CONTROLLER,
    );
}

/// The conditions and event of a Job with more failed pods than its `backoffLimit`.
fn backoff_limit_exceeded(st: &State, job: &Value, conditions: &mut Vec<Value>, now: &str) {
    let message = "Job has reached the specified backoff limit";
    conditions.push(condition(
        "FailureTarget",
        "BackoffLimitExceeded",
        message,
        now,
    ));
    conditions.push(condition("Failed", "BackoffLimitExceeded", message, now));
    event_recorder::record(
        st,
        job,
        Kind::Warning,
        "BackoffLimitExceeded",
        message,
        JOB_CONTROLLER,
    );
}

/// The status's pod counts, left out when zero as the controller leaves them.
fn set_counts(status: &mut Value, counts: [(&str, usize); 3]) {
    for (k, n) in counts {
        match status.as_object_mut() {
            Some(m) if n == 0 => {
                m.remove(k);
            }
            Some(m) => {
                m.insert(k.into(), json!(n));
            }
            None => {}
        }
    }
}

fn delete_pod(st: &State, ns: &str, pod: &Value) {
    let key = ObjKey::new(ids::pods(), ns, s(pod, "/metadata/name"));
    let _ = st.store.delete(&key, &DeleteOpts::default());
}

fn create_pod(st: &State, job: &Value, ns: &str) {
    let tpl = job.pointer("/spec/template").cloned().unwrap_or_default();
    let name = s(job, "/metadata/name");
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": format!("{name}-"),
            "labels": tpl.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
            "annotations": tpl.pointer("/metadata/annotations").cloned().unwrap_or_else(|| json!({})),
            "ownerReferences": [{
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": name,
                "uid": job["metadata"]["uid"],
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": tpl.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
    if let Ok(pod) = registry::create(st, resources::get(ids::pods()), ids::pods(), ns, pod) {
        let message = format!("Created pod: {}", s(&pod, "/metadata/name"));
        event_recorder::record(
            st,
            job,
            Kind::Normal,
            "SuccessfulCreate",
            &message,
            JOB_CONTROLLER,
        );
    }
}
