//! metrics-server's scraper: every resolution, GET each node's kubelet
//! `/metrics/resource` over HTTPS with the API server's kubelet client certificate,
//! decode the Prometheus text as metrics-server v0.7 does
//! (`pkg/scraper/client/resource/decode.go`), drop pods the API does not place on that
//! node, and store the round.
//!
//! Decoding: `node_cpu_usage_seconds_total` and `node_memory_working_set_bytes` make the
//! node point, `container_cpu_usage_seconds_total`, `container_memory_working_set_bytes`
//! and `container_start_time_seconds` (labels `namespace`, `pod`, `container`) the
//! container points; every other series is skipped. A sample's own timestamp (ms) is its
//! time, the request time when it has none. A node without CPU or memory is left out; a
//! pod is left out whole when one of its containers lacks CPU or memory (zero counts as
//! missing, as upstream).
use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use serde_json::Value;
use tokio::time::{self, Duration, MissedTickBehavior};

use super::metrics_storage::{Batch, MetricsStorage, PodRef, Point};
use super::proxy;
use super::resources::ids;
use super::state::State;
use super::store::{Filter, ObjKey};

/// Largest `/metrics/resource` body read (a few hundred bytes per container).
const MAX_METRICS_BODY: usize = 64 * 1024 * 1024;

/// Why a node's metrics could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScrapeError {
    /// The node advertises no address to reach its kubelet at.
    #[error("node advertises no address")]
    NoAddress,
    /// The kubelet could not be reached.
    #[error("{0}")]
    Connect(String),
    /// The kubelet answered something other than 200.
    #[error("request failed, status: \"{0}\"")]
    Status(StatusCode),
    /// The scrape took longer than its timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The body is not the Prometheus text format.
    #[error("failed parsing metrics: {0}")]
    Decode(#[from] DecodeError),
}

/// Why a Prometheus text body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A series line that is not `name{labels} value [timestamp]`.
    #[error("line {line}: {why}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
}

// === the scrape loop ===

/// Scrape every `resolution` until the server stops (metrics-server's `--metric-resolution`).
pub(crate) fn spawn(st: Arc<State>, storage: Arc<MetricsStorage>, resolution: Duration) {
    tokio::spawn(async move {
        let mut ticker = time::interval(resolution);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // metrics-server: the scrape timeout is 90% of the resolution.
        let timeout = resolution.mul_f64(0.9);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = st.stop.cancelled() => break,
            }
            let batch = scrape(&st, timeout).await;
            storage.store(batch);
        }
    });
}

/// One round: every node, concurrently, merged.
async fn scrape(st: &Arc<State>, timeout: Duration) -> Batch {
    let nodes = st
        .store
        .list(ids::nodes(), &Filter::default(), None, None)
        .0;
    let tasks: Vec<_> = nodes
        .into_iter()
        .map(|node| {
            let st = st.clone();
            tokio::spawn(async move {
                let name = node["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let result = time::timeout(timeout, scrape_node(&st, &node, &name))
                    .await
                    .unwrap_or(Err(ScrapeError::Timeout(timeout)));
                match result {
                    Ok(b) => Some(b),
                    Err(e) if !is_ready(&node) => {
                        tracing::debug!(node = %name, error = %e, "failed to scrape node, node is not ready");
                        None
                    }
                    Err(e) => {
                        tracing::warn!(node = %name, error = %e, "failed to scrape node");
                        None
                    }
                }
            })
        })
        .collect();
    let mut all = Batch::default();
    for t in tasks {
        let Ok(Some(b)) = t.await else { continue };
        for (n, p) in b.nodes {
            all.nodes.entry(n).or_insert(p);
        }
        for (pod, c) in b.pods {
            all.pods.entry(pod).or_insert(c);
        }
    }
    all
}

fn is_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .is_some_and(|c| c["status"] == "True")
}

