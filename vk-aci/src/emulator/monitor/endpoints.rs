//! The two metrics endpoints: `metrics:getBatch` and `Microsoft.Insights/metrics` (paths,
//! api-version, budgets, resource IDs and the error shapes of each).
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::definitions::NAMESPACE;
use super::query::{Api, Params, Query};
use super::timeseries::{metrics, region};
use crate::arm::throttle::Priority;
use crate::emulator::admission;
use crate::emulator::arm_http::{arm_error, with_retry_after};
use crate::emulator::state::{GroupRecord, group_key};
use crate::emulator::store::Shared;

/// The only api-version the metrics endpoints accept (both specs' 2024-02-01).
pub const METRICS_API_VERSION: &str = "2024-02-01";

/// At most this many resource IDs per `metrics:getBatch` call (Azure Monitor's documented
/// batch limit).
pub const MAX_BATCH_RESOURCES: usize = 50;

/// A metrics path, names in their original case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MonitorRoute {
    /// `POST /subscriptions/{sub}/metrics:getBatch`.
    Batch {
        /// The subscription.
        sub: String,
    },
    /// `GET {group ID}/providers/Microsoft.Insights/metrics`.
    List {
        /// The subscription.
        sub: String,
        /// The resource group.
        rg: String,
        /// The container group.
        name: String,
    },
}

impl MonitorRoute {
    /// The metrics call at `path`, if it is one (ARM matches paths case-insensitively).
    pub fn parse(path: &str) -> Option<Self> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let low: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let l: Vec<&str> = low.iter().map(String::as_str).collect();
        match l.as_slice() {
            [
                "subscriptions",
                _,
                "metrics:getbatch" | "metrics%3agetbatch",
            ] => Some(Self::Batch {
                sub: segs[1].to_owned(),
            }),
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.containerinstance",
                "containergroups",
                _,
                "providers",
                "microsoft.insights",
                "metrics",
            ] => Some(Self::List {
                sub: segs[1].to_owned(),
                rg: segs[3].to_owned(),
                name: segs[7].to_owned(),
            }),
            _ => None,
        }
    }

    fn operation(&self) -> &'static str {
        match self {
            Self::Batch { .. } => "metrics.batch",
            Self::List { .. } => "metrics.list",
        }
    }

    fn api(&self) -> Api {
        match self {
            Self::Batch { .. } => Api::Batch,
            Self::List { .. } => Api::List,
        }
    }
}

/// An Azure Monitor error in the shape of `api`: wrapped for the batch API, flat for the
/// Metrics API (Microsoft's "migrate to the getBatch API" guide shows both).
fn monitor_error(api: Api, status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let error = json!({"code": code, "message": message.into()});
    let body = match api {
        Api::Batch => json!({ "error": error }),
        Api::List => error,
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(code) {
        response.headers_mut().insert("x-ms-error-code", v);
    }
    response
}

/// Serve one metrics call.
pub(crate) async fn serve(
    shared: &Arc<Shared>,
    route: MonitorRoute,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Err(response) = admission::admit(shared, route.operation(), headers).await {
        return response;
    }
    let api = route.api();
    let allowed = match api {
        Api::Batch => Method::POST,
        Api::List => Method::GET,
    };
    if *method != allowed {
        return arm_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        );
    }
    let params = Params::new(uri.query());
    match params.get("api-version") {
        None => {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            );
        }
        Some(v) if v != METRICS_API_VERSION => {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{v}' is invalid. The supported versions are '{METRICS_API_VERSION}'."
                ),
            );
        }
        Some(_) => {}
    }
    if let Some(buckets) = &shared.metrics_throttle {
        let bucket = match api {
            Api::Batch => &buckets.batch,
            Api::List => &buckets.list,
        };
        if let Err(wait) = bucket.try_take(Priority::Foreground) {
            return with_retry_after(
                monitor_error(
                    api,
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "The metrics query rate limit of the subscription was exceeded. Please try again later.",
                ),
                wait,
            );
        }
    }
    let now = Instant::now();
    let query = match Query::parse(&params, api, shared.wall.timestamp(now)) {
        Ok(query) => query,
        Err(message) => {
            return monitor_error(api, StatusCode::BAD_REQUEST, "BadRequest", message);
        }
    };
    match route {
        MonitorRoute::Batch { sub } => batch(shared, &sub, &query, body, now),
        MonitorRoute::List { sub, rg, name } => list(shared, &sub, &rg, &name, &query, now),
    }
}

/// A container group resource ID's parts, names in their original case.
fn parse_resource_id(id: &str) -> Option<(String, String, String)> {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let low: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = low.iter().map(String::as_str).collect();
    match l.as_slice() {
        [
            "subscriptions",
            _,
            "resourcegroups",
            _,
            "providers",
            "microsoft.containerinstance",
            "containergroups",
            _,
        ] if segs.iter().all(|s| !s.is_empty()) => {
            Some((segs[1].to_owned(), segs[3].to_owned(), segs[7].to_owned()))
        }
        _ => None,
    }
}

