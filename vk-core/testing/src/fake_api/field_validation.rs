//! `fieldValidation`: fields an object's schema does not declare, refused or returned as
//! `Warning` headers as the API server does.
use http::{Response, header};
use serde_json::Value;

use super::body::Body;
use super::openapi_schemas;
use super::request::Query;
use super::resources::Resource;
use super::status::ApiError;

/// The fields of `v` (an object of `r`, or of its `scale`) that its schema does not
/// declare, judged as `fieldValidation` asks: `Strict` refuses the request as the API
/// server's strict decoding does, `Ignore` lets them be, `Warn` (the default) returns them
/// as warnings.
pub(crate) fn field_validation(
    q: &Query,
    r: &Resource,
    sub: Option<&str>,
    v: &Value,
) -> Result<Vec<String>, ApiError> {
    let mode = q.get("fieldValidation").map_or("Warn", String::as_str);
    if mode == "Ignore" {
        return Ok(Vec::new());
    }
    let (group, version, kind) = match sub {
        Some("scale") => ("autoscaling", "v1", "Scale"),
        _ => (r.group, r.version, r.kind),
    };
    let unknown = openapi_schemas::unknown_fields(group, version, kind, v).unwrap_or_default();
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let listed: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    if mode == "Strict" {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            listed.join(", ")
        )));
    }
    Ok(listed)
}

/// [`field_validation`] of a server-side apply body, worded as the apply path words it.
pub(crate) fn apply_field_validation(
    q: &Query,
    r: &Resource,
    sub: Option<&str>,
    ns: &str,
    name: &str,
    v: &Value,
) -> Result<Vec<String>, ApiError> {
    let mut lenient = q.clone();
    lenient.insert("fieldValidation".into(), "Warn".into());
    let unknown = field_validation(&lenient, r, sub, v)?;
    if unknown.is_empty() || q.get("fieldValidation").map(String::as_str) != Some("Strict") {
        return Ok(unknown);
    }
    let fields: Vec<String> = openapi_schemas::unknown_fields(r.group, r.version, r.kind, v)
        .unwrap_or_default()
        .iter()
        .map(|f| format!(".{f}: field not declared in schema"))
        .collect();
    let object = if ns.is_empty() {
        name.to_owned()
    } else {
        format!("{ns}/{name}")
    };
    Err(ApiError::bad_request(format!(
        "failed to create typed patch object ({object}; {}, Kind={}): {}",
        r.api_version(),
        r.kind,
        fields.join("\n")
    )))
}

/// `resp` with a `Warning: 299 - "..."` header per warning, as the API server sends them.
pub(crate) fn with_warnings(mut resp: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = http::HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}
