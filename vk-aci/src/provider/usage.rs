//! Per-container usage built from Azure Monitor's per-minute averages, in the kubelet's
//! terms: the current CPU rate, the working set, and a cumulative CPU counter.
//!
//! The kubelet reports cumulative CPU time (`usageCoreNanoSeconds`) and metrics-server
//! divides its change between two scrapes by the change of the samples' timestamps. Azure
//! Monitor gives one average a minute instead, so each minute's average is integrated over
//! the part of that minute the container ran and that the data covers: a still-open
//! minute counts up to the query's end and is topped up when it is read again. A minute's
//! contribution only ever grows, so the counter is monotonic; the sample's timestamp is the
//! end of the data, so a scrape that sees the same data twice reports the same point twice
//! rather than a false rate.
use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use crate::monitor::Point;

/// Seconds in a grain (the queries ask for PT1M).
const GRAIN_SECONDS: i64 = 60;

/// How many minutes of contributions are kept for topping up; older ones are folded into
/// the total (Azure Monitor's latest minutes settle within a few minutes).
const KEPT_MINUTES: i64 = 30;

/// A counter that integrates a per-minute rate series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Integral {
    /// Contributions of recent minutes, by the minute's start (seconds since the epoch).
    minutes: BTreeMap<i64, f64>,
    /// Contributions of minutes no longer kept.
    folded: f64,
    /// The end of the latest data integrated.
    until: Option<Timestamp>,
}

impl Integral {
    /// Integrate `points` (rates per second, times `scale`) read over a window ending at
    /// `end`, counting only time from `not_before` on (the container's start).
    pub fn apply(&mut self, points: &[Point], scale: f64, end: Timestamp, not_before: Timestamp) {
        for p in points {
            let start = p.time.as_second();
            let from = start.max(not_before.as_second());
            let to = start.saturating_add(GRAIN_SECONDS).min(end.as_second());
            if to <= from {
                continue;
            }
            // At most 60: exact in an f64.
            let covered = (to - from) as f64;
            let value = p.average * scale * covered;
            let slot = self.minutes.entry(start).or_insert(0.0);
            if value > *slot {
                *slot = value;
            }
            let until = Timestamp::from_second(to).ok();
            if until > self.until {
                self.until = until;
            }
        }
        if let Some(until) = self.until {
            let keep_from = until.as_second() - KEPT_MINUTES * GRAIN_SECONDS;
            let kept = self.minutes.split_off(&keep_from);
            self.folded += self.minutes.values().sum::<f64>();
            self.minutes = kept;
        }
    }

    /// The total so far.
    #[must_use]
    pub fn total(&self) -> f64 {
        self.folded + self.minutes.values().sum::<f64>()
    }

    /// The end of the latest data integrated.
    #[must_use]
    pub fn until(&self) -> Option<Timestamp> {
        self.until
    }
}

/// The latest value of a gauge series.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latest {
    /// The grain's start and its average.
    pub point: Option<Point>,
}

impl Latest {
    /// Keep the newest point of `points`.
    pub fn apply(&mut self, points: &[Point]) {
        if let Some(last) = points.last()
            && self.point.is_none_or(|p| p.time <= last.time)
        {
            self.point = Some(*last);
        }
    }
}

/// What is known of one container's usage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerUsage {
    /// The start of the container instance the data belongs to.
    pub started: Option<Timestamp>,
    /// CPU time in core-nanoseconds (from `CpuUsage` millicores).
    pub cpu: Integral,
    /// The latest CPU average, millicores.
    pub cpu_now: Latest,
    /// The latest memory average, bytes.
    pub memory: Latest,
}

/// Core-nanoseconds per second per millicore.
const NANOS_PER_MILLICORE_SECOND: f64 = 1e6;

/// One container's usage as the kubelet reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    /// When the data ends (the samples' timestamp).
    pub time: Timestamp,
    /// Current CPU, nanocores.
    pub nano_cores: u64,
    /// Cumulative CPU, core-nanoseconds.
    pub core_nano_seconds: u64,
    /// Working set, bytes.
    pub working_set_bytes: u64,
}

// Clamped and finite before the cast.
fn whole(v: f64) -> u64 {
    // Never 0: metrics-server drops a pod whose container reports 0 CPU time or 0 bytes of
    // memory, and a running container has used some of both.
    v.clamp(1.0, 1.8e19) as u64
}

impl ContainerUsage {
    /// Take a new read of this container: `cpu` and `memory` per-minute averages over a
    /// window ending at `end`. A different `started` (the container restarted) starts a new
    /// counter, as the kubelet's does.
    pub fn apply(&mut self, started: Timestamp, cpu: &[Point], memory: &[Point], end: Timestamp) {
        if self.started != Some(started) {
            *self = Self {
                started: Some(started),
                ..Self::default()
            };
        }
        // Minutes that ended before the instance started belong to an earlier one.
        let current = |p: &&Point| p.time + SignedDuration::from_secs(GRAIN_SECONDS) > started;
        let cpu: Vec<Point> = cpu.iter().filter(current).copied().collect();
        let memory: Vec<Point> = memory.iter().filter(current).copied().collect();
        self.cpu
            .apply(&cpu, NANOS_PER_MILLICORE_SECOND, end, started);
        self.cpu_now.apply(&cpu);
        self.memory.apply(&memory);
    }

