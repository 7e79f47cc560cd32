//! The POST subresources: `serviceaccounts/token` (TokenRequest), `pods/binding` and
//! `pods/eviction`.
use http::Response;
use serde_json::{Value, json};

use super::auth;
use super::body::{self, Body};
use super::resources::Resource;
use super::routes::ResourcePath;
use super::state::State;
use super::status::ApiError;
use super::store::{DeleteOpts, ObjKey};

pub(crate) fn success(details: Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201, "details": details})
}

pub(crate) fn post_subresource(
    st: &State,
    r: &Resource,
    rp: &ResourcePath,
    ns: &str,
    name: &str,
    v: Value,
) -> Result<Response<Body>, ApiError> {
    match (r.plural, rp.sub.as_deref()) {
        ("serviceaccounts", Some("token")) => {
            let sa = st
                .store
                .get(&ObjKey::new(rp.res, ns, name))
                .ok_or_else(|| ApiError::not_found(r, name))?;
            let audiences: Vec<String> = v
                .pointer("/spec/audiences")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let secs = v
                .pointer("/spec/expirationSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(3600)
                .max(600);
            let now = st.clock.now();
            let (token, exp) = st.auth.mint(
                ns,
                name,
                sa["metadata"]["uid"].as_str().unwrap_or_default(),
                audiences.clone(),
                now.as_second(),
                secs,
            );
            let exp_ts = jiff::Timestamp::from_second(exp)
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            let auds = if audiences.is_empty() {
                vec![auth::API_AUDIENCE.to_owned()]
            } else {
                audiences
            };
            let mut spec = v.get("spec").cloned().unwrap_or_else(|| json!({}));
            spec["audiences"] = json!(auds);
            spec["expirationSeconds"] = json!(secs);
            Ok(body::json(
                201,
                &json!({
                    "kind": "TokenRequest",
                    "apiVersion": "authentication.k8s.io/v1",
                    "metadata": {"name": name, "namespace": ns, "creationTimestamp": st.store.now_string()},
                    "spec": spec,
                    "status": {"token": token, "expirationTimestamp": exp_ts},
                }),
            ))
        }
        ("pods", Some("binding")) => {
            let node = v
                .pointer("/target/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if node.is_empty() {
                return Err(ApiError::invalid(r, name, "target.name: Required value"));
            }
            st.store.modify(&ObjKey::new(rp.res, ns, name), |cur| {
                let bound = cur["spec"]["nodeName"].as_str().unwrap_or_default();
                if !bound.is_empty() {
                    return Err(ApiError::conflict(
                        r,
                        name,
                        &format!("pod {name} is already assigned to node \"{bound}\""),
                    ));
                }
                let mut out = cur.clone();
                out["spec"]["nodeName"] = json!(node);
                Ok(out)
            })?;
            Ok(body::json(
                201,
                &success(json!({"name": name, "kind": "pods"})),
            ))
        }
        ("pods", Some("eviction")) => {
            let opts = DeleteOpts {
                grace: v
                    .pointer("/deleteOptions/gracePeriodSeconds")
                    .and_then(Value::as_i64),
                ..DeleteOpts::default()
            };
            st.store.delete(&ObjKey::new(rp.res, ns, name), &opts)?;
            Ok(body::json(
                201,
                &success(json!({"name": name, "kind": "pods"})),
            ))
        }
        _ => Err(ApiError::method_not_allowed("POST")),
    }
}
