//! Wall-clock timestamps for tokio instants.
use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

/// Wall-clock time for tokio instants: one reading of the injected clock at start, then
/// the tokio clock's progress, so a paused test clock moves timestamps too.
#[derive(Clone, Debug)]
pub struct WallClock {
    base_wall: Timestamp,
    base: Instant,
}

impl WallClock {
    /// Anchor `wall` at `now`.
    #[must_use]
    pub fn new(wall: Timestamp, now: Instant) -> Self {
        Self {
            base_wall: wall,
            base: now,
        }
    }

    /// The RFC 3339 wall time of `at`.
    #[must_use]
    pub fn at(&self, at: Instant) -> String {
        self.timestamp(at).to_string()
    }

    /// The wall time of `at`.
    #[must_use]
    pub fn timestamp(&self, at: Instant) -> Timestamp {
        let offset = if at >= self.base {
            SignedDuration::try_from(at - self.base).unwrap_or(SignedDuration::ZERO)
        } else {
            -SignedDuration::try_from(self.base - at).unwrap_or(SignedDuration::ZERO)
        };
        self.base_wall.checked_add(offset).unwrap_or(self.base_wall)
    }
}
