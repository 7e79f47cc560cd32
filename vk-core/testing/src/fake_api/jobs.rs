//! batch/v1 Jobs: the API server's defaults and validation on create (the generated
//! selector and labels), and the Job controller: pods from the template up to
//! `parallelism`, completions and failures counted from pod phases, the terminal
//! conditions (`SuccessCriteriaMet` then `Complete`; `FailureTarget` then `Failed` once
//! more pods failed than `backoffLimit`).
//!
//! Simplifications: no pod failure policy, success policy, indexed completion,
//! `activeDeadlineSeconds`, backoff delay between retries or TTL after finishing; pods are
//! tracked without the `batch.kubernetes.io/job-tracking` finalizer.
use serde_json::{Value, json};

use super::defaults::set_default;
use super::events::{self, Kind};
use super::resources::{self, Resource, ids};
use super::rest;
use super::state::State;
use super::status::ApiError;
use super::store::{DeleteOpts, Filter, ObjKey};

/// The label holding the Job's UID (the generated selector).
const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// The Job controller's event source.
const JOB_CONTROLLER: &str = "job-controller";
/// The label holding the Job's name.
const JOB_NAME: &str = "batch.kubernetes.io/job-name";

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn int(v: &Value, p: &str) -> Option<i64> {
    v.pointer(p).and_then(Value::as_i64)
}

/// Defaults and validation of a new Job whose UID will be `uid`.
pub(crate) fn admit(r: &Resource, v: &mut Value, uid: &str) -> Result<(), ApiError> {
    let name = s(v, "/metadata/name").to_owned();
    let invalid = |why: String| ApiError::invalid(r, &name, &why);
    if !v.pointer("/spec/template").is_some_and(Value::is_object) {
        return Err(invalid(
            "spec.template.spec.containers: Required value".into(),
        ));
    }
    let restart = s(v, "/spec/template/spec/restartPolicy").to_owned();
    if !matches!(restart.as_str(), "Never" | "OnFailure") {
        let why = if restart.is_empty() {
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"".to_owned()
        } else {
            format!(
                "spec.template.spec.restartPolicy: Unsupported value: \"{restart}\": supported values: \"OnFailure\", \"Never\""
            )
        };
        return Err(invalid(why));
    }
    for (field, value) in [
        ("parallelism", int(v, "/spec/parallelism")),
        ("completions", int(v, "/spec/completions")),
        ("backoffLimit", int(v, "/spec/backoffLimit")),
    ] {
        if let Some(n) = value.filter(|n| *n < 0) {
            return Err(invalid(format!(
                "spec.{field}: Invalid value: {n}: must be greater than or equal to 0"
            )));
        }
    }
    // Both unset: one pod to one completion; parallelism alone: a work queue.
    if int(v, "/spec/completions").is_none() && int(v, "/spec/parallelism").is_none() {
        v["spec"]["completions"] = json!(1);
    }
    set_default(v, "/spec/parallelism", json!(1));
    set_default(v, "/spec/backoffLimit", json!(6));
    set_default(v, "/spec/completionMode", json!("NonIndexed"));
    set_default(v, "/spec/suspend", json!(false));
    set_default(
        v,
        "/spec/podReplacementPolicy",
        json!("TerminatingOrFailed"),
    );
    if v.pointer("/spec/manualSelector") != Some(&json!(true)) {
        if v.pointer("/spec/selector").is_some_and(|s| !s.is_null()) {
            return Err(invalid(format!(
                "spec.selector: Invalid value: {}: `selector` will be auto-generated",
                v["spec"]["selector"]
            )));
        }
        v["spec"]["selector"] = json!({"matchLabels": {CONTROLLER_UID: uid}});
        let labels = [
            (CONTROLLER_UID, uid),
            (JOB_NAME, name.as_str()),
            ("controller-uid", uid),
            ("job-name", name.as_str()),
        ];
        set_default(v, "/spec/template/metadata/labels", json!({}));
        if let Some(m) = v
            .pointer_mut("/spec/template/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            for (k, value) in labels {
                m.entry(k).or_insert_with(|| json!(value));
            }
        }
    }
    for (p, d) in [
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("securityContext", json!({})),
    ] {
        set_default(v, &format!("/spec/template/spec/{p}"), d);
    }
    set_default(v, "/status", json!({}));
    Ok(())
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
        conditions.push(condition(
            "SuccessCriteriaMet",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            &now,
        ));
        conditions.push(condition(
            "Complete",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
            &now,
        ));
        status["completionTime"] = json!(now);
        events::record(
            st,
            job,
            Kind::Normal,
            "Completed",
            "Job completed",
            JOB_CONTROLLER,
        );
    } else if over_backoff {
        for a in &active {
            delete_pod(st, ns, a);
        }
        let message = "Job has reached the specified backoff limit";
        conditions.push(condition(
            "FailureTarget",
            "BackoffLimitExceeded",
            message,
            &now,
        ));
        conditions.push(condition("Failed", "BackoffLimitExceeded", message, &now));
        events::record(
            st,
            job,
            Kind::Warning,
            "BackoffLimitExceeded",
            message,
            JOB_CONTROLLER,
        );
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
    for (k, n) in [
        ("active", active_now),
        ("succeeded", succeeded),
        ("failed", failed),
    ] {
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
    if let Ok(pod) = rest::create(st, resources::get(ids::pods()), ids::pods(), ns, pod) {
        let message = format!("Created pod: {}", s(&pod, "/metadata/name"));
        events::record(
            st,
            job,
            Kind::Normal,
            "SuccessfulCreate",
            &message,
            JOB_CONTROLLER,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(spec: Value) -> Value {
        json!({"metadata": {"name": "pi"}, "spec": spec})
    }

    #[test]
    fn a_new_job_should_get_the_api_servers_defaults_and_selector() {
        let r = resources::get(ids::jobs());
        let mut v = job(
            json!({"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}),
        );
        admit(r, &mut v, "u-1").unwrap();
        assert_eq!(v["spec"]["completions"], 1);
        assert_eq!(v["spec"]["parallelism"], 1);
        assert_eq!(v["spec"]["backoffLimit"], 6);
        assert_eq!(v["spec"]["selector"]["matchLabels"][CONTROLLER_UID], "u-1");
        assert_eq!(
            v["spec"]["template"]["metadata"]["labels"]["job-name"],
            "pi"
        );
        assert_eq!(v["spec"]["template"]["metadata"]["labels"][JOB_NAME], "pi");
    }

    #[test]
    fn a_job_should_need_a_restart_policy_of_never_or_on_failure() {
        let r = resources::get(ids::jobs());
        let mut v = job(json!({"template": {"spec": {"restartPolicy": "Always"}}}));
        let e = admit(r, &mut v, "u").unwrap_err();
        assert_eq!(e.code, 422);
        assert!(
            e.message.contains("Unsupported value: \"Always\""),
            "{}",
            e.message
        );
        let mut v =
            job(json!({"parallelism": 2, "template": {"spec": {"restartPolicy": "Never"}}}));
        admit(r, &mut v, "u").unwrap();
        assert!(v["spec"].get("completions").is_none());
    }
}
