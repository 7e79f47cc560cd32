//! The time series the metrics endpoints answer with: each group's usage from the usage
//! model, split, ordered and cut to `top` as asked, and shaped as Azure Monitor's JSON.
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::time::Instant;
use vk_translate::container_group::OperatingSystemTypes;

use super::definitions::{Aggregation, Kind, MetricDef};
use super::query::{Query, Split};
use crate::emulator::state::GroupRecord;
use crate::emulator::store::Shared;
use crate::emulator::usage::{self, ContainerUsage, Piece, UsageOverrides};

/// Bytes per second a running Linux group receives (a little background traffic: DNS,
/// NTP, the platform's probes).
pub const NETWORK_RECEIVED_BYTES_PER_SECOND: f64 = 256.0;

/// Bytes per second a running Linux group transmits.
pub const NETWORK_TRANSMITTED_BYTES_PER_SECOND: f64 = 128.0;

/// A group's region as Azure Monitor spells it (`westus`, `eastus2`).
pub(super) fn region(record: &GroupRecord) -> String {
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
pub(super) fn metrics(
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
