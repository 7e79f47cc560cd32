//! The token buckets of the metrics endpoints, separate from ARM's.
use crate::arm::throttle::{BucketConfig, TokenBucket};

/// Token buckets of the metrics endpoints, separate from ARM's container group buckets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricsThrottleConfig {
    /// `metrics:getBatch` calls.
    pub batch: BucketConfig,
    /// `Microsoft.Insights/metrics` calls.
    pub list: BucketConfig,
}

impl Default for MetricsThrottleConfig {
    /// Azure Monitor's published query limits per subscription: 360,000 `metrics:getBatch`
    /// calls an hour (100/s) and 12,000 `Microsoft.Insights/metrics` calls an hour (3.3/s)
    /// (Microsoft Q&A "What are the REST API calls per hour limitations", quoted by the
    /// Azure Monitor receiver's users; the REST specs give no numbers). The burst sizes are
    /// the emulator's choice: a minute of batch calls, and ARM's read bucket (250) for the
    /// per-resource calls.
    fn default() -> Self {
        Self {
            batch: BucketConfig {
                capacity: 6_000.0,
                refill_per_second: 100.0,
                background_reserve: 0.0,
            },
            list: BucketConfig {
                capacity: 250.0,
                refill_per_second: 12_000.0 / 3_600.0,
                background_reserve: 0.0,
            },
        }
    }
}

/// The running buckets of a [`MetricsThrottleConfig`].
#[derive(Debug)]
pub(crate) struct MetricsBuckets {
    pub(super) batch: TokenBucket,
    pub(super) list: TokenBucket,
}

impl MetricsBuckets {
    /// Full buckets.
    pub fn new(config: MetricsThrottleConfig) -> Self {
        Self {
            batch: TokenBucket::new(config.batch),
            list: TokenBucket::new(config.list),
        }
    }
}
