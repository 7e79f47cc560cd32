//! The storage side of the write verbs, as kube-apiserver's registry does it: create with
//! defaults and admission (Services get their ClusterIP, Jobs their selector,
//! CertificateSigningRequests their requester; a namespace gets its `default` service
//! account), update and patch with optimistic concurrency, status and scale subresources,
//! and managed fields.
use http::Response;
use serde_json::{Value, json};

use super::apply::{ApplyRequest, apply, record_update};
use super::auth::User;
use super::body::{self, Body};
use super::conversion::Served;
use super::field_validation::field_validation;
use super::patch::{self, PatchType};
use super::request::{Query, truthy};
use super::resources::{self, Resource, ids};
use super::state::State;
use super::status::ApiError;
use super::store::{ObjKey, new_uid};
use super::{defaults, jobs, services};

/// What the API server does to a new CertificateSigningRequest: the requester's identity
/// goes into the spec, a signer name is required and lifetimes under ten minutes refused.
pub(crate) fn certificate_request_admission(
    r: &Resource,
    v: &mut Value,
    user: &User,
) -> Result<(), ApiError> {
    let name = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if v.pointer("/spec/signerName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::invalid(
            r,
            &name,
            "spec.signerName: Required value",
        ));
    }
    if let Some(secs) = v.pointer("/spec/expirationSeconds").and_then(Value::as_i64)
        && secs < 600
    {
        return Err(ApiError::invalid(
            r,
            &name,
            &format!(
                "spec.expirationSeconds: Invalid value: {secs}: may not specify a duration less than 600 seconds (10 minutes)"
            ),
        ));
    }
    if !v["spec"].is_object() {
        return Err(ApiError::bad_request("spec is required"));
    }
    v["spec"]["username"] = json!(user.name);
    v["spec"]["uid"] = json!(user.uid);
    v["spec"]["groups"] = json!(user.groups);
    if let Some(s) = v.as_object_mut() {
        s.remove("status");
    }
    Ok(())
}

/// Create an object with defaults and side effects (a namespace gets its `default`
/// service account).
pub(crate) fn create(
    st: &State,
    r: &Resource,
    res: resources::ResId,
    ns: &str,
    mut v: Value,
) -> Result<Value, ApiError> {
    if !v.is_object() {
        return Err(ApiError::bad_request("the request body must be an object"));
    }
    if let Some(kind) = v.get("kind").and_then(Value::as_str)
        && kind != r.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind {kind} does not match the resource {}",
            r.plural
        )));
    }
    if r.namespaced {
        match v.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
    }
    defaults::on_create(r.plural, &mut v);
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("uid");
    }
    match r.plural {
        "services" => services::admit(st, r, &mut v)?,
        "jobs" => {
            // The generated selector names the Job's UID, so it is chosen here.
            let uid = new_uid();
            jobs::admit(r, &mut v, &uid)?;
            v["metadata"]["uid"] = json!(uid);
        }
        _ => {}
    }
    let created = st.store.create(res, ns, v)?;
    if res == ids::namespaces() {
        let name = created["metadata"]["name"].as_str().unwrap_or_default();
        let sa =
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
        let _ = st.store.create(ids::service_accounts(), name, sa);
    }
    Ok(created)
}

pub(crate) fn check_rv(r: &Resource, name: &str, cur: &Value, new: &Value) -> Result<(), ApiError> {
    match new
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    {
        Some(rv) if !rv.is_empty() && Some(rv) != cur["metadata"]["resourceVersion"].as_str() => {
            Err(ApiError::stale(r, name))
        }
        _ => Ok(()),
    }
}

/// The new object of a write to `sub`: the main resource keeps the stored status when
/// status is a subresource; `status` takes only the status; `scale` only the replicas.
pub(crate) fn scoped(r: &Resource, sub: Option<&str>, cur: &Value, mut new: Value) -> Value {
    match sub {
        None if r.has_subresource("status") => {
            if let Some(m) = new.as_object_mut() {
                match cur.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
            new
        }
        // The approval subresource only writes the conditions.
        Some("approval") => {
            let mut out = cur.clone();
            if !out["status"].is_object() {
                out["status"] = json!({});
            }
            match new.pointer("/status/conditions") {
                Some(c) => out["status"]["conditions"] = c.clone(),
                None => {
                    if let Some(s) = out["status"].as_object_mut() {
                        s.remove("conditions");
                    }
                }
            }
            out
        }
        Some("status") => {
            let mut out = cur.clone();
            if let Some(m) = out.as_object_mut() {
                match new.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
            out
        }
        _ => new,
    }
}

pub(crate) fn scale_of(obj: &Value) -> Value {
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "uid": obj["metadata"]["uid"],
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "creationTimestamp": obj["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector_string(obj.pointer("/spec/selector")),
        },
    })
}

