//! What a request asks for: its query parameters, headers, object body, list filter,
//! field manager and delete options.
use std::collections::HashMap;

use http::{Request, header};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::body;
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{DeleteOpts, Filter};

/// Query parameters, last value wins (repeated `command=` is read by the proxy itself).
pub(crate) type Query = HashMap<String, String>;

pub(crate) fn parse_query(q: Option<&str>) -> Query {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn truthy(q: &Query, k: &str) -> bool {
    matches!(q.get(k).map(String::as_str), Some("true" | "1"))
}

pub(crate) fn header_str<B>(req: &Request<B>, name: header::HeaderName) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Read a request's body as the object it carries (protobuf or JSON).
pub(crate) async fn read_object(req: Request<Incoming>) -> Result<Value, ApiError> {
    let ct = header_str(&req, header::CONTENT_TYPE);
    body::object(&body::read(req.into_body()).await?, &ct)
}

/// The field manager of a write: `fieldManager`, else the User-Agent's program name, as
/// the API server derives it.
pub(crate) fn field_manager(q: &Query, req: &Request<Incoming>) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|m| !m.is_empty())
        .unwrap_or("unknown")
        .to_owned()
}

pub(crate) fn filter(ns: Option<String>, q: &Query) -> Result<Filter, ApiError> {
    Ok(Filter {
        ns,
        labels: LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?,
        fields: FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))?,
    })
}

pub(crate) async fn delete_opts(q: &Query, req: Request<Incoming>) -> Result<DeleteOpts, ApiError> {
    let ct = header_str(&req, header::CONTENT_TYPE);
    let bytes = body::read(req.into_body()).await?;
    let v: Value = if bytes.is_empty() {
        json!({})
    } else {
        body::object(&bytes, &ct)?
    };
    let grace = v
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    let policy = v
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| q.get("propagationPolicy").cloned());
    let orphan =
        policy.as_deref() == Some("Orphan") || v.get("orphanDependents") == Some(&json!(true));
    Ok(DeleteOpts {
        grace,
        uid: v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        rv: v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
        orphan,
    })
}
