//! metrics-server's storage: the last two points of every node and container, and usage
//! from them. CPU is a rate, `Δcumulative / Δtimestamp` between the two points, so a
//! node or container needs two scrapes before it has metrics; memory is the latest
//! working set. A container whose start time moved past the stored point restarted, and
//! starts over. As metrics-server v0.7 (`pkg/storage`), including the "fresh container"
//! rule that lets a container started within one resolution (and at least 10 s before
//! its point) count its start as the earlier point.
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use jiff::{SignedDuration, Timestamp};
use tokio::time::Duration;

/// One measurement of a node or container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Point {
    /// When the container started (`Timestamp::MIN`, "zero", when unknown or a node).
    pub start: Timestamp,
    /// When the values were measured.
    pub timestamp: Timestamp,
    /// CPU time used since the start, in core-nanoseconds.
    pub cumulative_cpu: u64,
    /// Working set, in bytes.
    pub memory: u64,
}

impl Default for Point {
    fn default() -> Self {
        Self {
            start: Timestamp::MIN,
            timestamp: Timestamp::MIN,
            cumulative_cpu: 0,
            memory: 0,
        }
    }
}

/// A pod, by namespace and name.
pub(crate) type PodRef = (String, String);

/// The points of one scrape round: every node that answered, with its pods.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Batch {
    /// Node points by node name.
    pub nodes: BTreeMap<String, Point>,
    /// Container points by pod, then container name.
    pub pods: BTreeMap<PodRef, BTreeMap<String, Point>>,
}

/// Usage computed from two points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    /// The later point's timestamp.
    pub timestamp: Timestamp,
    /// The time between the two points.
    pub window: Duration,
    /// CPU in nanocores.
    pub cpu_nano_cores: u64,
    /// Working set in bytes.
    pub memory: u64,
}

/// Usage of one pod: its containers by name, with the earliest container timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PodUsage {
    /// The earliest container timestamp.
    pub timestamp: Timestamp,
    /// That container's window.
    pub window: Duration,
    /// Per container, in name order.
    pub containers: Vec<(String, Usage)>,
}

/// metrics-server's freshContainerMinMetricsResolution.
const FRESH_CONTAINER_MIN: SignedDuration = SignedDuration::from_secs(10);

#[derive(Default)]
struct Inner {
    nodes_last: BTreeMap<String, Point>,
    nodes_prev: BTreeMap<String, Point>,
    pods_last: BTreeMap<PodRef, BTreeMap<String, Point>>,
    pods_prev: BTreeMap<PodRef, BTreeMap<String, Point>>,
}

/// Thread-safe storage of the last two points.
pub(crate) struct MetricsStorage {
    resolution: SignedDuration,
    inner: Mutex<Inner>,
}

/// Why two points give no usage.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum UsageError {
    /// The later point has an earlier start time.
    #[error("unexpected decrease in startTime of node/container")]
    StartTimeDecreased,
    /// The cumulative CPU went down.
    #[error("unexpected decrease in cumulative CPU usage value")]
    CpuDecreased,
    /// The points are not ordered in time.
    #[error("the points are not ordered in time")]
    NoWindow,
}

/// CPU and memory between `prev` and `last`.
pub(crate) fn usage(last: &Point, prev: &Point) -> Result<Usage, UsageError> {
    if last.start < prev.start {
        return Err(UsageError::StartTimeDecreased);
    }
    if last.cumulative_cpu < prev.cumulative_cpu {
        return Err(UsageError::CpuDecreased);
    }
    let window = last.timestamp.duration_since(prev.timestamp);
    let window = Duration::try_from(window).map_err(|_| UsageError::NoWindow)?;
    if window.is_zero() {
        return Err(UsageError::NoWindow);
    }
    // Precision loss above 2^53 core-ns (104 days of CPU per window) is far below what a
    // rate over seconds can show.
    let delta = (last.cumulative_cpu - prev.cumulative_cpu) as f64;
    // Truncated to whole nanocores, as metrics-server's `uint64(cpuUsage)`.
    let cpu = (delta / window.as_secs_f64()) as u64;
    Ok(Usage {
        timestamp: last.timestamp,
        window,
        cpu_nano_cores: cpu,
        memory: last.memory,
    })
}

