//! batch/v1 Jobs on the API server side: the defaults and validation on create (the
//! generated selector and labels). The Job controller is in `job_controller`.
use serde_json::{Value, json};

use super::defaults::set_default;
use super::resources::Resource;
use super::status::ApiError;

/// The label holding the Job's UID (the generated selector).
const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_api::resources::{self, ids};

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
