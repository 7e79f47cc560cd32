//! Client-side token buckets mirroring ARM's per-principal limits, so the provider spends
//! its request budget deliberately instead of collecting 429s.
//!
//! ARM keeps one bucket per class (reads: 250, refilled at 25/s; writes and deletes: 200,
//! refilled at 10/s; `aci-spec/README.md`). Background work (status refreshes) asks with
//! [`Priority::Background`] and may only take a token while a reserve is left, so creates,
//! deletes and the user's own reads (logs, exec) always find one first.
use std::sync::Mutex;

use tokio::time::{self, Duration, Instant};

/// The ARM request class a call is charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// GET (and POSTs that read: logs, exec, usages).
    Read,
    /// PUT, PATCH.
    Write,
    /// DELETE.
    Delete,
}

/// Who is asking for a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// A call someone waits for: create, delete, logs, exec, polling a create.
    Foreground,
    /// Background status refreshes: only served while the reserve is untouched.
    Background,
}

/// Size and refill rate of one bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketConfig {
    /// Tokens when full.
    pub capacity: f64,
    /// Tokens added per second.
    pub refill_per_second: f64,
    /// Tokens background callers must leave in the bucket.
    pub background_reserve: f64,
}

impl BucketConfig {
    /// ARM's read bucket: 250, refilled at 25/s (`aci-spec/README.md`, Throttling);
    /// background reads leave 50 for foreground ones.
    #[must_use]
    pub fn arm_reads() -> Self {
        Self {
            capacity: 250.0,
            refill_per_second: 25.0,
            background_reserve: 50.0,
        }
    }

    /// ARM's write (and delete) bucket: 200, refilled at 10/s (`aci-spec/README.md`).
    #[must_use]
    pub fn arm_writes() -> Self {
        Self {
            capacity: 200.0,
            refill_per_second: 10.0,
            background_reserve: 20.0,
        }
    }

    /// A bucket that never runs dry (tests, emulator runs without throttling).
    #[must_use]
    pub fn unlimited() -> Self {
        Self {
            capacity: f64::MAX / 4.0,
            refill_per_second: f64::MAX / 4.0,
            background_reserve: 0.0,
        }
    }
}

/// One token bucket on the tokio clock.
#[derive(Debug)]
pub struct TokenBucket {
    config: BucketConfig,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    updated: Instant,
}

// === impl TokenBucket ===

impl TokenBucket {
    /// A full bucket.
    #[must_use]
    pub fn new(config: BucketConfig) -> Self {
        Self {
            state: Mutex::new(BucketState {
                tokens: config.capacity,
                updated: Instant::now(),
            }),
            config,
        }
    }

    /// Take one token now, or say how long to wait for one.
    ///
    /// # Errors
    /// The wait until a token is available for `priority`.
    pub fn try_take(&self, priority: Priority) -> Result<(), Duration> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
        state.tokens =
            (state.tokens + elapsed * self.config.refill_per_second).min(self.config.capacity);
        state.updated = now;
        let floor = match priority {
            Priority::Foreground => 0.0,
            Priority::Background => self.config.background_reserve,
        };
        if state.tokens >= 1.0 + floor {
            state.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 + floor - state.tokens;
            let secs = missing / self.config.refill_per_second;
            Err(Duration::from_secs_f64(secs.clamp(0.001, 3600.0)))
        }
    }

    /// Wait until a token is available for `priority`, then take it.
    pub async fn acquire(&self, priority: Priority) {
        while let Err(wait) = self.try_take(priority) {
            time::sleep(wait).await;
        }
    }

    /// Tokens in the bucket right now (after refill).
    #[must_use]
    pub fn available(&self) -> f64 {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let elapsed = Instant::now()
            .saturating_duration_since(state.updated)
            .as_secs_f64();
        (state.tokens + elapsed * self.config.refill_per_second).min(self.config.capacity)
    }

    /// The bucket's configuration.
    #[must_use]
    pub fn config(&self) -> BucketConfig {
        self.config
    }
}

/// The three ARM buckets of one client.
#[derive(Debug)]
pub struct Throttle {
    reads: TokenBucket,
    writes: TokenBucket,
    deletes: TokenBucket,
}

/// Bucket sizes of a [`Throttle`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThrottleConfig {
    /// The read bucket.
    pub reads: BucketConfig,
    /// The write bucket.
    pub writes: BucketConfig,
    /// The delete bucket.
    pub deletes: BucketConfig,
}

impl Default for ThrottleConfig {
    /// ARM's documented limits per principal and region.
    fn default() -> Self {
        Self {
            reads: BucketConfig::arm_reads(),
            writes: BucketConfig::arm_writes(),
            deletes: BucketConfig::arm_writes(),
        }
    }
}

impl ThrottleConfig {
    /// No client-side limits.
    #[must_use]
    pub fn unlimited() -> Self {
        Self {
            reads: BucketConfig::unlimited(),
            writes: BucketConfig::unlimited(),
            deletes: BucketConfig::unlimited(),
        }
    }
}

// === impl Throttle ===

impl Throttle {
    /// Full buckets of the given sizes.
    #[must_use]
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            reads: TokenBucket::new(config.reads),
            writes: TokenBucket::new(config.writes),
            deletes: TokenBucket::new(config.deletes),
        }
    }

    /// The bucket of a class.
    #[must_use]
    pub fn bucket(&self, class: Class) -> &TokenBucket {
        match class {
            Class::Read => &self.reads,
            Class::Write => &self.writes,
            Class::Delete => &self.deletes,
        }
    }

    /// Wait for a token of `class` at `priority`.
    pub async fn acquire(&self, class: Class, priority: Priority) {
        self.bucket(class).acquire(priority).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> BucketConfig {
        BucketConfig {
            capacity: 5.0,
            refill_per_second: 1.0,
            background_reserve: 2.0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_should_serve_its_capacity_then_wait_for_refill() {
        let bucket = TokenBucket::new(small());
        for _ in 0..5 {
            assert!(bucket.try_take(Priority::Foreground).is_ok());
        }
        let wait = bucket.try_take(Priority::Foreground).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        time::advance(Duration::from_secs(1)).await;
        assert!(bucket.try_take(Priority::Foreground).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn background_callers_should_leave_the_reserve_to_foreground_ones() {
        let bucket = TokenBucket::new(small());
        for _ in 0..3 {
            assert!(bucket.try_take(Priority::Background).is_ok());
        }
        assert!(bucket.try_take(Priority::Background).is_err());
        assert!(bucket.try_take(Priority::Foreground).is_ok());
        assert!(bucket.try_take(Priority::Foreground).is_ok());
        assert!(bucket.try_take(Priority::Foreground).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_should_sleep_until_a_token_refills() {
        let bucket = TokenBucket::new(BucketConfig {
            capacity: 1.0,
            refill_per_second: 10.0,
            background_reserve: 0.0,
        });
        bucket.acquire(Priority::Foreground).await;
        let start = Instant::now();
        bucket.acquire(Priority::Foreground).await;
        assert_eq!(start.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn refill_should_never_exceed_capacity() {
        let bucket = TokenBucket::new(small());
        time::advance(Duration::from_secs(100)).await;
        assert!((bucket.available() - 5.0).abs() < f64::EPSILON);
    }
}
