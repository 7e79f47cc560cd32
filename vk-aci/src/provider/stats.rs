//! `Provider::stats` for ACI: pod and container usage from Azure Monitor, read in batches
//! on a budget of its own and cached, so metrics-server's scrape every 15 s costs nothing
//! while the last minute is already held.
//!
//! A scrape reads the cache; when the cache is older than [`StatsConfig::refresh_interval`]
//! it starts one refresh (never two at once) and waits for it at most
//! [`StatsConfig::scrape_wait`]. A refresh reads `CpuUsage` and `MemoryUsage` split by
//! container for every running pod's group, 50 groups a call through the batch API
//! (1,000 pods: 20 calls a minute), and the network metrics every
//! [`StatsConfig::network_every`] refreshes. Where the batch API is not configured or says
//! it cannot serve, groups are read one a call through Resource Manager, at most
//! [`StatsConfig::fallback_reads`] a refresh, oldest data first, from ARM's background
//! read budget: creates, deletes and status reads go first. Windows groups have no
//! platform metrics and are not read.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::PodStatus;
use tokio::time::{self, Duration, Instant};
use vk_core::error_chain;
use vk_core::provider::{ContainerStats, PodKey, PodStats};

use super::realtime::{Agent, Realtime};
use super::tracker::Tracker;
use super::usage::{ContainerUsage, Integral};
use crate::arm::Error as ArmError;
use crate::monitor::{MAX_BATCH, MetricsQuery, MonitorClient, Point, Series};

const CPU: &str = "CpuUsage";
const MEMORY: &str = "MemoryUsage";
const RX: &str = "NetworkBytesReceivedPerSecond";
const TX: &str = "NetworkBytesTransmittedPerSecond";

/// The longest a refresh may take (it waits for budget, retries, and reads up to 20 pages).
const REFRESH_TIMEOUT: Duration = Duration::from_secs(120);

/// Per-resource reads in flight at once in the fallback.
const FALLBACK_IN_FLIGHT: usize = 4;

/// How the statistics cache reads Azure Monitor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StatsConfig {
    /// Read again when the last read is this old and someone scrapes. Azure Monitor's
    /// grain is one minute: reading more often only tops up the open minute.
    pub refresh_interval: Duration,
    /// The window of a read of a group already known: Azure Monitor's latest minutes
    /// arrive a few minutes late and settle meanwhile.
    pub lookback: Duration,
    /// How far back a container seen for the first time is read: its CPU counter starts
    /// with that history, so it survives a restart of this process.
    pub history: Duration,
    /// Data that ends longer ago than this is stale and reported as absent.
    pub stale_after: Duration,
    /// Per-resource reads a refresh may spend where the batch API is unavailable.
    pub fallback_reads: usize,
    /// After the batch API said it cannot serve (not found, bad request, forbidden,
    /// unreachable), use the fallback this long before trying it again.
    pub batch_retry_after: Duration,
    /// Network metrics are read every this many refreshes (they cost a call of their own:
    /// they have no container dimension).
    pub network_every: u32,
    /// How long a scrape waits for the refresh it started before answering from the cache.
    pub scrape_wait: Duration,
    /// Also read the `realtime-metrics` extension's agent of each group (VNet mode with
    /// `ENABLE_REAL_TIME_METRICS`), preferred over Azure Monitor when fresher
    /// ([`super::realtime`]).
    pub realtime: bool,
    /// Reach every agent at this address instead of `<pod IP>:18899` (tests, or a
    /// port-forwarded setup).
    pub realtime_address: Option<std::net::SocketAddr>,
}

impl Default for StatsConfig {
    /// Refresh every 60 s, 5-minute windows, 1 h of history, stale after 5 min, 20
    /// fallback reads a refresh, 10 min before trying the batch API again, network every
    /// 5th refresh, scrapes wait up to 5 s (metrics-server's scrape timeout is 10 s), no
    /// realtime agent.
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(60),
            lookback: Duration::from_secs(5 * 60),
            history: Duration::from_secs(60 * 60),
            stale_after: Duration::from_secs(5 * 60),
            fallback_reads: 20,
            batch_retry_after: Duration::from_secs(10 * 60),
            network_every: 5,
            scrape_wait: Duration::from_secs(5),
            realtime: false,
            realtime_address: None,
        }
    }
}