    /// The reading, when both CPU and memory data exist and end no earlier than
    /// `fresh_after`; stale or missing data is no reading, never zeros.
    #[must_use]
    pub fn reading(&self, fresh_after: Timestamp) -> Option<Reading> {
        let time = self.cpu.until().filter(|t| *t >= fresh_after)?;
        let cpu_now = self.cpu_now.point?;
        let memory = self.memory.point?;
        if memory.time + SignedDuration::from_secs(GRAIN_SECONDS) < fresh_after {
            return None;
        }
        Some(Reading {
            time,
            nano_cores: whole(cpu_now.average * NANOS_PER_MILLICORE_SECOND),
            core_nano_seconds: whole(self.cpu.total()),
            working_set_bytes: whole(memory.average),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        format!("2026-01-01T{s}Z").parse().unwrap()
    }

    fn p(s: &str, average: f64) -> Point {
        Point {
            time: t(s),
            average,
        }
    }

    #[test]
    fn a_full_minute_at_250_millicores_should_be_15_core_seconds() {
        let mut u = ContainerUsage::default();
        u.apply(
            t("00:00:00"),
            &[p("00:00:00", 250.0)],
            &[p("00:00:00", 1e6)],
            t("00:01:00"),
        );
        let r = u.reading(t("00:00:00")).unwrap();
        assert_eq!(r.core_nano_seconds, 15_000_000_000);
        assert_eq!(r.nano_cores, 250_000_000);
        assert_eq!(r.working_set_bytes, 1_000_000);
        assert_eq!(r.time, t("00:01:00"));
    }

    #[test]
    fn an_open_minute_should_count_up_to_the_window_end_then_be_topped_up() {
        let mut u = ContainerUsage::default();
        let started = t("00:00:30");
        u.apply(
            started,
            &[p("00:00:00", 1000.0)],
            &[p("00:00:00", 1.0)],
            t("00:00:45"),
        );
        let first = u.reading(t("00:00:00")).unwrap();
        assert_eq!(first.core_nano_seconds, 15_000_000_000, "15 s at one core");
        assert_eq!(first.time, t("00:00:45"));
        u.apply(
            started,
            &[p("00:00:00", 1000.0), p("00:01:00", 500.0)],
            &[p("00:01:00", 1.0)],
            t("00:02:00"),
        );
        let second = u.reading(t("00:00:00")).unwrap();
        assert_eq!(
            second.core_nano_seconds, 60_000_000_000,
            "30 s at 1 + 60 s at 0.5"
        );
        assert_eq!(second.time, t("00:02:00"));
    }

    #[test]
    fn a_lower_settled_average_should_never_make_the_counter_go_back() {
        let mut u = ContainerUsage::default();
        let started = t("00:00:00");
        u.apply(
            started,
            &[p("00:00:00", 1000.0)],
            &[p("00:00:00", 1.0)],
            t("00:00:30"),
        );
        let before = u.reading(started).unwrap().core_nano_seconds;
        // The settled minute averages less than the partial read suggested.
        u.apply(
            started,
            &[p("00:00:00", 400.0)],
            &[p("00:00:00", 1.0)],
            t("00:01:00"),
        );
        assert!(u.reading(started).unwrap().core_nano_seconds >= before);
    }

    #[test]
    fn a_restart_should_start_a_new_counter_and_ignore_the_old_instance() {
        let mut u = ContainerUsage::default();
        u.apply(
            t("00:00:00"),
            &[p("00:00:00", 1000.0), p("00:01:00", 1000.0)],
            &[p("00:01:00", 1.0)],
            t("00:02:00"),
        );
        u.apply(
            t("00:02:00"),
            &[p("00:01:00", 1000.0), p("00:02:00", 100.0)],
            &[p("00:02:00", 1.0)],
            t("00:03:00"),
        );
        let r = u.reading(t("00:02:00")).unwrap();
        assert_eq!(
            r.core_nano_seconds, 6_000_000_000,
            "only the new instance's minute"
        );
    }

    #[test]
    fn stale_or_missing_data_should_be_no_reading_not_zero() {
        let mut u = ContainerUsage::default();
        assert_eq!(u.reading(t("00:00:00")), None);
        u.apply(t("00:00:00"), &[p("00:00:00", 0.0)], &[], t("00:01:00"));
        assert_eq!(u.reading(t("00:00:00")), None, "no memory data");
        u.apply(
            t("00:00:00"),
            &[p("00:00:00", 0.0)],
            &[p("00:00:00", 5.0)],
            t("00:01:00"),
        );
        let r = u.reading(t("00:00:00")).unwrap();
        assert_eq!(
            r.core_nano_seconds, 1,
            "idle is reported as the least non-zero value"
        );
        assert_eq!(
            u.reading(t("00:05:00")),
            None,
            "data ending before 00:05 is stale"
        );
    }

    #[test]
    fn old_minutes_should_be_folded_without_changing_the_total() {
        let mut i = Integral::default();
        let points: Vec<Point> = (0..90)
            .map(|m| Point {
                time: Timestamp::from_second(m * 60).unwrap(),
                average: 1.0,
            })
            .collect();
        i.apply(
            &points,
            1.0,
            Timestamp::from_second(90 * 60).unwrap(),
            Timestamp::UNIX_EPOCH,
        );
        assert!((i.total() - 90.0 * 60.0).abs() < 1e-6);
        assert!(i.minutes.len() <= 31);
    }
}
