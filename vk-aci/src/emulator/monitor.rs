//! Azure Monitor metrics of the emulated container groups, on the ARM listener (one base
//! URL stands in for both `management.azure.com` and `<region>.metrics.monitor.azure.com`):
//!
//! - `POST /subscriptions/{sub}/metrics:getBatch` (Monitor's data plane, api-version
//!   2024-02-01, `metricBatch.json`): up to 50 resource IDs of one subscription and region
//!   in `{"resourceids": [...]}`; answers `{"values": [...]}`, one entry per ID in request
//!   order. Errors are `{"error": {"code", "message"}}`.
//! - `GET /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}/providers/Microsoft.Insights/metrics`
//!   (ARM, api-version 2024-02-01, `metrics_API.json`): one group's `Response`
//!   (`cost`, `timespan`, `interval`, `namespace`, `resourceregion`, `value`). Monitor's
//!   own errors (400, 429) are the Metrics API's flat `{"code", "message"}`; ARM's (404 for a
//!   missing group, api-version, authentication, faults) are `{"error": {...}}`.
//!
//! The values come from the usage model in [`super::usage`]: `CpuUsage` (MilliCores) and
//! `MemoryUsage` (Bytes) per container (dimension `containerName`, summed over the group
//! without a split), and `NetworkBytesReceivedPerSecond`/`NetworkBytesTransmittedPerSecond`
//! at a constant [`NETWORK_RECEIVED_BYTES_PER_SECOND`]/[`NETWORK_TRANSMITTED_BYTES_PER_SECOND`]
//! while any container runs. Windows groups have no platform metrics. Points sit at whole
//! minutes (UTC) for every bucket of the range; a bucket without data is a bare
//! `{"timeStamp"}` as in the spec's examples, and a series with no data at all is left out
//! (`"timeseries": []`). Data newer than `EmulatorConfig::metrics_delay` is not visible yet.
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::time::Instant;
use vk_translate::container_group::OperatingSystemTypes;

use super::Shared;
use super::routes::{arm_error, with_retry_after};
use super::state::{GroupRecord, group_key};
use super::usage::{self, ContainerUsage, Piece, UsageOverrides};
use crate::arm::throttle::{BucketConfig, Priority, TokenBucket};

mod query;

use query::{Aggregation, Api, Kind, MetricDef, NAMESPACE, Params, Query, Split};

/// The only api-version the metrics endpoints accept (both specs' 2024-02-01).
pub const METRICS_API_VERSION: &str = "2024-02-01";

/// At most this many resource IDs per `metrics:getBatch` call (Azure Monitor's documented
/// batch limit).
pub const MAX_BATCH_RESOURCES: usize = 50;

/// Bytes per second a running Linux group receives (a little background traffic: DNS,
/// NTP, the platform's probes).
pub const NETWORK_RECEIVED_BYTES_PER_SECOND: f64 = 256.0;

/// Bytes per second a running Linux group transmits.
pub const NETWORK_TRANSMITTED_BYTES_PER_SECOND: f64 = 128.0;

/// Token buckets of the metrics endpoints, separate from ARM's container group buckets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricsThrottleConfig {
    /// `metrics:getBatch` calls.
    pub batch: BucketConfig,
    /// `Microsoft.Insights/metrics` calls.
    pub list: BucketConfig,
}

impl Default for MetricsThrottleConfig {
    /// Azure Monitor's published query limits per subscription: 360,000 `metrics:getBatch`
    /// calls an hour (100/s) and 12,000 `Microsoft.Insights/metrics` calls an hour (3.3/s)
    /// (Microsoft Q&A "What are the REST API calls per hour limitations", quoted by the
    /// Azure Monitor receiver's users; the REST specs give no numbers). The burst sizes are
    /// the emulator's choice: a minute of batch calls, and ARM's read bucket (250) for the
    /// per-resource calls.
    fn default() -> Self {
        Self {
            batch: BucketConfig {
                capacity: 6_000.0,
                refill_per_second: 100.0,
                background_reserve: 0.0,
            },
            list: BucketConfig {
                capacity: 250.0,
                refill_per_second: 12_000.0 / 3_600.0,
                background_reserve: 0.0,
            },
        }
    }
}

