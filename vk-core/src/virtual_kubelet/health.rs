//! The plain-HTTP health listener: `/livez` (and `/healthz`), `/readyz` and `/metrics`.
//!
//! Liveness answers as long as the process serves; readiness turns true once the process
//! acts on the node (holds its Lease, when there is one) and false again at shutdown, so a
//! Deployment's rolling update waits for the new process to take over. `/metrics` encodes
//! every registered registry in the OpenMetrics text format.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::registry::Registry;

/// What the health endpoints read; cheap to clone, shared with the process that updates
/// it.
#[derive(Clone, Default)]
pub(crate) struct Health {
    ready: Arc<AtomicBool>,
    registries: Arc<Mutex<Vec<Arc<Registry>>>>,
}

impl Health {
    /// Health with these registries on `/metrics`, not ready.
    pub(crate) fn new(registries: Vec<Arc<Registry>>) -> Self {
        Self {
            ready: Arc::new(AtomicBool::new(false)),
            registries: Arc::new(Mutex::new(registries)),
        }
    }

    /// Whether `/readyz` answers 200.
    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Serve one more registry on `/metrics` (one created after the listener started).
    pub(crate) fn add_registry(&self, registry: Arc<Registry>) {
        self.registries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(registry);
    }

    /// The routes.
    pub(crate) fn router(self) -> Router {
        Router::new()
            .route("/livez", get(livez))
            .route("/healthz", get(livez))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(self)
    }
}

async fn livez() -> &'static str {
    "ok"
}

async fn readyz(State(health): State<Health>) -> (StatusCode, &'static str) {
    if health.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not acting on the node (waiting for its lease, or stopping)",
        )
    }
}

async fn metrics(
    State(health): State<Health>,
) -> (StatusCode, [(http::HeaderName, &'static str); 1], String) {
    let registries = health
        .registries
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut out = String::new();
    for registry in registries {
        let mut one = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut one, &registry).is_ok() {
            out.push_str(&one);
        }
    }
    out.push_str("# EOF\n");
    (
        StatusCode::OK,
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
}
