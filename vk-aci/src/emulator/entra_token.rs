//! The fake Entra ID token endpoint (`POST /{tenant}/oauth2/v2.0/token`): client
//! credentials in, a bearer token the ARM endpoints then accept until it expires.
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::store::Shared;

pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    Path(_tenant): Path<String>,
    body: Bytes,
) -> Response {
    *shared.lock().calls.entry("token".into()).or_default() += 1;
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let invalid = |code: &str, description: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": code, "error_description": description})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return invalid(
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    if let Some((id, secret)) = &shared.config.auth
        && (form.get("client_id") != Some(id) || form.get("client_secret") != Some(secret))
    {
        return invalid(
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    let delay = shared.lock().token_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let token = format!("emu-{}", uuid::Uuid::new_v4().simple());
    let lifetime = shared.config.token_lifetime;
    shared
        .lock()
        .tokens
        .insert(token.clone(), tokio::time::Instant::now() + lifetime);
    axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
    }))
    .into_response()
}