impl MetricsStorage {
    /// Empty storage for scrapes every `resolution`.
    pub fn new(resolution: Duration) -> Self {
        Self {
            resolution: SignedDuration::try_from(resolution).unwrap_or(SignedDuration::MAX),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Store a scrape round: nodes and pods missing from it are forgotten.
    pub fn store(&self, batch: Batch) {
        let mut inner = self.lock();
        let mut nodes_prev = BTreeMap::new();
        for (name, new) in &batch.nodes {
            if let Some(last) = inner.nodes_last.get(name) {
                if new.timestamp > last.timestamp {
                    nodes_prev.insert(name.clone(), *last);
                } else if let Some(prev) = inner.nodes_prev.get(name)
                    && prev.timestamp < new.timestamp
                {
                    nodes_prev.insert(name.clone(), *prev);
                }
            }
        }
        let mut pods_prev = BTreeMap::new();
        for (pod, containers) in &batch.pods {
            let mut prev_containers = BTreeMap::new();
            for (name, new) in containers {
                let age = new.timestamp.duration_since(new.start);
                if new.start < new.timestamp && age < self.resolution && age >= FRESH_CONTAINER_MIN
                {
                    // A container that started within one resolution: its start is the
                    // earlier point, with no CPU used yet.
                    let at_start = Point {
                        timestamp: new.start,
                        cumulative_cpu: 0,
                        ..*new
                    };
                    prev_containers.insert(name.clone(), at_start);
                } else if let Some(last) = inner.pods_last.get(pod).and_then(|c| c.get(name))
                    && new.start < last.timestamp
                {
                    // Not restarted since the stored point.
                    if new.timestamp > last.timestamp {
                        prev_containers.insert(name.clone(), *last);
                    } else if let Some(prev) = inner.pods_prev.get(pod).map(|c| c.get(name)) {
                        let prev = prev.copied().unwrap_or_default();
                        if prev.timestamp < new.timestamp {
                            prev_containers.insert(name.clone(), prev);
                        }
                    }
                }
            }
            if !prev_containers.is_empty() {
                pods_prev.insert(pod.clone(), prev_containers);
            }
        }
        inner.nodes_last = batch.nodes;
        inner.nodes_prev = nodes_prev;
        inner.pods_last = batch.pods;
        inner.pods_prev = pods_prev;
    }

    /// A node's usage, if two points are stored.
    pub fn node(&self, name: &str) -> Option<Usage> {
        let inner = self.lock();
        let last = inner.nodes_last.get(name)?;
        let prev = inner.nodes_prev.get(name)?;
        match usage(last, prev) {
            Ok(u) => Some(u),
            Err(e) => {
                tracing::warn!(node = name, error = %e, "skipping node usage metric");
                None
            }
        }
    }

    /// A pod's usage, if every container it last reported has two points. A container
    /// whose points give no usage (a restart or a counter reset) is left out of the pod.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<PodUsage> {
        let inner = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        let last = inner.pods_last.get(&key)?;
        let prev = inner.pods_prev.get(&key)?;
        let mut containers = Vec::with_capacity(last.len());
        let mut earliest: Option<Usage> = None;
        for (container, l) in last {
            let p = prev.get(container)?;
            match usage(l, p) {
                Ok(u) => {
                    if earliest.is_none_or(|e| e.timestamp > u.timestamp) {
                        earliest = Some(u);
                    }
                    containers.push((container.clone(), u));
                }
                Err(e) => tracing::warn!(
                    pod = %format!("{namespace}/{name}"), container, error = %e,
                    "skipping container usage metric"
                ),
            }
        }
        let first = earliest.unwrap_or(Usage {
            timestamp: Timestamp::MIN,
            window: Duration::ZERO,
            cpu_nano_cores: 0,
            memory: 0,
        });
        Some(PodUsage {
            timestamp: first.timestamp,
            window: first.window,
            containers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn point(start: i64, ts: i64, cpu_ms: u64, memory: u64) -> Point {
        Point {
            start: at(start),
            timestamp: at(ts),
            cumulative_cpu: cpu_ms * 1_000_000,
            memory,
        }
    }

    fn batch(node: Option<Point>, containers: &[(&str, Point)]) -> Batch {
        let mut b = Batch::default();
        if let Some(n) = node {
            b.nodes.insert("n".into(), n);
        }
        let pod: BTreeMap<String, Point> = containers
            .iter()
            .map(|(c, p)| ((*c).to_owned(), *p))
            .collect();
        if !pod.is_empty() {
            b.pods.insert(("default".into(), "web".into()), pod);
        }
        b
    }

    #[test]
    fn cpu_should_be_the_rate_between_the_last_two_points() {
        let s = MetricsStorage::new(Duration::from_secs(15));
        s.store(batch(
            Some(point(0, 100, 1000, 5)),
            &[("a", point(0, 100, 1000, 7))],
        ));
        assert_eq!(s.node("n"), None, "one point is not enough");
        assert_eq!(s.pod("default", "web"), None);
        s.store(batch(
            Some(point(0, 102, 1500, 6)),
            &[("a", point(0, 102, 1400, 8))],
        ));
        let n = s.node("n").unwrap();
        assert_eq!(n.cpu_nano_cores, 250_000_000);
        assert_eq!((n.memory, n.window), (6, Duration::from_secs(2)));
        let p = s.pod("default", "web").unwrap();
        assert_eq!(p.containers[0].1.cpu_nano_cores, 200_000_000);
        assert_eq!(p.timestamp, at(102));
    }

    #[test]
    fn a_restarted_container_should_start_over() {
        let s = MetricsStorage::new(Duration::from_secs(15));
        s.store(batch(None, &[("a", point(0, 100, 1000, 7))]));
        s.store(batch(None, &[("a", point(0, 102, 1400, 7))]));
        assert!(s.pod("default", "web").is_some());
        // Started again at 103, after the stored point.
        s.store(batch(None, &[("a", point(103, 104, 10, 7))]));
        assert_eq!(s.pod("default", "web"), None);
        s.store(batch(None, &[("a", point(103, 106, 210, 7))]));
        let p = s.pod("default", "web").unwrap();
        assert_eq!(p.containers[0].1.cpu_nano_cores, 100_000_000);
    }

    #[test]
    fn a_pod_needs_both_points_of_every_container() {
        let s = MetricsStorage::new(Duration::from_secs(15));
        s.store(batch(None, &[("a", point(0, 100, 1000, 7))]));
        s.store(batch(
            None,
            &[("a", point(0, 102, 1400, 7)), ("b", point(0, 102, 10, 7))],
        ));
        assert_eq!(s.pod("default", "web"), None);
    }

    #[test]
    fn a_repeated_point_should_keep_the_previous_one() {
        let s = MetricsStorage::new(Duration::from_secs(15));
        s.store(batch(Some(point(0, 100, 1000, 5)), &[]));
        s.store(batch(Some(point(0, 102, 1200, 5)), &[]));
        // The kubelet served the same (cached) sample again.
        s.store(batch(Some(point(0, 102, 1200, 5)), &[]));
        assert_eq!(s.node("n").unwrap().cpu_nano_cores, 100_000_000);
    }

    #[test]
    fn a_fresh_container_should_count_from_its_start() {
        let s = MetricsStorage::new(Duration::from_secs(60));
        s.store(batch(None, &[("a", point(100, 120, 2000, 7))]));
        let p = s.pod("default", "web").unwrap();
        assert_eq!(p.containers[0].1.cpu_nano_cores, 100_000_000);
        assert_eq!(p.window, Duration::from_secs(20));
    }

    #[test]
    fn usage_should_refuse_counters_that_go_back() {
        assert_eq!(
            usage(&point(0, 102, 100, 1), &point(0, 100, 200, 1)),
            Err(UsageError::CpuDecreased)
        );
        assert_eq!(
            usage(&point(0, 102, 300, 1), &point(5, 100, 200, 1)),
            Err(UsageError::StartTimeDecreased)
        );
    }
}