fn batch(shared: &Shared, sub: &str, query: &Query, body: &[u8], now: Instant) -> Response {
    #[derive(serde::Deserialize)]
    struct ResourceIdList {
        resourceids: Vec<String>,
    }
    let bad =
        |message: String| monitor_error(Api::Batch, StatusCode::BAD_REQUEST, "BadRequest", message);
    let ids = match serde_json::from_slice::<ResourceIdList>(body) {
        Ok(list) => list.resourceids,
        Err(e) => {
            return bad(format!(
                "The request body must be {{\"resourceids\": [...]}} (property name in lower case): {e}"
            ));
        }
    };
    if ids.is_empty() {
        return bad("The request body lists no resource IDs.".into());
    }
    if ids.len() > MAX_BATCH_RESOURCES {
        return bad(format!(
            "The batch lists {} resource IDs; at most {MAX_BATCH_RESOURCES} can be queried in one call.",
            ids.len()
        ));
    }
    let mut keys = Vec::with_capacity(ids.len());
    for id in &ids {
        let Some((id_sub, rg, name)) = parse_resource_id(id) else {
            return bad(format!(
                "Resource ID '{id}' is not a resource of type Microsoft.ContainerInstance/containerGroups; all resources in a batch must be of the metric namespace's type."
            ));
        };
        if !id_sub.eq_ignore_ascii_case(sub) {
            return bad(format!(
                "Resource ID '{id}' is not in subscription '{sub}'; all resources in a batch must be in the subscription of the request."
            ));
        }
        keys.push(group_key(&id_sub, &rg, &name));
    }
    let timeline = shared.config.timeline;
    let inner = shared.lock();
    let records: Vec<Option<&GroupRecord>> = keys
        .iter()
        .map(|k| inner.groups.get(k).filter(|g| !g.is_gone(now, &timeline)))
        .collect();
    let mut regions: Vec<String> = records.iter().flatten().map(|g| region(g)).collect();
    regions.sort();
    regions.dedup();
    if regions.len() > 1 {
        return bad(format!(
            "The resources of the batch are in the regions {}; all resources in a batch must be in the same region.",
            regions.join(", ")
        ));
    }
    let interval = query.interval();
    let values: Vec<Value> = ids
        .iter()
        .zip(&records)
        .map(|(id, record)| {
            let mut entry = json!({
                "starttime": query.start.to_string(),
                "endtime": query.end.to_string(),
                "interval": interval,
                "namespace": NAMESPACE,
                "resourceid": id,
                "value": metrics(shared, &inner.usage, *record, id, query, now),
            });
            if let Some(record) = record {
                entry["resourceregion"] = Value::String(region(record));
            }
            entry
        })
        .collect();
    axum::Json(json!({ "values": values })).into_response()
}

fn list(shared: &Shared, sub: &str, rg: &str, name: &str, query: &Query, now: Instant) -> Response {
    let timeline = shared.config.timeline;
    let inner = shared.lock();
    let Some(record) = inner
        .groups
        .get(&group_key(sub, rg, name))
        .filter(|g| !g.is_gone(now, &timeline))
    else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource 'Microsoft.ContainerInstance/containerGroups/{name}' under resource group '{rg}' was not found."
            ),
        );
    };
    let id = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}"
    );
    let value = metrics(shared, &inner.usage, Some(record), &id, query, now);
    let points: usize = value
        .iter()
        .filter_map(|m| m["timeseries"].as_array())
        .flatten()
        .filter_map(|s| s["data"].as_array().map(Vec::len))
        .sum();
    axum::Json(json!({
        "cost": points,
        "timespan": format!("{}/{}", query.start, query.end),
        "interval": query.interval(),
        "namespace": NAMESPACE,
        "resourceregion": region(record),
        "value": value,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_paths_should_match_case_insensitively() {
        assert_eq!(
            MonitorRoute::parse("/subscriptions/S/metrics:getBatch"),
            Some(MonitorRoute::Batch { sub: "S".into() })
        );
        assert_eq!(
            MonitorRoute::parse(
                "/subscriptions/s/resourcegroups/RG/providers/microsoft.containerinstance/containerGroups/g1/providers/microsoft.insights/metrics"
            ),
            Some(MonitorRoute::List {
                sub: "s".into(),
                rg: "RG".into(),
                name: "g1".into()
            })
        );
        assert_eq!(
            MonitorRoute::parse(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g1"
            ),
            None
        );
    }

    #[test]
    fn resource_ids_should_name_container_groups() {
        assert_eq!(
            parse_resource_id(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g"
            ),
            Some(("s".into(), "rg".into(), "g".into()))
        );
        for bad in [
            "",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
            "/subscriptions/s/resourceGroups//providers/Microsoft.ContainerInstance/containerGroups/g",
        ] {
            assert_eq!(parse_resource_id(bad), None, "{bad}");
        }
    }
}
