//! The runtime's Prometheus metrics: pods by phase, provider call latency and errors,
//! Kubernetes API calls by outcome.
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = [(&'static str, &'static str); 1];
type ApiLabels = [(&'static str, &'static str); 2];

/// The runtime's metrics; cheap to clone.
#[derive(Clone)]
pub(crate) struct Metrics(Arc<MetricsInner>);

struct MetricsInner {
    pods_by_phase: Family<Labels, Gauge>,
    provider_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    provider_errors: Family<Labels, Counter>,
    api_calls: Family<ApiLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Metrics {
    /// New metrics registered in `registry`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let inner = MetricsInner {
            pods_by_phase: Family::default(),
            provider_seconds: Family::new_with_constructor(latency_histogram),
            provider_errors: Family::default(),
            api_calls: Family::default(),
        };
        registry.register(
            "pods",
            "Pods bound to the node, by phase",
            inner.pods_by_phase.clone(),
        );
        registry.register(
            "provider_call_seconds",
            "Latency of provider calls, by operation",
            inner.provider_seconds.clone(),
        );
        registry.register(
            "provider_call_errors",
            "Failed provider calls, by operation",
            inner.provider_errors.clone(),
        );
        registry.register(
            "api_calls",
            "Kubernetes API calls, by call and outcome",
            inner.api_calls.clone(),
        );
        Self(Arc::new(inner))
    }

    pub(crate) fn provider_call(&self, op: &'static str, seconds: f64, ok: bool) {
        self.0
            .provider_seconds
            .get_or_create(&[("op", op)])
            .observe(seconds);
        if !ok {
            self.0.provider_errors.get_or_create(&[("op", op)]).inc();
        }
    }

    pub(crate) fn api_call(&self, call: &'static str, outcome: &'static str) {
        self.0
            .api_calls
            .get_or_create(&[("call", call), ("outcome", outcome)])
            .inc();
    }

    pub(crate) fn watch_error(&self) {
        self.0
            .api_calls
            .get_or_create(&[("call", "watch_pods"), ("outcome", "error")])
            .inc();
    }

    pub(crate) fn set_pods_by_phase(&self, counts: &[(&'static str, i64)]) {
        for (phase, n) in counts {
            self.0
                .pods_by_phase
                .get_or_create(&[("phase", phase)])
                .set(*n);
        }
    }
}