/// A running pod whose group is read.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub key: PodKey,
    pub uid: String,
    pub group: String,
    pub start_time: Option<Timestamp>,
    /// Running containers and when each started.
    pub containers: Vec<(String, Timestamp)>,
    /// The pod's IP (where a realtime agent listens).
    pub pod_ip: Option<std::net::IpAddr>,
}

impl Target {
    /// The target of a tracked pod, when its last status shows running containers.
    pub fn of(key: &PodKey, uid: Option<String>, group: &str, status: &PodStatus) -> Option<Self> {
        if status.phase.as_deref() != Some("Running") {
            return None;
        }
        let containers: Vec<(String, Timestamp)> = status
            .container_statuses
            .iter()
            .flatten()
            .filter_map(|c| {
                let started = c.state.as_ref()?.running.as_ref()?.started_at.as_ref()?;
                Some((c.name.clone(), started.0))
            })
            .collect();
        (!containers.is_empty()).then(|| Self {
            key: key.clone(),
            uid: uid.unwrap_or_default(),
            group: group.to_owned(),
            start_time: status.start_time.as_ref().map(|t| t.0),
            containers,
            pod_ip: status.pod_ip.as_deref().and_then(|ip| ip.parse().ok()),
        })
    }

    fn earliest_start(&self) -> Timestamp {
        self.containers
            .iter()
            .map(|c| c.1)
            .min()
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// What is known of one group.
#[derive(Debug, Default)]
struct GroupUsage {
    containers: HashMap<String, ContainerUsage>,
    rx: Integral,
    tx: Integral,
    /// The end of the last successful read.
    read_until: Option<Timestamp>,
}

#[derive(Debug, Default)]
struct State {
    groups: HashMap<String, GroupUsage>,
    last_refresh: Option<Instant>,
    refreshes: u64,
    batch_down_until: Option<Instant>,
}

/// The statistics cache.
#[derive(Debug)]
pub(crate) struct Stats {
    monitor: MonitorClient,
    realtime: Option<Realtime>,
    config: StatsConfig,
    state: Mutex<State>,
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

/// A read's outcome for one group: its series, or nothing.
type Read = (String, Vec<Series>);

impl Stats {
    pub fn new(monitor: MonitorClient, config: StatsConfig) -> Self {
        Self {
            monitor,
            realtime: config
                .realtime
                .then(|| Realtime::new(config.realtime_address)),
            config,
            state: Mutex::default(),
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The running pods of `tracker`.
    pub fn targets(tracker: &Tracker) -> Vec<Target> {
        tracker
            .lock()
            .iter()
            .filter_map(|(key, t)| Target::of(key, t.uid(), &t.group_name, &t.status()?))
            .collect()
    }

    /// Statistics of `targets`, refreshing the cache first when it is due (waiting at most
    /// `scrape_wait` for that).
    pub async fn collect(self: &Arc<Self>, targets: Vec<Target>, now: Timestamp) -> Vec<PodStats> {
        let due = self
            .lock()
            .last_refresh
            .is_none_or(|t| t.elapsed() >= self.config.refresh_interval);
        // One refresh at a time: a scrape that finds one running answers from the cache.
        let guard = (due && !targets.is_empty())
            .then(|| self.refreshing.clone().try_lock_owned().ok())
            .flatten();
        if let Some(guard) = guard {
            let this = self.clone();
            let wanted = targets.clone();
            let refresh = tokio::spawn(async move {
                let _guard = guard;
                // Budget waits are unbounded by themselves: a refresh gives up in time.
                if time::timeout(REFRESH_TIMEOUT, this.refresh(&wanted, now))
                    .await
                    .is_err()
                {
                    tracing::debug!("azure monitor refresh gave up after {REFRESH_TIMEOUT:?}");
                }
            });
            let _ = time::timeout(self.config.scrape_wait, refresh).await;
        }
        if let Some(realtime) = &self.realtime {
            let agents: Vec<Agent> = targets
                .iter()
                .filter_map(|t| {
                    Some(Agent {
                        group: t.group.clone(),
                        ip: t.pod_ip?,
                    })
                })
                .collect();
            realtime.refresh(&agents).await;
        }
        self.answer(&targets, now)
    }

    /// Build the answer from the cache.
    fn answer(&self, targets: &[Target], now: Timestamp) -> Vec<PodStats> {
        let fresh_after =
            now - SignedDuration::try_from(self.config.stale_after).unwrap_or_default();
        let state = self.lock();
        targets
            .iter()
            .map(|t| {
                let group = state.groups.get(&t.group);
                let containers = t
                    .containers
                    .iter()
                    .map(|(name, started)| {
                        let monitor = group
                            .and_then(|g| g.containers.get(name))
                            .and_then(|u| u.reading(fresh_after));
                        let agent = self
                            .realtime
                            .as_ref()
                            .and_then(|r| r.reading(&t.group, name, fresh_after));
                        // The agent's data is seconds old, Azure Monitor's minutes: the
                        // fresher wins.
                        let reading = match (monitor, agent) {
                            (Some(m), Some(a)) if m.time >= a.time => Some(m),
                            (m, a) => a.or(m),
                        };
                        if reading.is_none() {
                            tracing::trace!(pod = %t.key, container = %name, "no fresh azure monitor data");
                        }
                        ContainerStats {
                            name: name.clone(),
                            start_time: Some(*started),
                            cpu_usage_nano_cores: reading.map(|r| r.nano_cores),
                            cpu_usage_core_nano_seconds: reading.map(|r| r.core_nano_seconds),
                            memory_working_set_bytes: reading.map(|r| r.working_set_bytes),
                            time: reading.map(|r| r.time),
                        }
                    })
                    .collect();
                let counter = |i: &Integral| {
                    // Clamped to u64's range before the cast.
                    let bytes = i.total().clamp(0.0, 1.8e19) as u64;
                    i.until().filter(|u| *u >= fresh_after).map(|_| bytes)
                };
                PodStats {
                    key: t.key.clone(),
                    uid: t.uid.clone(),
                    start_time: t.start_time,
                    containers,
                    rx_bytes: group.and_then(|g| counter(&g.rx)),
                    tx_bytes: group.and_then(|g| counter(&g.tx)),
                }
            })
            .collect()
    }

    /// Read every target's group once.
    async fn refresh(&self, targets: &[Target], now: Timestamp) {
        let network = {
            let mut state = self.lock();
            state.last_refresh = Some(Instant::now());
            state.refreshes += 1;
            let live: std::collections::HashSet<&str> =
                targets.iter().map(|t| t.group.as_str()).collect();
            state.groups.retain(|g, _| live.contains(g.as_str()));
            state.refreshes % u64::from(self.config.network_every.max(1)) == 1
        };
        // Each group's window: a few minutes when known, its history when new.
        let mut planned: Vec<(Timestamp, Target)> = {
            let state = self.lock();
            let lookback = SignedDuration::try_from(self.config.lookback).unwrap_or_default();
            let history = SignedDuration::try_from(self.config.history).unwrap_or_default();
            targets
                .iter()
                .map(|t| {
                    let known = state
                        .groups
                        .get(&t.group)
                        .is_some_and(|g| g.read_until.is_some());
                    let from = if known {
                        now - lookback
                    } else {
                        (now - history).max(t.earliest_start())
                    };
                    (minute_floor(from.min(now - lookback)), t.clone())
                })
                .collect()
        };
        planned.sort_by_key(|(from, t)| (*from, t.group.clone()));
        let usage: Vec<&str> = vec![CPU, MEMORY];
        let mut left: Vec<(Timestamp, Target)> = Vec::new();
        for chunk in planned.chunks(MAX_BATCH) {
            if !self.batch_usable() {
                left.extend_from_slice(chunk);
                continue;
            }
            let from = chunk.iter().map(|c| c.0).min().unwrap_or(now);
            let query = MetricsQuery {
                metrics: &usage,
                start: from,
                end: now,
                by_container: true,
            };
            match self.read_batch(&query, chunk).await {
                Ok(reads) => self.apply(targets, reads, now),
                Err(e) => {
                    self.batch_failed(&e);
                    left.extend_from_slice(chunk);
                }
            }
            if network {
                let net = [RX, TX];
                let query = MetricsQuery {
                    metrics: &net,
                    start: from,
                    end: now,
                    by_container: false,
                };
                match self.read_batch(&query, chunk).await {
                    Ok(reads) => self.apply(targets, reads, now),
                    Err(e) => {
                        tracing::debug!(error = %error_chain(&e), "network metrics unavailable")
                    }
                }
            }
        }
        if !left.is_empty() {
            self.fallback(targets, left, now).await;
        }
    }

    fn batch_usable(&self) -> bool {
        self.monitor.has_batch()
            && self
                .lock()
                .batch_down_until
                .is_none_or(|t| Instant::now() >= t)
    }

    fn batch_failed(&self, error: &ArmError) {
        // Throttling and server errors were retried already and pass; anything else says
        // the batch API cannot serve us (wrong cloud, no role, unreachable): fall back.
        let unavailable = match error {
            ArmError::Api { status, .. } => *status != 429 && *status < 500,
            ArmError::Timeout { .. } => false,
            _ => true,
        };
        tracing::warn!(error = %error_chain(error), fallback = unavailable, "azure monitor batch read failed");
        if unavailable {
            self.lock().batch_down_until = Some(Instant::now() + self.config.batch_retry_after);
        }
    }

    async fn read_batch(
        &self,
        query: &MetricsQuery<'_>,
        chunk: &[(Timestamp, Target)],
    ) -> Result<Vec<Read>, ArmError> {
        let ids: Vec<String> = chunk
            .iter()
            .map(|(_, t)| self.monitor.resource_id(&t.group))
            .collect();
        let resources = self.monitor.batch(query, &ids).await?;
        Ok(resources
            .into_iter()
            .filter_map(|r| {
                let name = r.resource_id.rsplit('/').next()?.to_ascii_lowercase();
                Some((name, r.series))
            })
            .collect())
    }

    /// Read groups one a call, oldest data first, within the fallback budget.
    async fn fallback(
        &self,
        targets: &[Target],
        mut left: Vec<(Timestamp, Target)>,
        now: Timestamp,
    ) {
        {
            let state = self.lock();
            left.sort_by_key(|(_, t)| {
                state
                    .groups
                    .get(&t.group)
                    .and_then(|g| g.read_until)
                    .unwrap_or(Timestamp::UNIX_EPOCH)
            });
        }
        left.truncate(self.config.fallback_reads);
        let reads = left.into_iter().map(|(from, t)| {
            let group = t.group;
            async move {
                let query = MetricsQuery {
                    metrics: &[CPU, MEMORY],
                    start: from,
                    end: now,
                    by_container: true,
                };
                match self.monitor.resource(&group, &query).await {
                    Ok(series) => Some((group, series)),
                    Err(e) => {
                        tracing::debug!(%group, error = %error_chain(&e), "azure monitor read failed");
                        None
                    }
                }
            }
        });
        let reads: Vec<Option<Read>> = futures::stream::iter(reads)
            .buffer_unordered(FALLBACK_IN_FLIGHT)
            .collect()
            .await;
        self.apply(targets, reads.into_iter().flatten().collect(), now);
    }

    /// Fold reads into the cache.
    fn apply(&self, targets: &[Target], reads: Vec<Read>, now: Timestamp) {
        let by_group: HashMap<&str, &Target> =
            targets.iter().map(|t| (t.group.as_str(), t)).collect();
        let mut state = self.lock();
        for (group, series) in reads {
            let Some(target) = by_group.get(group.as_str()) else {
                continue;
            };
            let entry = state.groups.entry(target.group.clone()).or_default();
            entry.read_until = Some(now);
            let of = |metric: &str, container: Option<&str>| -> Vec<Point> {
                series
                    .iter()
                    .filter(|s| {
                        s.metric.eq_ignore_ascii_case(metric)
                            && match (container, s.container.as_deref()) {
                                (Some(c), Some(d)) => c.eq_ignore_ascii_case(d),
                                (None, _) => true,
                                (Some(_), None) => false,
                            }
                    })
                    .flat_map(|s| s.points.iter().map(|p| scaled(p, &s.unit)))
                    .collect()
            };
            for (name, started) in &target.containers {
                let cpu = of(CPU, Some(name));
                let memory = of(MEMORY, Some(name));
                if cpu.is_empty() && memory.is_empty() {
                    continue;
                }
                entry
                    .containers
                    .entry(name.clone())
                    .or_default()
                    .apply(*started, &cpu, &memory, now);
            }
            let since = target.start_time.unwrap_or(Timestamp::UNIX_EPOCH);
            entry.rx.apply(&of(RX, None), 1.0, now, since);
            entry.tx.apply(&of(TX, None), 1.0, now, since);
        }
    }
}

/// A CPU point in millicores whatever unit Azure wrote (ACI reports millicores as
/// `Count`); other metrics as they are.
fn scaled(p: &Point, unit: &str) -> Point {
    let factor = if unit.eq_ignore_ascii_case("Cores") {
        1000.0
    } else if unit.eq_ignore_ascii_case("NanoCores") {
        1e-6
    } else {
        1.0
    };
    Point {
        time: p.time,
        average: p.average * factor,
    }
}

fn minute_floor(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second() - t.as_second().rem_euclid(60)).unwrap_or(t)
}
