//! When to retry an ARM call and how long to wait: `Retry-After` first, otherwise
//! exponential backoff with full jitter.
use rand::Rng;
use tokio::time::Duration;

/// Retry settings of the ARM client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// First backoff step.
    pub base_delay: Duration,
    /// Largest backoff step.
    pub max_delay: Duration,
    /// The longest `Retry-After` the client waits out itself; longer ones are returned to
    /// the caller as errors carrying the hint.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, 0.5 s doubling to 30 s, like the Azure SDKs' exponential policy
    /// (`azure_core` `RetryOptions::exponential`: 800 ms initial, 8 retries, 1 min max,
    /// shortened here because the runtime retries the pod again anyway).
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

// === impl RetryPolicy ===

impl RetryPolicy {
    /// No retries at all.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The delay before attempt `attempt + 1` (attempt counts from 1), or `None` when the
    /// caller should give up.
    #[must_use]
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        if let Some(after) = retry_after {
            if after > self.max_retry_after {
                return None;
            }
            // A little jitter so clients told the same second do not all return at once.
            let jitter = rand::rng().random_range(0..=100);
            return Some(after + Duration::from_millis(jitter));
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let millis = u64::try_from(exp.as_millis()).unwrap_or(u64::MAX).max(1);
        // Full jitter between half and all of the step.
        let low = millis / 2;
        Some(Duration::from_millis(
            rand::rng().random_range(low..=millis),
        ))
    }
}

/// Parse a `Retry-After` header value: delay-seconds (the form ARM sends). HTTP dates are
/// not used by ARM and yield `None` (the caller falls back to backoff).
#[must_use]
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_should_be_honoured_with_small_jitter() {
        let policy = RetryPolicy::default();
        let d = policy.delay(1, Some(Duration::from_secs(3))).unwrap();
        assert!(d >= Duration::from_secs(3) && d <= Duration::from_millis(3100));
    }

    #[test]
    fn backoff_should_grow_and_stay_under_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 20,
            ..RetryPolicy::default()
        };
        let first = policy.delay(1, None).unwrap();
        assert!(first <= Duration::from_millis(500) && first >= Duration::from_millis(250));
        let third = policy.delay(3, None).unwrap();
        assert!(third >= Duration::from_secs(1) && third <= Duration::from_secs(2));
        let late = policy.delay(15, None).unwrap();
        assert!(late <= Duration::from_secs(30));
    }

    #[test]
    fn attempts_should_stop_at_the_maximum_or_at_a_long_retry_after() {
        let policy = RetryPolicy::default();
        assert!(policy.delay(4, None).is_none());
        assert!(policy.delay(1, Some(Duration::from_secs(3600))).is_none());
        assert!(RetryPolicy::none().delay(1, None).is_none());
    }

    #[test]
    fn retry_after_should_parse_seconds_only() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
