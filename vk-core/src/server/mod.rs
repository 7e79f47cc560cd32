//! The kubelet HTTPS API on :10250: logs, exec, attach, port-forward, stats, metrics.
//!
//! The API server calls this endpoint for `kubectl logs/exec/attach/port-forward/top`.
//! [`router`] lists every route; each endpoint group has its own file. Every request
//! passes authentication and authorization first (client certificate or bearer token, then
//! SubjectAccessReview). [`tls::serve`] runs the router behind rustls.
use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

pub mod auth;
pub mod certificate_manager;
pub mod certificate_request;
pub mod error;
mod exec;
mod health;
mod logs;
mod metrics;
mod middleware_auth;
mod pods;
mod port_forward;
mod sessions;
mod state;
mod stats;
pub mod tls;
mod upgrade;

pub use auth::{Auth, AuthConfig, AuthorizationMode, ClientCertUser, UserInfo};
pub use certificate_manager::{CertificateManager, ServingCertificate};
pub use certificate_request::{CsrError, ServingCsr};
pub use error::{Error, Result};
pub use sessions::{ClientAddr, DEFAULT_MAX_SESSIONS_PER_CLIENT};
pub use state::{PodLookup, ServerState};
pub use tls::{ConnectionLimits, ServingCert, TlsConfig};

/// The kubelet API: every route, behind authentication and authorization.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(logs::container_logs),
        )
        .route(
            "/exec/{namespace}/{pod}/{container}",
            get(exec::exec).post(exec::exec),
        )
        .route(
            "/attach/{namespace}/{pod}/{container}",
            get(exec::attach).post(exec::attach),
        )
        .route(
            "/portForward/{namespace}/{pod}",
            get(port_forward::port_forward).post(port_forward::port_forward),
        )
        .route("/run/{namespace}/{pod}/{container}", post(exec::run))
        .route("/pods", get(pods::pods))
        .route("/healthz", get(health::healthz))
        .route("/stats/summary", get(stats::summary))
        .route("/metrics/resource", get(stats::resource_metrics))
        .route("/metrics", get(metrics::metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            middleware_auth::require,
        ))
        .with_state(state)
}

async fn not_found(uri: http::Uri) -> Error {
    Error::NotFound(uri.path().to_owned())
}

#[cfg(test)]
mod tests;
