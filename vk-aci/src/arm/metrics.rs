//! Prometheus metrics of the ARM client: calls and latency per operation and status.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of one ARM call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The client operation, e.g. `container_groups.get`.
    pub operation: String,
    /// The HTTP status, or `timeout` / `transport`.
    pub status: String,
}

/// Labels of a latency sample.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// The client operation.
    pub operation: String,
}

/// The client's metric families; cheap to clone (shared inside).
#[derive(Clone, Debug)]
pub struct ArmMetrics {
    /// `arm_requests_total{operation,status}`: every HTTP attempt.
    pub requests: Family<CallLabels, Counter>,
    /// `arm_request_duration_seconds{operation}`: latency of each attempt.
    pub duration: Family<OperationLabels, Histogram>,
    /// `arm_retries_total{operation}`: attempts after the first.
    pub retries: Family<OperationLabels, Counter>,
    /// `arm_throttle_wait_seconds_total{operation}`: time spent waiting for client tokens.
    pub throttle_waits: Family<OperationLabels, Counter<f64>>,
}

impl Default for ArmMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.01, 2.0, 12))
            }),
            retries: Family::default(),
            throttle_waits: Family::default(),
        }
    }
}

// === impl ArmMetrics ===

impl ArmMetrics {
    /// Register the families under `registry` (prefix them with `sub_registry_with_prefix`
    /// if you like).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "arm_requests",
            "ARM HTTP requests by operation and status",
            self.requests.clone(),
        );
        registry.register(
            "arm_request_duration_seconds",
            "ARM HTTP request latency by operation",
            self.duration.clone(),
        );
        registry.register(
            "arm_retries",
            "ARM request retries by operation",
            self.retries.clone(),
        );
        registry.register(
            "arm_throttle_wait_seconds",
            "Time spent waiting for client-side ARM tokens",
            self.throttle_waits.clone(),
        );
    }

    /// Count one attempt.
    pub fn observe(&self, operation: &str, status: &str, seconds: f64) {
        self.requests
            .get_or_create(&CallLabels {
                operation: operation.to_owned(),
                status: status.to_owned(),
            })
            .inc();
        self.duration
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
            })
            .observe(seconds);
    }

    /// Count a retry.
    pub fn retried(&self, operation: &str) {
        self.retries
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
            })
            .inc();
    }

    /// Add time spent waiting for a token.
    pub fn waited(&self, operation: &str, seconds: f64) {
        if seconds > 0.0 {
            self.throttle_waits
                .get_or_create(&OperationLabels {
                    operation: operation.to_owned(),
                })
                .inc_by(seconds);
        }
    }

    /// Attempts counted so far for `operation` with `status` (tests, reports).
    #[must_use]
    pub fn count(&self, operation: &str, status: &str) -> u64 {
        self.requests
            .get_or_create(&CallLabels {
                operation: operation.to_owned(),
                status: status.to_owned(),
            })
            .get()
    }
}
