//! `/stats/summary` and `/metrics/resource`: resource usage from [`crate::Provider::stats`],
//! in the kubelet's formats, for metrics-server and `kubectl top`.
use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::error::Result;
use super::state::ServerState;
use crate::provider::{ContainerStats, PodStats};

pub(super) async fn summary(State(state): State<ServerState>) -> Result<Json<Value>> {
    let pods = state.provider.stats().await?;
    Ok(Json(summary_json(
        &state.node_name,
        &pods,
        state.clock.now(),
    )))
}

fn cpu(time: Timestamp, nano_cores: Option<u64>, core_nano_seconds: Option<u64>) -> Value {
    json!({"time": time.to_string(), "usageNanoCores": nano_cores, "usageCoreNanoSeconds": core_nano_seconds})
}

fn memory(time: Timestamp, working_set: Option<u64>) -> Value {
    json!({"time": time.to_string(), "workingSetBytes": working_set})
}

fn sum(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values.fold(None, |acc, v| match (acc, v) {
        (None, v) => v,
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, None) => a,
    })
}

fn pod_totals(p: &PodStats) -> (Option<u64>, Option<u64>, Option<u64>) {
    (
        sum(p.containers.iter().map(|c| c.cpu_usage_nano_cores)),
        sum(p.containers.iter().map(|c| c.cpu_usage_core_nano_seconds)),
        sum(p.containers.iter().map(|c| c.memory_working_set_bytes)),
    )
}

/// When a pod's totals were measured: the latest of its containers' times, else `now`.
fn pod_time(p: &PodStats, now: Timestamp) -> Timestamp {
    p.containers
        .iter()
        .filter_map(|c| c.time)
        .max()
        .unwrap_or(now)
}

/// The kubelet's stats/v1alpha1 `Summary`.
fn summary_json(node: &str, pods: &[PodStats], now: Timestamp) -> Value {
    let container = |c: &ContainerStats| {
        let time = c.time.unwrap_or(now);
        json!({
            "name": c.name,
            "startTime": c.start_time.map(|t| t.to_string()),
            "cpu": cpu(time, c.cpu_usage_nano_cores, c.cpu_usage_core_nano_seconds),
            "memory": memory(time, c.memory_working_set_bytes),
        })
    };
    let pod_values: Vec<Value> = pods
        .iter()
        .map(|p| {
            let (nano, core_ns, mem) = pod_totals(p);
            let time = pod_time(p, now);
            json!({
                "podRef": {"name": p.key.name, "namespace": p.key.namespace, "uid": p.uid},
                "startTime": p.start_time.map(|t| t.to_string()),
                "containers": p.containers.iter().map(container).collect::<Vec<_>>(),
                "cpu": cpu(time, nano, core_ns),
                "memory": memory(time, mem),
                "network": {"time": now.to_string(), "rxBytes": p.rx_bytes, "txBytes": p.tx_bytes},
            })
        })
        .collect();
    let totals: Vec<_> = pods.iter().map(pod_totals).collect();
    json!({
        "node": {
            "nodeName": node,
            "cpu": cpu(now, sum(totals.iter().map(|t| t.0)), sum(totals.iter().map(|t| t.1))),
            "memory": memory(now, sum(totals.iter().map(|t| t.2))),
        },
        "pods": pod_values,
    })
}

