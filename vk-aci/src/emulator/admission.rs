//! What every emulated Azure call passes before its handler runs: the call counter, a
//! queued one-shot answer, the standing faults (latency, random 500s) and, when the emulator
//! authenticates, a bearer token its token endpoint issued (for any scope: ARM's and Azure
//! Monitor's alike).
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rand::Rng;
use tokio::time::{self, Duration};

use super::arm_http::{arm_error, with_retry_after};
use super::store::Shared;

/// Count `operation` and apply faults and authentication.
///
/// # Errors
/// The answer to send instead of running the handler: an injected status, a random
/// `InternalServerError`, or `InvalidAuthenticationToken`. Otherwise whether the call's own
/// answer is to be lost after it runs.
pub(crate) async fn admit(
    shared: &Shared,
    operation: &str,
    headers: &HeaderMap,
) -> Result<Admitted, Response> {
    let (injected, faults) = {
        let mut inner = shared.lock();
        *inner.calls.entry(operation.to_owned()).or_default() += 1;
        inner.note(operation.to_owned());
        (inner.injected.pop_front(), inner.faults.clone())
    };
    if !faults.latency.is_zero() {
        time::sleep(faults.latency).await;
    }
    let mut lose_answer = faults.lost_response_rate > 0.0
        && rand::rng().random_bool(faults.lost_response_rate.clamp(0.0, 1.0));
    if let Some(injected) = injected {
        time::sleep(injected.delay).await;
        lose_answer |= injected.lost;
        if let Some(status) = injected.status {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let response = arm_error(status, &injected.code, "injected by the emulator");
            return Err(match injected.retry_after {
                Some(secs) => with_retry_after(response, Duration::from_secs(secs)),
                None => response,
            });
        }
    }
    if faults.error_rate > 0.0 && rand::rng().random_bool(faults.error_rate.clamp(0.0, 1.0)) {
        return Err(arm_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "an injected random error",
        ));
    }
    if shared.config.auth.is_some() {
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let expires = token.and_then(|t| shared.lock().tokens.get(t).copied());
        match expires {
            None => {
                return Err(arm_error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "The access token is invalid.",
                ));
            }
            Some(at) if at <= tokio::time::Instant::now() => {
                return Err(arm_error(
                    StatusCode::UNAUTHORIZED,
                    "ExpiredAuthenticationToken",
                    "The access token expiry UTC time is earlier than current UTC time.",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(Admitted { lose_answer })
}

/// What admission decided for a call it let through.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Admitted {
    /// Run the call, then answer 504 instead of its result (a lost answer). Honoured for
    /// calls that change state.
    pub lose_answer: bool,
}

/// The answer a client gets when ARM's front door gave up on a call that went on to finish.
pub(crate) fn lost_answer() -> Response {
    arm_error(
        StatusCode::GATEWAY_TIMEOUT,
        "GatewayTimeout",
        "The gateway did not receive a response from 'Microsoft.ContainerInstance' within the specified time period.",
    )
}