/// GET one node's `/metrics/resource` and decode it; pods the API does not bind to this
/// node are dropped, as metrics-server drops pods "from unauthorized node".
async fn scrape_node(st: &State, node: &Value, name: &str) -> Result<Batch, ScrapeError> {
    let (ip, port) = proxy::kubelet_addr(node).ok_or(ScrapeError::NoAddress)?;
    let requested = st.clock.now();
    let tls = proxy::dial(st, ip, port)
        .await
        .map_err(|e| ScrapeError::Connect(e.message))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| ScrapeError::Connect(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let host = std::net::SocketAddr::from((ip, port)).to_string();
    let req = Request::get("/metrics/resource")
        .header(header::HOST, host)
        .header(header::ACCEPT, "text/plain")
        .header(header::USER_AGENT, "metrics-server/v0.7.2 (fake)")
        .body(Empty::<Bytes>::new())
        .map_err(|e| ScrapeError::Connect(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| ScrapeError::Connect(e.to_string()))?;
    if resp.status() != StatusCode::OK {
        return Err(ScrapeError::Status(resp.status()));
    }
    let body = Limited::new(resp.into_body(), MAX_METRICS_BODY)
        .collect()
        .await
        .map_err(|e| ScrapeError::Connect(format!("failed to read response body - {e}")))?
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    let mut batch = decode(&text, requested, name)?;
    batch.pods.retain(|(ns, pod), _| {
        let bound = st
            .store
            .get(&ObjKey::new(ids::pods(), ns, pod))
            .map(|p| p["spec"]["nodeName"].as_str().unwrap_or_default().to_owned());
        match bound {
            Some(n) if n == name => true,
            Some(n) => {
                tracing::warn!(pod = %format!("{ns}/{pod}"), source_node = name, expected_node = %n, "dropping pod metric from unauthorized node");
                false
            }
            None => {
                tracing::debug!(pod = %format!("{ns}/{pod}"), node = name, "dropping pod metric: pod not found");
                false
            }
        }
    });
    Ok(batch)
}

// === decoding ===

/// One sample of the Prometheus text format.
#[derive(Debug, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    labels: BTreeMap<&'a str, String>,
    value: f64,
    timestamp_ms: Option<i64>,
}

/// Read one series line.
fn sample(line: &str) -> Result<Sample<'_>, &'static str> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_ascii_whitespace())
        .ok_or("no value")?;
    let name = &line[..name_end];
    let valid_name = name.chars().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
    });
    if name.is_empty() || !valid_name {
        return Err("invalid metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("unterminated label set")?;
            let key = rest[..eq].trim();
            if key.is_empty() {
                return Err("empty label name");
            }
            rest = rest[eq + 1..]
                .trim_start()
                .strip_prefix('"')
                .ok_or("label value not quoted")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => return Err("unterminated label value"),
                    },
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value"),
                }
            };
            labels.insert(key, value);
            rest = rest[end + 1..].trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err("expected , or } after a label");
            }
        }
    }
    let mut fields = rest.split_ascii_whitespace();
    let value = match fields.next().ok_or("no value")? {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|_| "invalid value")?,
    };
    let timestamp_ms = fields
        .next()
        .map(|t| t.parse::<i64>().map_err(|_| "invalid timestamp"))
        .transpose()?;
    if fields.next().is_some() {
        return Err("trailing data after the timestamp");
    }
    Ok(Sample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// Go's `uint64(f)` for the non-negative values a counter or gauge holds; NaN and
/// negatives read as zero (that is, missing): `as` saturates.
fn whole(f: f64) -> u64 {
    f as u64
}

fn at_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::MIN)
}