/// The running buckets of a [`MetricsThrottleConfig`].
#[derive(Debug)]
pub(crate) struct MetricsBuckets {
    batch: TokenBucket,
    list: TokenBucket,
}

impl MetricsBuckets {
    /// Full buckets.
    pub fn new(config: MetricsThrottleConfig) -> Self {
        Self {
            batch: TokenBucket::new(config.batch),
            list: TokenBucket::new(config.list),
        }
    }
}

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
    if let Err(response) = super::admission::admit(shared, route.operation(), headers).await {
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

/// A group's region as Azure Monitor spells it (`westus`, `eastus2`).
fn region(record: &GroupRecord) -> String {
    record
        .spec
        .location
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase()
        .replace(' ', "")
}

/// What one group used: each container's name, CPU and memory pieces, in spec order, and
/// the union of their running time (for the network metrics). Empty for Windows groups and
/// groups that do not exist.
struct GroupUsage {
    containers: Vec<(String, Vec<Piece>, Vec<Piece>)>,
    running: Vec<Piece>,
}

fn group_usage(
    shared: &Shared,
    overrides: &UsageOverrides,
    record: Option<&GroupRecord>,
    now: Instant,
) -> GroupUsage {
    let mut usage = GroupUsage {
        containers: Vec::new(),
        running: Vec::new(),
    };
    let Some(record) = record else {
        return usage;
    };
    if record.spec.properties.os_type == Some(OperatingSystemTypes::Windows) {
        return usage;
    }
    let wall = &shared.wall;
    let delay =
        SignedDuration::try_from(shared.config.metrics_delay).unwrap_or(SignedDuration::MAX);
    let visible = wall
        .timestamp(now)
        .checked_sub(delay)
        .unwrap_or(Timestamp::MIN)
        .as_nanosecond();
    let group = record.spec.name.as_deref().unwrap_or_default();
    let timeline = shared.config.timeline;
    let mut spans = Vec::new();
    for container in &record.spec.properties.containers {
        let span = record.run_span(container, &timeline).map(|(from, to)| {
            let from = wall.timestamp(from).as_nanosecond();
            let to = to.map_or(visible, |to| {
                wall.timestamp(to).as_nanosecond().min(visible)
            });
            (from, to)
        });
        let span = span.unwrap_or((0, 0));
        let base = ContainerUsage::of(container);
        let changes = overrides.changes(group, &container.name);
        let cpu = usage::pieces(base, changes, span, |u| u.cpu_millicores);
        let memory = usage::pieces(base, changes, span, |u| u.memory_bytes);
        if span.0 < span.1 {
            spans.push(vec![Piece {
                from: span.0,
                to: span.1,
                value: 1.0,
            }]);
        }
        usage.containers.push((container.name.clone(), cpu, memory));
    }
    let spans: Vec<&[Piece]> = spans.iter().map(Vec::as_slice).collect();
    usage.running = usage::sum(&spans);
    usage
}

/// One series: its `containerName` (if split) and its pieces.
type Series = (Option<String>, Vec<Piece>);

/// The `Metric` objects of one resource.
fn metrics(
    shared: &Shared,
    overrides: &UsageOverrides,
    record: Option<&GroupRecord>,
    resource_id: &str,
    query: &Query,
    now: Instant,
) -> Vec<Value> {
    let usage = group_usage(shared, overrides, record, now);
    let buckets = query.buckets();
    query
        .metrics
        .iter()
        .map(|def| {
            let with_data: Vec<(Option<String>, Vec<Option<usage::Aggregate>>)> =
                select(def, &usage, query)
                    .into_iter()
                    .map(|(container, pieces)| {
                        let points = buckets
                            .iter()
                            .map(|(_, from, to)| usage::aggregate(&pieces, *from, *to))
                            .collect();
                        (container, points)
                    })
                    .filter(|(_, points): &(_, Vec<Option<usage::Aggregate>>)| {
                        points.iter().any(Option::is_some)
                    })
                    .collect();
            let timeseries: Vec<Value> = order_and_top(with_data, query)
                .iter()
                .map(|(container, points)| {
                    series_json(container.as_deref(), points, &buckets, query)
                })
                .collect();
            json!({
                "id": format!("{resource_id}/providers/Microsoft.Insights/metrics/{}", def.name),
                "type": "Microsoft.Insights/metrics",
                "name": {"value": def.name, "localizedValue": def.localized},
                "displayDescription": def.description,
                "unit": def.unit,
                "timeseries": timeseries,
                "errorCode": "Success",
            })
        })
        .collect()
}

/// The series of one metric the query asks for, before empty ones are dropped.
fn select(def: &MetricDef, usage: &GroupUsage, query: &Query) -> Vec<Series> {
    let rate = match def.kind {
        Kind::NetworkReceived => Some(NETWORK_RECEIVED_BYTES_PER_SECOND),
        Kind::NetworkTransmitted => Some(NETWORK_TRANSMITTED_BYTES_PER_SECOND),
        Kind::Cpu | Kind::Memory => None,
    };
    if let Some(rate) = rate {
        let pieces = usage
            .running
            .iter()
            .map(|p| Piece { value: rate, ..*p })
            .collect();
        return vec![(None, pieces)];
    }
    let per_container = usage.containers.iter().map(|(name, cpu, memory)| {
        let pieces = if def.kind == Kind::Cpu { cpu } else { memory };
        (name, pieces)
    });
    let selected: Vec<(&String, &Vec<Piece>)> = match &query.split {
        Split::None | Split::All => per_container.collect(),
        Split::Only(names) => per_container.filter(|(n, _)| names.contains(n)).collect(),
    };
    if query.split == Split::None || query.rollup {
        let all: Vec<&[Piece]> = selected.iter().map(|(_, p)| p.as_slice()).collect();
        return vec![(None, usage::sum(&all))];
    }
    selected
        .into_iter()
        .map(|(name, pieces)| (Some(name.clone()), pieces.clone()))
        .collect()
}

/// `orderby` and `top` (both apply only to a split query, per series and resource).
fn order_and_top<T>(
    mut series: Vec<(T, Vec<Option<usage::Aggregate>>)>,
    query: &Query,
) -> Vec<(T, Vec<Option<usage::Aggregate>>)> {
    if query.split == Split::None {
        return series;
    }
    if let Some((aggregation, descending)) = query.order {
        let key = |points: &[Option<usage::Aggregate>]| -> f64 {
            let values = points.iter().flatten();
            match aggregation {
                Aggregation::Average => {
                    let (sum, n) = values.fold((0.0, 0.0), |(s, n), a| (s + a.average, n + 1.0));
                    if n > 0.0 { sum / n } else { 0.0 }
                }
                Aggregation::Minimum => values.map(|a| a.minimum).fold(f64::INFINITY, f64::min),
                Aggregation::Maximum => values.map(|a| a.maximum).fold(f64::NEG_INFINITY, f64::max),
            }
        };
        series.sort_by(|a, b| {
            let ordering = key(&a.1).total_cmp(&key(&b.1));
            if descending {
                ordering.reverse()
            } else {
                ordering
            }
        });
    }
    series.truncate(query.top);
    series
}

/// A `TimeSeriesElement`: the `containerName` metadata of a split series and one point per
/// bucket, with the requested aggregations where there is data.
fn series_json(
    container: Option<&str>,
    points: &[Option<usage::Aggregate>],
    buckets: &[(i128, i128, i128)],
    query: &Query,
) -> Value {
    let metadata: Vec<Value> = container
        .map(|c| {
            json!({
                "name": {"value": "containername", "localizedValue": "containername"},
                "value": c,
            })
        })
        .into_iter()
        .collect();
    let data: Vec<Value> = buckets
        .iter()
        .zip(points)
        .map(|((stamp, _, _), point)| {
            let stamp = Timestamp::from_nanosecond(*stamp).unwrap_or(Timestamp::UNIX_EPOCH);
            let mut value = json!({ "timeStamp": stamp.to_string() });
            if let Some(point) = point {
                for aggregation in &query.aggregations {
                    let number = match aggregation {
                        Aggregation::Average => point.average,
                        Aggregation::Minimum => point.minimum,
                        Aggregation::Maximum => point.maximum,
                    };
                    value[aggregation.field()] = json!(number);
                }
            }
            value
        })
        .collect();
    json!({ "metadatavalues": metadata, "data": data })
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
