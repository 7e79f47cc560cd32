//! The one source of wall-clock time for Kubernetes timestamps, injectable for tests.
use std::sync::Arc;

use jiff::Timestamp;

/// Where wall-clock timestamps (pod start times, condition transitions, Lease renew times)
/// come from. Durations and timers use `tokio::time`; this is only for the timestamps
/// written into Kubernetes objects.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current wall-clock time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// A clock that stands still until moved, for tests.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<std::sync::Mutex<Timestamp>>);

impl FixedClock {
    /// A clock reading `at` until [`FixedClock::set`] or [`FixedClock::advance`] moves it.
    #[must_use]
    pub fn new(at: Timestamp) -> Self {
        Self(Arc::new(std::sync::Mutex::new(at)))
    }

    /// Set the time.
    pub fn set(&self, at: Timestamp) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// Move the time forward.
    pub fn advance(&self, by: std::time::Duration) {
        let mut t = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let span = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
        *t = t.saturating_add(span).unwrap_or(*t);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
