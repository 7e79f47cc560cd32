//! Resource usage the MockProvider reports from `stats()`: a CPU rate and a working set
//! per container, with a cumulative CPU counter that advances at the rate in force.
use jiff::Timestamp;

/// CPU and memory a container uses, as [`MockProvider::stats`](super::MockProvider)
/// reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContainerUsage {
    /// CPU in nanocores (one core is `1_000_000_000`).
    pub cpu_nano_cores: u64,
    /// Working set in bytes.
    pub memory_bytes: u64,
}

impl ContainerUsage {
    /// `cpu_millicores` thousandths of a core and `memory_bytes` of working set.
    #[must_use]
    pub fn new(cpu_millicores: u64, memory_bytes: u64) -> Self {
        Self {
            cpu_nano_cores: cpu_millicores.saturating_mul(1_000_000),
            memory_bytes,
        }
    }
}

/// A container's cumulative CPU counter: `base` core-nanoseconds at `since`, then the
/// rate.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CpuMeter {
    rate: u64,
    base: u64,
    /// When `base` was taken; `None` until the first change after the container started
    /// (the counter then runs from the start).
    since: Option<Timestamp>,
}

impl CpuMeter {
    /// A counter at zero running at `rate` nanocores from the container's start.
    pub(super) fn new(rate: u64) -> Self {
        Self {
            rate,
            base: 0,
            since: None,
        }
    }

    /// Core-nanoseconds used by `now` for a container started at `started`.
    pub(super) fn at(&self, now: Timestamp, started: Option<Timestamp>) -> u64 {
        let Some(from) = self.since.or(started) else {
            return self.base;
        };
        let elapsed = u64::try_from(now.duration_since(from).as_nanos()).unwrap_or(0);
        let run = u128::from(elapsed) * u128::from(self.rate) / 1_000_000_000;
        self.base
            .saturating_add(u64::try_from(run).unwrap_or(u64::MAX))
    }

    /// Switch to `rate` from `now`.
    pub(super) fn set_rate(&mut self, rate: u64, now: Timestamp, started: Option<Timestamp>) {
        if rate == self.rate {
            return;
        }
        if started.is_some() {
            self.base = self.at(now, started);
            self.since = Some(now);
        }
        self.rate = rate;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counter_should_advance_at_the_rate_in_force() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = |s: i64| t0 + jiff::SignedDuration::from_secs(s);
        let mut m = CpuMeter::new(ContainerUsage::new(100, 0).cpu_nano_cores);
        assert_eq!(m.at(at(10), None), 0, "not started");
        assert_eq!(m.at(at(10), Some(t0)), 1_000_000_000);
        m.set_rate(500_000_000, at(10), Some(t0));
        assert_eq!(m.at(at(12), Some(t0)), 2_000_000_000);
        m.set_rate(0, at(12), Some(t0));
        assert_eq!(m.at(at(100), Some(t0)), 2_000_000_000);
    }
}
