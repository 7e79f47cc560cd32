//! The `realtime-metrics` extension's data: in VNet mode with `ENABLE_REAL_TIME_METRICS`,
//! each Linux container group runs an agent that answers `GET /v1/stats` on port 18899 of
//! the group's private IP with kubelet-style pod statistics, seconds old rather than Azure
//! Monitor's minutes. The format is not documented by Microsoft; it is what the upstream
//! provider reads: `timestamp` (nanoseconds since the epoch) and per container
//! `cpu.usageCoreNanoSeconds` and `memory.workingSetBytes`.
//!
//! Reads go straight to the group (no ARM budget), at most [`IN_FLIGHT`] at once, each
//! bounded by a timeout and a body cap, and are cached for [`CACHE_FOR`].
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use futures::StreamExt;
use jiff::Timestamp;
use serde::Deserialize;
use tokio::time::{Duration, Instant};

use super::usage::Reading;

/// The agent's port.
pub const PORT: u16 = 18899;

/// Reads in flight at once.
pub const IN_FLIGHT: usize = 16;

/// How long one answer is reused (metrics-server scrapes every 15 s; several scrapes of the
/// same node within seconds cost one read).
pub const CACHE_FOR: Duration = Duration::from_secs(5);

/// Timeout of one read: the agent answers from memory.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Largest answer accepted.
const MAX_BODY: usize = 256 * 1024;

#[derive(Deserialize)]
struct PodStatsBody {
    timestamp: u64,
    #[serde(default)]
    containers: Vec<ContainerBody>,
}

#[derive(Deserialize)]
struct ContainerBody {
    name: String,
    #[serde(default)]
    cpu: Option<CpuBody>,
    #[serde(default)]
    memory: Option<MemoryBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CpuBody {
    usage_core_nano_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemoryBody {
    working_set_bytes: Option<u64>,
}

/// One container's sample: when, cumulative CPU and working set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// When the agent measured it.
    pub time: Timestamp,
    /// Cumulative CPU, core-nanoseconds.
    pub core_nano_seconds: u64,
    /// Working set, bytes.
    pub working_set_bytes: u64,
}

/// Decode an agent's answer: the samples of the containers that have both values.
///
/// # Errors
/// The body is not the agent's JSON.
pub fn parse(body: &[u8]) -> Result<Vec<(String, Sample)>, serde_json::Error> {
    let parsed: PodStatsBody = serde_json::from_slice(body)?;
    let nanos = i128::from(parsed.timestamp);
    let Ok(time) = Timestamp::from_nanosecond(nanos) else {
        return Ok(Vec::new());
    };
    Ok(parsed
        .containers
        .into_iter()
        .filter_map(|c| {
            Some((
                c.name,
                Sample {
                    time,
                    core_nano_seconds: c.cpu?.usage_core_nano_seconds?,
                    working_set_bytes: c.memory?.working_set_bytes?,
                },
            ))
        })
        .collect())
}

/// A group to read: its cache key and where its agent listens.
#[derive(Clone, Debug)]
pub(crate) struct Agent {
    pub group: String,
    pub ip: IpAddr,
}

/// Reads of the agents, the previous sample of each container (for the CPU rate) and the
/// latest answers.
#[derive(Debug)]
pub(crate) struct Realtime {
    http: reqwest::Client,
    /// Where every agent is reached instead of `ip:18899` (tests, port-forwarded setups).
    address_override: Option<SocketAddr>,
    state: Mutex<HashMap<String, Cached>>,
}

#[derive(Debug, Default, Clone)]
struct Cached {
    read_at: Option<Instant>,
    /// Per container: the latest and the one before.
    samples: HashMap<String, (Sample, Option<Sample>)>,
}

impl Realtime {
    pub fn new(address_override: Option<SocketAddr>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            http,
            address_override,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Read every agent whose answer is older than [`CACHE_FOR`]; forget groups not in
    /// `agents`.
    pub async fn refresh(&self, agents: &[Agent]) {
        let due: Vec<Agent> = {
            let mut state = self.lock();
            state.retain(|g, _| agents.iter().any(|a| &a.group == g));
            agents
                .iter()
                .filter(|a| {
                    state
                        .get(&a.group)
                        .and_then(|c| c.read_at)
                        .is_none_or(|t| t.elapsed() >= CACHE_FOR)
                })
                .cloned()
                .collect()
        };
        let reads = due.into_iter().map(|agent| async move {
            let result = self.read(agent.ip).await;
            (agent.group, result)
        });
        let results: Vec<_> = futures::stream::iter(reads)
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut state = self.lock();
        for (group, result) in results {
            let entry = state.entry(group.clone()).or_default();
            entry.read_at = Some(Instant::now());
            match result {
                Ok(samples) => {
                    for (name, sample) in samples {
                        let slot = entry.samples.entry(name).or_insert((sample, None));
                        if sample.time > slot.0.time {
                            *slot = (sample, Some(slot.0));
                        }
                    }
                }
                Err(e) => tracing::debug!(%group, error = %e, "realtime metrics unavailable"),
            }
        }
    }

    async fn read(&self, ip: IpAddr) -> Result<Vec<(String, Sample)>, String> {
        let addr = self
            .address_override
            .unwrap_or_else(|| SocketAddr::new(ip, PORT));
        let url = format!("http://{addr}/v1/stats");
        let mut response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| e.without_url().to_string())?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("answer larger than {MAX_BODY} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        parse(&body).map_err(|e| e.to_string())
    }

    /// The reading of `group`/`container` from its last two samples, when both exist and
    /// the latest is no older than `fresh_after`.
    pub fn reading(&self, group: &str, container: &str, fresh_after: Timestamp) -> Option<Reading> {
        let state = self.lock();
        let (last, previous) = state.get(group)?.samples.get(container)?;
        let previous = previous.as_ref()?;
        if last.time < fresh_after {
            return None;
        }
        let nanos = last.time.duration_since(previous.time).as_nanos();
        let used = last
            .core_nano_seconds
            .checked_sub(previous.core_nano_seconds)?;
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let nano_cores = if nanos > 0 {
            (used as f64 / nanos as f64 * 1e9) as u64
        } else {
            return None;
        };
        Some(Reading {
            time: last.time,
            nano_cores: nano_cores.max(1),
            core_nano_seconds: last.core_nano_seconds.max(1),
            working_set_bytes: last.working_set_bytes.max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_answer_should_give_each_containers_counter_and_working_set() {
        let body = br#"{"timestamp": 1767225600000000000, "cpu": {"usageCoreNanoSeconds": 9},
            "memory": {"usageBytes": 5, "workingSetBytes": 4, "rssBytes": 3},
            "containers": [
              {"name": "app", "cpu": {"usageCoreNanoSeconds": 2500000000}, "memory": {"workingSetBytes": 1048576}},
              {"name": "half", "cpu": {"usageCoreNanoSeconds": 1}}
            ]}"#;
        let samples = parse(body).unwrap();
        assert_eq!(samples.len(), 1, "a container without memory is left out");
        assert_eq!(samples[0].0, "app");
        assert_eq!(samples[0].1.core_nano_seconds, 2_500_000_000);
        assert_eq!(samples[0].1.time, "2026-01-01T00:00:00Z".parse().unwrap());
        assert!(parse(b"not json").is_err());
        assert!(parse(br#"{"timestamp": 18446744073709551615, "containers": []}"#).is_ok());
    }
}