/// Decode a kubelet's `/metrics/resource` text taken at `requested` from node `node`.
pub(crate) fn decode(text: &str, requested: Timestamp, node: &str) -> Result<Batch, DecodeError> {
    let mut node_point = Point::default();
    let mut node_seen = false;
    let mut pods: BTreeMap<PodRef, BTreeMap<String, Point>> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let s = sample(line).map_err(|why| DecodeError::Syntax { line: i + 1, why })?;
        let ts = s.timestamp_ms.map_or(requested, at_ms);
        match s.name {
            "node_cpu_usage_seconds_total" => {
                node_point.cumulative_cpu = whole(s.value * 1e9);
                node_point.timestamp = ts;
                node_seen = true;
            }
            "node_memory_working_set_bytes" => {
                node_point.memory = whole(s.value);
                node_point.timestamp = ts;
                node_seen = true;
            }
            "container_cpu_usage_seconds_total"
            | "container_memory_working_set_bytes"
            | "container_start_time_seconds" => {
                let (Some(ns), Some(pod), Some(container)) = (
                    s.labels.get("namespace"),
                    s.labels.get("pod"),
                    s.labels.get("container"),
                ) else {
                    continue;
                };
                let p = pods
                    .entry((ns.clone(), pod.clone()))
                    .or_default()
                    .entry(container.clone())
                    .or_default();
                match s.name {
                    "container_cpu_usage_seconds_total" => {
                        p.cumulative_cpu = whole(s.value * 1e9);
                        p.timestamp = ts;
                    }
                    "container_memory_working_set_bytes" => {
                        p.memory = whole(s.value);
                        p.timestamp = ts;
                    }
                    _ => {
                        p.start = if s.value.is_finite() {
                            // Seconds since 1970.
                            let ns = (s.value * 1e9) as i128;
                            Timestamp::from_nanosecond(ns).unwrap_or(Timestamp::MIN)
                        } else {
                            Timestamp::MIN
                        };
                    }
                }
            }
            _ => {}
        }
    }
    let mut batch = Batch::default();
    if node_seen
        && node_point.timestamp != Timestamp::MIN
        && node_point.cumulative_cpu != 0
        && node_point.memory != 0
    {
        batch.nodes.insert(node.to_owned(), node_point);
    } else {
        tracing::debug!(node, "failed getting complete node metric");
    }
    for (pod, containers) in pods {
        let complete = containers
            .values()
            .filter(|c| **c != Point::default())
            .all(|c| c.cumulative_cpu != 0 && c.memory != 0);
        if !complete {
            tracing::debug!(pod = %format!("{}/{}", pod.0, pod.1), "failed getting complete pod metric");
            continue;
        }
        let kept: BTreeMap<String, Point> = containers
            .into_iter()
            .filter(|(_, c)| *c != Point::default())
            .collect();
        if !kept.is_empty() {
            batch.pods.insert(pod, kept);
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_767_225_600_000;

    fn requested() -> Timestamp {
        Timestamp::from_millisecond(NOW_MS + 5000).unwrap()
    }

    /// The kubelet's format, as vk-core's server writes it.
    const KUBELET: &str = r#"# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 2.5 1767225600000
container_cpu_usage_seconds_total{container="side",namespace="default",pod="web"} 0.5 1767225600000
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="app",namespace="default",pod="web"} 1.6777216e+07 1767225600000
container_memory_working_set_bytes{container="side",namespace="default",pod="web"} 1024 1767225600000
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="app",namespace="default",pod="web"} 1.7672256e+09 1767225600000
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 3 1767225600000
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1.6778240e+07 1767225600000
# HELP scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE scrape_error gauge
scrape_error 0
"#;

    #[test]
    fn the_kubelet_format_should_decode_into_node_and_container_points() {
        let b = decode(KUBELET, requested(), "vk").unwrap();
        let node = b.nodes["vk"];
        assert_eq!(node.cumulative_cpu, 3_000_000_000);
        assert_eq!(node.memory, 16_778_240);
        assert_eq!(
            node.timestamp.as_millisecond(),
            NOW_MS,
            "the sample's own time"
        );
        let web = &b.pods[&("default".to_owned(), "web".to_owned())];
        assert_eq!(web["app"].cumulative_cpu, 2_500_000_000);
        assert_eq!(web["app"].memory, 16_777_216);
        assert_eq!(web["app"].start.as_second(), 1_767_225_600);
        assert_eq!(web["side"].start, Timestamp::MIN, "no start time series");
    }

    #[test]
    fn samples_without_a_timestamp_should_take_the_request_time() {
        let text = "node_cpu_usage_seconds_total 3\nnode_memory_working_set_bytes 5\n";
        let b = decode(text, requested(), "vk").unwrap();
        assert_eq!(b.nodes["vk"].timestamp, requested());
    }

    #[test]
    fn a_pod_with_an_incomplete_container_should_be_left_out() {
        let text = r#"container_cpu_usage_seconds_total{container="a",namespace="ns",pod="p"} 1 1
container_memory_working_set_bytes{container="a",namespace="ns",pod="p"} 10 1
container_cpu_usage_seconds_total{container="b",namespace="ns",pod="p"} 1 1
container_cpu_usage_seconds_total{container="a",namespace="ns",pod="q"} 0 1
container_memory_working_set_bytes{container="a",namespace="ns",pod="q"} 10 1
container_cpu_usage_seconds_total{container="a",namespace="ns",pod="r"} 1 1
container_memory_working_set_bytes{container="a",namespace="ns",pod="r"} 10 1
"#;
        let b = decode(text, requested(), "vk").unwrap();
        let pods: Vec<&str> = b.pods.keys().map(|(_, p)| p.as_str()).collect();
        assert_eq!(pods, ["r"], "p lacks memory for b, q has zero CPU");
        assert!(b.nodes.is_empty(), "no node series");
    }

    #[test]
    fn a_node_with_zero_memory_should_be_left_out() {
        let text = "node_cpu_usage_seconds_total 3 1\nnode_memory_working_set_bytes 0 1\n";
        assert!(decode(text, requested(), "vk").unwrap().nodes.is_empty());
    }

    #[test]
    fn labels_should_be_unescaped_and_other_series_ignored() {
        let text = concat!(
            "container_cpu_usage_seconds_total{namespace=\"n\\\"s\",pod=\"p\\\\1\",container=\"c\",} 1 1\n",
            "container_memory_working_set_bytes{namespace=\"n\\\"s\",pod=\"p\\\\1\",container=\"c\"} 2 1\n",
            "container_network_receive_bytes_total{namespace=\"n\",pod=\"p\",container=\"c\"} 9 1\n",
            "pod_cpu_usage_seconds_total{namespace=\"n\",pod=\"p\"} 9 1\n",
            "container_cpu_usage_seconds_total{pod=\"nolabels\"} 1 1\n",
        );
        let b = decode(text, requested(), "vk").unwrap();
        assert_eq!(
            b.pods.keys().collect::<Vec<_>>(),
            [&("n\"s".to_owned(), "p\\1".to_owned())]
        );
    }

    #[test]
    fn malformed_lines_should_fail_the_scrape() {
        for bad in [
            "node_cpu_usage_seconds_total",
            "node_cpu_usage_seconds_total x",
            "node_cpu_usage_seconds_total 1 2 3",
            "container_cpu_usage_seconds_total{pod=\"p} 1",
            "container_cpu_usage_seconds_total{pod=p} 1",
            "1bad 1",
        ] {
            assert!(decode(bad, requested(), "vk").is_err(), "{bad}");
        }
        assert_eq!(
            decode("a 1\nb", requested(), "vk"),
            Err(DecodeError::Syntax {
                line: 2,
                why: "no value"
            })
        );
    }

    #[test]
    fn special_values_should_parse_and_read_as_missing() {
        let text = "node_cpu_usage_seconds_total NaN 1\nnode_memory_working_set_bytes +Inf 1\n";
        let b = decode(text, requested(), "vk").unwrap();
        assert!(b.nodes.is_empty(), "NaN CPU reads as zero");
    }
}
