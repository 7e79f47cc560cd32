//! `/metrics`: the process's own Prometheus metrics.
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use super::state::ServerState;

pub(super) async fn metrics(State(state): State<ServerState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
