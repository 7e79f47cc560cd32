//! ACI's create/delete quota windows: at most N operations per sliding window.
use std::collections::VecDeque;

use tokio::time::{Duration, Instant};

/// One window: `limit` operations per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaWindow {
    /// The window length.
    pub period: Duration,
    /// Operations allowed in it.
    pub limit: usize,
}

/// ACI's documented container group create (and delete) limits per subscription and
/// region: 100 per 5 minutes and 300 per hour (`aci-spec/README.md`).
#[must_use]
pub fn aci_defaults() -> Vec<QuotaWindow> {
    vec![
        QuotaWindow {
            period: Duration::from_secs(300),
            limit: 100,
        },
        QuotaWindow {
            period: Duration::from_secs(3600),
            limit: 300,
        },
    ]
}

/// Sliding windows over recorded operations.
#[derive(Debug, Default)]
pub struct QuotaWindows {
    windows: Vec<QuotaWindow>,
    events: VecDeque<Instant>,
}

// === impl QuotaWindows ===

impl QuotaWindows {
    /// Windows with the given limits.
    #[must_use]
    pub fn new(windows: Vec<QuotaWindow>) -> Self {
        Self {
            windows,
            events: VecDeque::new(),
        }
    }

    /// Record one operation at `now`, or say when one would fit.
    ///
    /// # Errors
    /// The time until the fullest window frees a slot.
    pub fn try_record(&mut self, now: Instant) -> Result<(), Duration> {
        let longest = self
            .windows
            .iter()
            .map(|w| w.period)
            .max()
            .unwrap_or_default();
        while self
            .events
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= longest)
        {
            self.events.pop_front();
        }
        let mut wait = Duration::ZERO;
        for w in &self.windows {
            let inside: Vec<&Instant> = self
                .events
                .iter()
                .filter(|t| now.saturating_duration_since(**t) < w.period)
                .collect();
            if inside.len() >= w.limit {
                // The slot frees when the oldest event that keeps the window full leaves it.
                let oldest = inside[inside.len() - w.limit];
                wait = wait.max((*oldest + w.period).saturating_duration_since(now));
            }
        }
        if wait > Duration::ZERO {
            Err(wait)
        } else {
            self.events.push_back(now);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_window_should_refuse_until_its_oldest_event_leaves() {
        let mut q = QuotaWindows::new(vec![QuotaWindow {
            period: Duration::from_secs(10),
            limit: 2,
        }]);
        let t0 = Instant::now();
        assert!(q.try_record(t0).is_ok());
        assert!(q.try_record(t0 + Duration::from_secs(1)).is_ok());
        assert_eq!(
            q.try_record(t0 + Duration::from_secs(2)),
            Err(Duration::from_secs(8))
        );
        assert!(q.try_record(t0 + Duration::from_secs(10)).is_ok());
    }
}
