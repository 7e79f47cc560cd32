//! The emulated container group operations: get, list (paged), create or update (with
//! validation, quota and LRO headers), delete, and the status of their long-running
//! operations.
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::{Duration, Instant};
use vk_translate::container_group::{ContainerGroup, ProvisioningState};

use super::arm_http::{arm_error, query_param, with_retry_after};
use super::config::LroStyle;
use super::state::{GroupRecord, Phase, group_key, list_view};
use super::store::{Inner, OpRecord, Shared};
use super::validate;

pub(super) fn not_found(rg: &str, name: &str) -> Response {
    arm_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!(
            "The Resource 'Microsoft.ContainerInstance/containerGroups/{name}' under resource group '{rg}' was not found."
        ),
    )
}

/// Look a group up, dropping it first if its delete has finished.
pub(super) fn live<'a>(
    inner: &'a mut Inner,
    key: &str,
    now: Instant,
    shared: &Shared,
) -> Option<&'a mut GroupRecord> {
    if inner
        .groups
        .get(key)
        .is_some_and(|g| g.is_gone(now, &shared.config.timeline))
    {
        inner.groups.remove(key);
    }
    inner.groups.get_mut(key)
}

pub(super) fn get_group(shared: &Shared, sub: &str, rg: &str, name: &str) -> Response {
    let now = Instant::now();
    let mut inner = shared.lock();
    match live(&mut inner, &group_key(sub, rg, name), now, shared) {
        Some(record) => {
            axum::Json(record.view(now, &shared.config.timeline, &shared.wall)).into_response()
        }
        None => not_found(rg, name),
    }
}

pub(super) fn list(shared: &Shared, uri: &Uri, sub: &str, rg: Option<&str>) -> Response {
    let now = Instant::now();
    let timeline = shared.config.timeline;
    let prefix = match rg {
        Some(rg) => group_key(sub, rg, ""),
        None => format!("{sub}/").to_ascii_lowercase(),
    };
    let inner = shared.lock();
    let mut groups: Vec<(&String, &GroupRecord)> = inner
        .groups
        .iter()
        .filter(|(k, g)| k.starts_with(&prefix) && !g.is_gone(now, &timeline))
        .collect();
    groups.sort_by(|a, b| a.0.cmp(b.0));
    let skip: usize = query_param(uri, "$skipToken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let page = shared.config.page_size.max(1);
    let value: Vec<ContainerGroup> = groups
        .iter()
        .skip(skip)
        .take(page)
        .map(|(_, g)| list_view(g.view(now, &timeline, &shared.wall)))
        .collect();
    let mut body = json!({ "value": value });
    if skip + page < groups.len() {
        let mut next = shared.base_url.clone();
        next.set_path(uri.path());
        next.query_pairs_mut()
            .append_pair("api-version", &shared.config.api_version)
            .append_pair("$skipToken", &(skip + page).to_string());
        body["nextLink"] = Value::String(next.to_string());
    }
    axum::Json(body).into_response()
}

fn op_headers(shared: &Shared, response: &mut Response, sub: &str, location: &str, id: &str) {
    let base = shared.base_url.as_str().trim_end_matches('/');
    let loc = location.to_ascii_lowercase().replace(' ', "");
    let api = &shared.config.api_version;
    let (name, url) = match shared.config.lro_style {
        LroStyle::AsyncOperation => (
            "azure-asyncoperation",
            format!(
                "{base}/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/operations/{id}?api-version={api}"
            ),
        ),
        LroStyle::Location => (
            "location",
            format!(
                "{base}/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/operationResults/{id}?api-version={api}"
            ),
        ),
        LroStyle::None => return,
    };
    if let Ok(v) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(name, v);
    }
}

