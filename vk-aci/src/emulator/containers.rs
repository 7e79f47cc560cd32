//! The emulated operations on one container of a group: its log and exec sessions.
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::time::Instant;

use super::arm_http::{arm_error, query_param};
use super::container_groups::{live, not_found};
use super::state::{Phase, group_key};
use super::store::{ExecTicket, Shared};

pub(super) fn logs(
    shared: &Shared,
    uri: &Uri,
    sub: &str,
    rg: &str,
    name: &str,
    container: &str,
) -> Response {
    let now = Instant::now();
    let mut inner = shared.lock();
    let Some(record) = live(&mut inner, &group_key(sub, rg, name), now, shared) else {
        return not_found(rg, name);
    };
    let Some(spec) = record
        .spec
        .properties
        .containers
        .iter()
        .find(|c| c.name == container)
    else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "ContainerNotFound",
            format!("The container '{container}' is not found in container group '{name}'."),
        );
    };
    let timestamps = query_param(uri, "timestamps").is_some_and(|v| v == "true");
    let mut content = record.logs(spec, now, &shared.config.timeline, &shared.wall, timestamps);
    if let Some(tail) = query_param(uri, "tail").and_then(|t| t.parse::<usize>().ok()) {
        let lines: Vec<&str> = content.lines().collect();
        let keep = &lines[lines.len().saturating_sub(tail)..];
        content = keep.iter().map(|l| format!("{l}\n")).collect();
    }
    inner.log_bytes = inner
        .log_bytes
        .saturating_add(u64::try_from(content.len()).unwrap_or(u64::MAX));
    axum::Json(json!({ "content": content })).into_response()
}

pub(super) fn exec(
    shared: &Shared,
    sub: &str,
    rg: &str,
    name: &str,
    container: &str,
    body: &[u8],
) -> Response {
    #[derive(serde::Deserialize)]
    struct ExecRequest {
        command: Option<String>,
    }
    let Ok(request) = serde_json::from_slice::<ExecRequest>(body) else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The exec request could not be deserialized.",
        );
    };
    let now = Instant::now();
    let timeline = shared.config.timeline;
    let mut inner = shared.lock();
    let Some(record) = live(&mut inner, &group_key(sub, rg, name), now, shared) else {
        return not_found(rg, name);
    };
    let Some(spec) = record
        .spec
        .properties
        .containers
        .iter()
        .find(|c| c.name == container)
    else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "ContainerNotFound",
            format!("The container '{container}' is not found in container group '{name}'."),
        );
    };
    let running = match record.phase(now, &timeline) {
        Phase::Provisioned(started) => {
            record.stopped.is_none() && record.container_now(spec, started, now).running
        }
        _ => false,
    };
    if !running {
        return arm_error(
            StatusCode::CONFLICT,
            "ContainerNotRunning",
            format!("The container '{container}' is not running."),
        );
    }
    let env = spec
        .properties
        .environment_variables
        .iter()
        .filter_map(|e| {
            e.value
                .clone()
                .or_else(|| e.secure_value.clone())
                .map(|v| (e.name.clone(), v))
        })
        .collect();
    let ticket = ExecTicket {
        password: uuid::Uuid::new_v4().simple().to_string(),
        command: request.command.unwrap_or_default(),
        env,
        hostname: name.to_owned(),
        target: format!("{name}/{container}"),
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let password = ticket.password.clone();
    inner.exec.insert(id.clone(), ticket);
    axum::Json(json!({
        "webSocketUri": format!("ws://{}/exec/{id}", shared.exec_addr),
        "password": password,
    }))
    .into_response()
}