pub(super) async fn resource_metrics(State(state): State<ServerState>) -> Response {
    let now = state.clock.now();
    let stats = state.provider.stats().await;
    if let Err(e) = &stats {
        tracing::debug!(error = %e, "provider statistics unavailable");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        resource_text(stats.as_deref().ok(), now),
    )
        .into_response()
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn seconds(core_nano_seconds: u64) -> f64 {
    // Precision loss above 2^53 ns (104 days of CPU) is below the metric's resolution.
    core_nano_seconds as f64 / 1e9
}

/// One sample: its labels, its value and when it was measured (milliseconds).
type Sample = (String, String, i64);

/// The kubelet's `/metrics/resource` in Prometheus text format (with sample timestamps in
/// milliseconds, as the kubelet writes them: each container's own measurement time, so
/// metrics-server's rate between two scrapes divides by the time the data really spans).
fn resource_text(pods: Option<&[PodStats]>, now: Timestamp) -> String {
    let error = u8::from(pods.is_none());
    let pods = pods.unwrap_or_default();
    let mut out = String::new();
    let families = container_families(pods, now)
        .into_iter()
        .chain(pod_and_node_families(pods, now));
    for (name, kind, help, samples) in families {
        let _ = writeln!(out, "# HELP {name} [STABLE] {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value, ts) in samples {
            let _ = writeln!(out, "{name}{labels} {value} {ts}");
        }
    }
    for name in ["scrape_error", "resource_scrape_error"] {
        let _ = writeln!(
            out,
            "# HELP {name} [STABLE] 1 if there was an error while getting container metrics, 0 otherwise"
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {error}");
    }
    out
}

/// One metric family: name, type, help and samples.
type Family = (&'static str, &'static str, &'static str, Vec<Sample>);

/// The per-container families: CPU counter, working set, start time.
fn container_families(pods: &[PodStats], now: Timestamp) -> [Family; 3] {
    let at = |c: &ContainerStats| c.time.unwrap_or(now).as_millisecond();
    let labels = |p: &PodStats, c: &ContainerStats| {
        format!(
            "{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}}",
            escape(&c.name),
            escape(&p.key.namespace),
            escape(&p.key.name)
        )
    };
    let samples = |value: &dyn Fn(&ContainerStats) -> Option<String>| -> Vec<Sample> {
        pods.iter()
            .flat_map(|p| p.containers.iter().map(move |c| (p, c)))
            .filter_map(|(p, c)| Some((labels(p, c), value(c)?, at(c))))
            .collect()
    };
    [
        (
            "container_cpu_usage_seconds_total",
            "counter",
            "Cumulative cpu time consumed by the container in core-seconds",
            samples(&|c| Some(seconds(c.cpu_usage_core_nano_seconds?).to_string())),
        ),
        (
            "container_memory_working_set_bytes",
            "gauge",
            "Current working set of the container in bytes",
            samples(&|c| Some(c.memory_working_set_bytes?.to_string())),
        ),
        (
            "container_start_time_seconds",
            "gauge",
            "Start time of the container since unix epoch in seconds",
            samples(&|c| Some(c.start_time?.as_second().to_string())),
        ),
    ]
}

/// The pod families (sums of their containers) and the node's (sums of its pods).
fn pod_and_node_families(pods: &[PodStats], now: Timestamp) -> [Family; 4] {
    let pod_labels = |p: &PodStats| {
        format!(
            "{{namespace=\"{}\",pod=\"{}\"}}",
            escape(&p.key.namespace),
            escape(&p.key.name)
        )
    };
    let totals: Vec<_> = pods
        .iter()
        .map(|p| (p, pod_totals(p), pod_time(p, now).as_millisecond()))
        .collect();
    // The node's data is as old as its newest pod data.
    let node_ts = totals
        .iter()
        .map(|t| t.2)
        .max()
        .unwrap_or(now.as_millisecond());
    [
        (
            "pod_cpu_usage_seconds_total",
            "counter",
            "Cumulative cpu time consumed by the pod in core-seconds",
            totals
                .iter()
                .filter_map(|(p, t, at)| Some((pod_labels(p), seconds(t.1?).to_string(), *at)))
                .collect(),
        ),
        (
            "pod_memory_working_set_bytes",
            "gauge",
            "Current working set of the pod in bytes",
            totals
                .iter()
                .filter_map(|(p, t, at)| Some((pod_labels(p), t.2?.to_string(), *at)))
                .collect(),
        ),
        (
            "node_cpu_usage_seconds_total",
            "counter",
            "Cumulative cpu time consumed by the node in core-seconds",
            sum(totals.iter().map(|(_, t, _)| t.1))
                .map(|v| (String::new(), seconds(v).to_string(), node_ts))
                .into_iter()
                .collect(),
        ),
        (
            "node_memory_working_set_bytes",
            "gauge",
            "Current working set of the node in bytes",
            sum(totals.iter().map(|(_, t, _)| t.2))
                .map(|v| (String::new(), v.to_string(), node_ts))
                .into_iter()
                .collect(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::PodKey;

    fn stats() -> Vec<PodStats> {
        vec![PodStats {
            key: PodKey::new("default", "web"),
            uid: "u1".into(),
            containers: vec![
                ContainerStats {
                    name: "a".into(),
                    cpu_usage_nano_cores: Some(1_000_000),
                    cpu_usage_core_nano_seconds: Some(2_500_000_000),
                    memory_working_set_bytes: Some(1024),
                    ..ContainerStats::default()
                },
                ContainerStats {
                    name: "b".into(),
                    cpu_usage_core_nano_seconds: Some(500_000_000),
                    memory_working_set_bytes: Some(1024),
                    ..ContainerStats::default()
                },
            ],
            ..PodStats::default()
        }]
    }

    #[test]
    fn resource_metrics_should_carry_container_pod_and_node_series() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let text = resource_text(Some(&stats()), now);
        let ts = now.as_millisecond();
        assert!(text.contains(&format!(
            "container_cpu_usage_seconds_total{{container=\"a\",namespace=\"default\",pod=\"web\"}} 2.5 {ts}"
        )));
        assert!(text.contains(&format!(
            "pod_memory_working_set_bytes{{namespace=\"default\",pod=\"web\"}} 2048 {ts}"
        )));
        assert!(text.contains(&format!("node_cpu_usage_seconds_total 3 {ts}")));
        assert!(text.contains("\nscrape_error 0\n"));
        assert!(resource_text(None, now).contains("\nscrape_error 1\n"));
    }

    #[test]
    fn samples_should_carry_the_time_their_data_was_measured() {
        let now: Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        let measured: Timestamp = "2026-01-01T00:04:00Z".parse().unwrap();
        let mut pods = stats();
        for c in &mut pods[0].containers {
            c.time = Some(measured);
        }
        let text = resource_text(Some(&pods), now);
        let at = measured.as_millisecond();
        assert!(text.contains(&format!(
            "container_cpu_usage_seconds_total{{container=\"a\",namespace=\"default\",pod=\"web\"}} 2.5 {at}"
        )));
        assert!(text.contains(&format!(
            "pod_cpu_usage_seconds_total{{namespace=\"default\",pod=\"web\"}} 3 {at}"
        )));
        assert!(text.contains(&format!("node_memory_working_set_bytes 2048 {at}")));
        let s = summary_json("vk", &pods, now);
        assert_eq!(
            s["pods"][0]["containers"][0]["cpu"]["time"],
            measured.to_string()
        );
        assert_eq!(s["pods"][0]["cpu"]["time"], measured.to_string());
    }

    #[test]
    fn the_summary_should_total_pods_into_the_node() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let s = summary_json("vk", &stats(), now);
        assert_eq!(s["node"]["nodeName"], "vk");
        assert_eq!(s["node"]["memory"]["workingSetBytes"], 2048);
        assert_eq!(s["pods"][0]["podRef"]["name"], "web");
        assert_eq!(s["pods"][0]["cpu"]["usageNanoCores"], 1_000_000);
        assert_eq!(s["pods"][0]["containers"][1]["name"], "b");
    }
}
