//! Resource statistics a provider reports for `/stats/summary` and `/metrics/resource`
//! (`kubectl top`, metrics-server, HPAs).
use jiff::Timestamp;

use super::pod::PodKey;

/// Resource statistics of one container, for `/stats/summary` and `/metrics/resource`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerStats {
    /// Container name.
    pub name: String,
    /// When the container started.
    pub start_time: Option<Timestamp>,
    /// CPU usage in nanocores.
    pub cpu_usage_nano_cores: Option<u64>,
    /// Cumulative CPU time in core-nanoseconds.
    pub cpu_usage_core_nano_seconds: Option<u64>,
    /// Working set memory in bytes.
    pub memory_working_set_bytes: Option<u64>,
    /// When the values above were measured; `None`: now. A backend that reads usage from a
    /// metrics service gives the end of the data's window, so rates computed between two
    /// scrapes (metrics-server divides the CPU counter's change by the change of this time)
    /// are right even when a scrape returns the same data twice.
    pub time: Option<Timestamp>,
}

/// Resource statistics of one pod.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodStats {
    /// The pod.
    pub key: PodKey,
    /// Its UID.
    pub uid: String,
    /// When it started.
    pub start_time: Option<Timestamp>,
    /// Its containers.
    pub containers: Vec<ContainerStats>,
    /// Network bytes received, if known.
    pub rx_bytes: Option<u64>,
    /// Network bytes sent, if known.
    pub tx_bytes: Option<u64>,
}