pub(super) fn put_group(shared: &Shared, sub: &str, rg: &str, name: &str, body: &[u8]) -> Response {
    let mut group: ContainerGroup = match serde_json::from_slice(body) {
        Ok(g) => g,
        Err(e) => {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContent",
                format!("The request content was invalid and could not be deserialized: '{e}'."),
            );
        }
    };
    if let Err((code, message)) = validate::validate(name, &group) {
        return arm_error(StatusCode::BAD_REQUEST, code, message);
    }
    if let Some(missing) = validate::unknown_identity(&group, &shared.lock().identities) {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "FailedIdentityOperation",
            format!(
                "Identity operation for resource '{name}' failed: the user assigned identity '{missing}' was not found."
            ),
        );
    }
    let now = Instant::now();
    let key = group_key(sub, rg, name);
    group.name = Some(name.to_owned());
    group.type_ = Some("Microsoft.ContainerInstance/containerGroups".into());
    group.id = Some(format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}"
    ));
    group.properties.provisioning_state = None;
    group.properties.instance_view = None;
    let location = group.location.clone().unwrap_or_default();
    let mut inner = shared.lock();
    let fail = inner.faults.fail_provisioning
        || group.properties.containers.iter().any(|c| {
            c.properties.environment_variables.iter().any(|e| {
                e.name == "EMULATOR_FAIL_PROVISIONING" && e.value.as_deref() == Some("true")
            })
        });
    if let Some(record) = live(&mut inner, &key, now, shared) {
        if record.deleting_since.is_some() {
            return arm_error(
                StatusCode::CONFLICT,
                "ContainerGroupTransitioning",
                format!("The container group '{name}' is still transitioning, please retry later."),
            );
        }
        if let Some(field) = validate::not_updatable(&record.spec, &group) {
            return arm_error(
                StatusCode::CONFLICT,
                "ContainerGroupUpdateNotSupported",
                format!(
                    "The property '{field}' of container group '{name}' cannot be updated; delete the container group and create it again."
                ),
            );
        }
    }
    let existing = live(&mut inner, &key, now, shared).map(|r| r.ip.clone());
    let status = if let Some(ip) = existing {
        let record = inner
            .groups
            .get_mut(&key)
            .expect("looked up under the same lock");
        record.spec = group;
        record.started = now;
        record.fail_provisioning = fail;
        record.deleting_since = None;
        record.ip = ip;
        record.stopped = None;
        StatusCode::OK
    } else {
        if let Err(wait) = inner.creates.try_record(now) {
            return with_retry_after(
                arm_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "ContainerGroupQuotaReached",
                    "Resource type 'Microsoft.ContainerInstance/containerGroups' has reached the creation rate quota in this region. Please try again later.",
                ),
                wait,
            );
        }
        inner.next_ip += 1;
        let n = inner.next_ip;
        inner.groups.insert(
            key.clone(),
            GroupRecord {
                spec: group,
                started: now,
                fail_provisioning: fail,
                deleting_since: None,
                ip: format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff),
                stopped: None,
            },
        );
        StatusCode::CREATED
    };
    let view = inner.groups[&key].view(now, &shared.config.timeline, &shared.wall);
    let id = uuid::Uuid::new_v4().to_string();
    let done = !matches!(
        view.properties.provisioning_state,
        Some(ProvisioningState::Pending | ProvisioningState::Creating)
    );
    if !done {
        inner.ops.insert(id.clone(), OpRecord::Put(key));
    }
    drop(inner);
    let mut response = (status, axum::Json(view)).into_response();
    if !done {
        op_headers(shared, &mut response, sub, &location, &id);
    }
    response
}

pub(super) fn delete_group(shared: &Shared, sub: &str, rg: &str, name: &str) -> Response {
    let now = Instant::now();
    let key = group_key(sub, rg, name);
    let timeline = shared.config.timeline;
    let mut inner = shared.lock();
    let Some(record) = live(&mut inner, &key, now, shared) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    if record.deleting_since.is_some() {
        return StatusCode::ACCEPTED.into_response();
    }
    let location = record.spec.location.clone().unwrap_or_default();
    if let Err(wait) = inner.deletes.try_record(now) {
        return with_retry_after(
            arm_error(
                StatusCode::TOO_MANY_REQUESTS,
                "ContainerGroupQuotaReached",
                "Resource type 'Microsoft.ContainerInstance/containerGroups' has reached the deletion rate quota in this region. Please try again later.",
            ),
            wait,
        );
    }
    if timeline.deleting.is_zero() {
        let record = inner
            .groups
            .remove(&key)
            .expect("looked up under the same lock");
        let view = record.view(now, &timeline, &shared.wall);
        return axum::Json(view).into_response();
    }
    if let Some(record) = inner.groups.get_mut(&key) {
        record.deleting_since = Some(now);
    }
    let id = uuid::Uuid::new_v4().to_string();
    inner.ops.insert(id.clone(), OpRecord::Delete(key));
    drop(inner);
    let mut response = StatusCode::ACCEPTED.into_response();
    op_headers(shared, &mut response, sub, &location, &id);
    with_retry_after(response, Duration::from_secs(1))
}

pub(super) fn operation_status(shared: &Shared, id: &str, location_style: bool) -> Response {
    let now = Instant::now();
    let timeline = shared.config.timeline;
    let mut inner = shared.lock();
    let Some(op) = inner.ops.get(id).cloned() else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            format!("operation '{id}' not found"),
        );
    };
    let (status, error) = match &op {
        OpRecord::Put(key) => {
            match live(&mut inner, key, now, shared).map(|g| g.phase(now, &timeline)) {
                Some(Phase::Pending | Phase::Creating) => ("InProgress", None),
                Some(Phase::Provisioned(_)) => ("Succeeded", None),
                Some(Phase::Failed) => (
                    "Failed",
                    Some(
                        json!({"code": "ContainerGroupProvisioningFailed", "message": "The container group failed to provision."}),
                    ),
                ),
                Some(Phase::Deleting) | None => ("Canceled", None),
            }
        }
        OpRecord::Delete(key) => match live(&mut inner, key, now, shared) {
            Some(_) => ("InProgress", None),
            None => ("Succeeded", None),
        },
    };
    drop(inner);
    if location_style {
        return match status {
            "InProgress" => {
                with_retry_after(StatusCode::ACCEPTED.into_response(), Duration::from_secs(1))
            }
            "Succeeded" => StatusCode::NO_CONTENT.into_response(),
            _ => arm_error(
                StatusCode::CONFLICT,
                "ContainerGroupProvisioningFailed",
                "The container group failed to provision.",
            ),
        };
    }
    let mut body = json!({"id": id, "name": id, "status": status});
    if let Some(error) = error {
        body["error"] = error;
    }
    axum::Json(body).into_response()
}