pub(crate) fn selector_string(sel: Option<&Value>) -> String {
    sel.and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// Replace an object (or its `status` or `scale`) as PUT does, with optimistic
/// concurrency on `metadata.resourceVersion` when the body has one.
#[allow(clippy::too_many_arguments)] // one argument per part of the request
pub(crate) fn update(
    st: &State,
    r: &Resource,
    res: resources::ResId,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    v: Value,
    manager: &str,
) -> Result<Value, ApiError> {
    let now = st.store.now_string();
    if let Some(n) = v.pointer("/metadata/name").and_then(Value::as_str)
        && n != name
    {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    let key = ObjKey::new(res, ns, name);
    let out = st.store.modify(&key, |cur| {
        check_rv(r, name, cur, &v)?;
        if sub == Some("scale") {
            let mut out = cur.clone();
            out["spec"]["replicas"] = v.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            return Ok(out);
        }
        let mut new = scoped(r, sub, cur, v);
        record_update(Some(cur), &mut new, manager, sub, r, &now);
        Ok(new)
    })?;
    Ok(if sub == Some("scale") {
        scale_of(&out)
    } else {
        out
    })
}

#[allow(clippy::too_many_arguments)] // one argument per part of the request
pub(crate) fn patch_object(
    st: &State,
    r: &Resource,
    served: Served,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    pt: PatchType,
    v: &Value,
    q: &Query,
    updater: &str,
) -> Result<Response<Body>, ApiError> {
    let res = served.storage;
    let key = ObjKey::new(res, ns, name);
    if pt == PatchType::Apply {
        let manager = q
            .get("fieldManager")
            .cloned()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request("PATCH with apply-patch+yaml requires a fieldManager")
            })?;
        let now = st.store.now_string();
        let areq = ApplyRequest {
            applied: v,
            manager: &manager,
            force: truthy(q, "force"),
            subresource: sub,
            resource: r,
            name,
            now: &now,
        };
        return match st.store.modify(&key, |cur| {
            check_rv(r, name, cur, v)?;
            apply(Some(&served.out(cur.clone())), &areq).map(|o| served.stored(o))
        }) {
            Ok(o) => Ok(body::json(200, &served.out(o))),
            Err(e) if e.code == 404 && sub.is_none() => {
                let mut obj = served.stored(apply(None, &areq)?);
                obj["metadata"]["name"] = json!(name);
                create(st, r, res, ns, obj).map(|o| body::json(201, &served.out(o)))
            }
            Err(e) => Err(e),
        };
    }
    let out = st.store.modify(&key, |cur| {
        let mut base = if sub == Some("scale") {
            scale_of(cur)
        } else {
            served.out(cur.clone())
        };
        match pt {
            PatchType::Merge => patch::merge(&mut base, v),
            PatchType::Strategic => patch::strategic(&mut base, v),
            PatchType::Json => patch::json_patch(&mut base, v)?,
            PatchType::Apply => {}
        }
        check_rv(r, name, cur, &base)?;
        // (`r` is the stored version: a converted view is not checked against it.)
        if !served.converts() && q.get("fieldValidation").map(String::as_str) == Some("Strict") {
            field_validation(q, r, sub, &base)?;
        }
        if sub == Some("scale") {
            let mut out = cur.clone();
            out["spec"]["replicas"] = base.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            return Ok(out);
        }
        let mut new = scoped(r, sub, cur, served.stored(base));
        record_update(Some(cur), &mut new, updater, sub, r, &st.store.now_string());
        Ok(new)
    })?;
    let out = if sub == Some("scale") {
        scale_of(&out)
    } else {
        served.out(out)
    };
    Ok(body::json(200, &out))
}
