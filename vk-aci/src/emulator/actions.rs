//! Container group actions: `POST .../restart`, `.../stop` and `.../start` (each answers
//! 204, as the spec's examples show), and the Spot eviction tests trigger
//! ([`super::EmulatorHandle::evict`]).
//!
//! - `restart`: every container starts again in place: the group's timeline begins anew
//!   (the emulator pulls again, as ACI does when an image changed) and a stop is undone.
//! - `stop`: every container is killed (exit code 137) and the group shows `Stopped` until
//!   `start` (or a new PUT).
//! - `start`: a stopped group starts again; a running one is left alone.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::arm_http::arm_error;
use super::state::{Phase, Stopped, group_key};
use super::store::Shared;

/// Run `action` on the group.
pub(crate) fn group_action(
    shared: &Shared,
    sub: &str,
    rg: &str,
    name: &str,
    action: &str,
) -> Response {
    let now = Instant::now();
    let timeline = shared.config.timeline;
    let mut inner = shared.lock();
    let Some(record) = inner
        .groups
        .get_mut(&group_key(sub, rg, name))
        .filter(|r| !r.is_gone(now, &timeline))
    else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource 'Microsoft.ContainerInstance/containerGroups/{name}' under resource group '{rg}' was not found."
            ),
        );
    };
    if record.phase(now, &timeline) == Phase::Deleting {
        return arm_error(
            StatusCode::CONFLICT,
            "ContainerGroupTransitioning",
            format!("The container group '{name}' is still transitioning, please retry later."),
        );
    }
    match action {
        "restart" => {
            record.started = now;
            record.stopped = None;
        }
        "stop" => {
            if record.stopped.is_none() {
                record.stopped = Some(Stopped {
                    at: now,
                    evicted: false,
                });
            }
        }
        _ => {
            if record.stopped.take().is_some() {
                record.started = now;
            }
        }
    }
    StatusCode::NO_CONTENT.into_response()
}
