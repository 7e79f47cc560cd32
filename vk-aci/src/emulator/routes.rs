//! The emulator's HTTP surface: ARM paths (matched case-insensitively, as ARM does), Azure
//! Monitor's metrics paths (handled in [`monitor`]), the fake token endpoint and the call
//! counter. `router` is the only place routes are listed.
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::time::{Duration, Instant};
use vk_translate::container_group::{ContainerGroup, ProvisioningState};

use super::state::{GroupRecord, Phase, group_key, list_view};
use super::{ExecTicket, LroStyle, OpRecord, Shared, admission, monitor, validate};
use crate::arm::throttle::{Class, Priority};

/// The emulator's router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/_emulator/calls", get(calls))
        .fallback(arm)
        .with_state(shared)
}

/// An ARM error answer: `{"error": {"code", "message"}}`.
pub(crate) fn arm_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, axum::Json(body)).into_response()
}

pub(crate) fn with_retry_after(mut response: Response, wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

async fn calls(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.lock().calls.clone()).into_response()
}

async fn token(
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

/// An ARM path, names in their original case.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    List {
        sub: String,
        rg: Option<String>,
    },
    Group {
        sub: String,
        rg: String,
        name: String,
    },
    Logs {
        sub: String,
        rg: String,
        name: String,
        container: String,
    },
    /// `POST .../restart`, `.../stop` or `.../start` ([`super::actions`]).
    Action {
        sub: String,
        rg: String,
        name: String,
        action: String,
    },
    Exec {
        sub: String,
        rg: String,
        name: String,
        container: String,
    },
    Usages {
        location: String,
    },
    Capabilities {
        location: String,
    },
    Operation {
        id: String,
        location_style: bool,
    },
    Subnet {
        sub: String,
        rg: String,
        vnet: String,
        name: String,
    },
}

impl Route {
    fn parse(path: &str) -> Option<Self> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let low: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let l: Vec<&str> = low.iter().map(String::as_str).collect();
        let s = |i: usize| segs[i].to_owned();
        match l.as_slice() {
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.containerinstance",
                "containergroups",
            ] => Some(Self::List {
                sub: s(1),
                rg: None,
            }),
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.containerinstance",
                "containergroups",
            ] => Some(Self::List {
                sub: s(1),
                rg: Some(s(3)),
            }),
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.containerinstance",
                "containergroups",
                _,
            ] => Some(Self::Group {
                sub: s(1),
                rg: s(3),
                name: s(7),
            }),
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.containerinstance",
                "containergroups",
                _,
                "containers",
                _,
                "logs",
            ] => Some(Self::Logs {
                sub: s(1),
                rg: s(3),
                name: s(7),
                container: s(9),
            }),
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.containerinstance",
                "containergroups",
                _,
                "containers",
                _,
                "exec",
            ] => Some(Self::Exec {
                sub: s(1),
                rg: s(3),
                name: s(7),
                container: s(9),
            }),
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.containerinstance",
                "containergroups",
                _,
                "restart" | "stop" | "start",
            ] => Some(Self::Action {
                sub: s(1),
                rg: s(3),
                name: s(7),
                action: l[8].to_owned(),
            }),
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.containerinstance",
                "locations",
                _,
                "usages",
            ] => Some(Self::Usages { location: s(5) }),
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.containerinstance",
                "locations",
                _,
                "capabilities",
            ] => Some(Self::Capabilities { location: s(5) }),
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.containerinstance",
                "locations",
                _,
                "operations",
                _,
            ] => Some(Self::Operation {
                id: s(7),
                location_style: false,
            }),
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.containerinstance",
                "locations",
                _,
                "operationresults",
                _,
            ] => Some(Self::Operation {
                id: s(7),
                location_style: true,
            }),
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.network",
                "virtualnetworks",
                _,
                "subnets",
                _,
            ] => Some(Self::Subnet {
                sub: s(1),
                rg: s(3),
                vnet: s(7),
                name: s(9),
            }),
            _ => None,
        }
    }

    fn operation(&self, method: &Method) -> &'static str {
        match (self, method.as_str()) {
            (Self::List { .. }, _) => "container_groups.list",
            (Self::Group { .. }, "PUT") => "container_groups.create_or_update",
            (Self::Group { .. }, "DELETE") => "container_groups.delete",
            (Self::Group { .. }, "GET") => "container_groups.get",
            (Self::Group { .. }, _) => "container_groups.other",
            (Self::Logs { .. }, _) => "containers.list_logs",
            (Self::Action { action, .. }, _) => match action.as_str() {
                "restart" => "container_groups.restart",
                "stop" => "container_groups.stop",
                _ => "container_groups.start",
            },
            (Self::Exec { .. }, _) => "containers.execute_command",
            (Self::Usages { .. }, _) => "location.list_usage",
            (Self::Capabilities { .. }, _) => "location.list_capabilities",
            (Self::Operation { .. }, _) => "operations.get",
            (Self::Subnet { .. }, "PUT") => "subnets.create_or_update",
            (Self::Subnet { .. }, _) => "subnets.get",
        }
    }
}

use super::subnets;

fn class_of(method: &Method) -> Class {
    match *method {
        Method::GET | Method::HEAD => Class::Read,
        Method::DELETE => Class::Delete,
        _ => Class::Write,
    }
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

async fn arm(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(route) = monitor::MonitorRoute::parse(uri.path()) {
        return monitor::serve(&shared, route, &method, &uri, &headers, &body).await;
    }
    let Some(route) = Route::parse(uri.path()) else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            format!("no emulated ARM resource at '{}'", uri.path()),
        );
    };
    let operation = route.operation(&method);
    let admitted = match admission::admit(&shared, operation, &headers).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let changes_state = matches!(method, Method::PUT | Method::DELETE | Method::POST);
    match query_param(&uri, "api-version") {
        None => {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            );
        }
        // Microsoft.Network has api-versions of its own.
        Some(_) if matches!(route, Route::Subnet { .. }) => {}
        Some(v) if v != shared.config.api_version => {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{v}' is invalid. The supported versions are '{}'.",
                    shared.config.api_version
                ),
            );
        }
        Some(_) => {}
    }
    if let Some(throttle) = &shared.throttle {
        let class = class_of(&method);
        if let Err(wait) = throttle.bucket(class).try_take(Priority::Foreground) {
            let kind = match class {
                Class::Read => "read",
                Class::Write => "write",
                Class::Delete => "delete",
            };
            return with_retry_after(
                arm_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "SubscriptionRequestsThrottled",
                    format!("Number of '{kind}' requests exceeded. Please try again later."),
                ),
                wait,
            );
        }
    }
    let response = handle(&shared, route, method, &uri, &body);
    if admitted.lose_answer && changes_state {
        return admission::lost_answer();
    }
    response
}

/// Run an admitted ARM call.
fn handle(shared: &Arc<Shared>, route: Route, method: Method, uri: &Uri, body: &Bytes) -> Response {
    let shared = shared.as_ref();
    match (route, method) {
        (Route::List { sub, rg }, Method::GET) => list(shared, uri, &sub, rg.as_deref()),
        (Route::Group { sub, rg, name }, Method::GET) => get_group(shared, &sub, &rg, &name),
        (Route::Group { sub, rg, name }, Method::PUT) => put_group(shared, &sub, &rg, &name, body),
        (Route::Group { sub, rg, name }, Method::DELETE) => delete_group(shared, &sub, &rg, &name),
        (
            Route::Logs {
                sub,
                rg,
                name,
                container,
            },
            Method::GET,
        ) => logs(shared, uri, &sub, &rg, &name, &container),
        (
            Route::Exec {
                sub,
                rg,
                name,
                container,
            },
            Method::POST,
        ) => exec(shared, &sub, &rg, &name, &container, body),
        (
            Route::Action {
                sub,
                rg,
                name,
                action,
            },
            Method::POST,
        ) => super::actions::group_action(shared, &sub, &rg, &name, &action),
        (Route::Usages { .. }, Method::GET) => usages(shared),
        (Route::Capabilities { location }, Method::GET) => capabilities(&location),
        (Route::Operation { id, location_style }, Method::GET) => {
            operation_status(shared, &id, location_style)
        }
        (
            Route::Subnet {
                sub,
                rg,
                vnet,
                name,
            },
            Method::GET,
        ) => subnets::get(shared, &subnets::id(&sub, &rg, &vnet, &name)),
        (
            Route::Subnet {
                sub,
                rg,
                vnet,
                name,
            },
            Method::PUT,
        ) => subnets::put(shared, &subnets::id(&sub, &rg, &vnet, &name), &name, body),
        (_, method) => arm_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        ),
    }
}

fn not_found(rg: &str, name: &str) -> Response {
    arm_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!(
            "The Resource 'Microsoft.ContainerInstance/containerGroups/{name}' under resource group '{rg}' was not found."
        ),
    )
}

/// Look a group up, dropping it first if its delete has finished.
fn live<'a>(
    inner: &'a mut super::Inner,
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

fn get_group(shared: &Shared, sub: &str, rg: &str, name: &str) -> Response {
    let now = Instant::now();
    let mut inner = shared.lock();
    match live(&mut inner, &group_key(sub, rg, name), now, shared) {
        Some(record) => {
            axum::Json(record.view(now, &shared.config.timeline, &shared.wall)).into_response()
        }
        None => not_found(rg, name),
    }
}

fn list(shared: &Shared, uri: &Uri, sub: &str, rg: Option<&str>) -> Response {
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

fn put_group(shared: &Shared, sub: &str, rg: &str, name: &str, body: &[u8]) -> Response {
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
        if let Some(field) = super::validate::not_updatable(&record.spec, &group) {
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

fn delete_group(shared: &Shared, sub: &str, rg: &str, name: &str) -> Response {
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

fn operation_status(shared: &Shared, id: &str, location_style: bool) -> Response {
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

fn logs(shared: &Shared, uri: &Uri, sub: &str, rg: &str, name: &str, container: &str) -> Response {
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

fn exec(
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

fn usages(shared: &Shared) -> Response {
    let now = Instant::now();
    let timeline = shared.config.timeline;
    let inner = shared.lock();
    let live: Vec<&GroupRecord> = inner
        .groups
        .values()
        .filter(|g| !g.is_gone(now, &timeline))
        .collect();
    let millicores: u64 = live
        .iter()
        .flat_map(|g| &g.spec.properties.containers)
        .filter_map(|c| c.properties.resources.as_ref().map(|r| r.requests.cpu))
        // Requests are validated positive and at most 31.
        .map(|cpu| (cpu * 1000.0).round() as u64)
        .sum();
    let cores = millicores.div_ceil(1000);
    axum::Json(json!({"value": [
        {"unit": "Count", "currentValue": live.len(), "limit": shared.config.group_limit,
         "name": {"value": "ContainerGroups", "localizedValue": "Container Groups"}},
        {"unit": "Count", "currentValue": cores, "limit": shared.config.group_limit * 4,
         "name": {"value": "StandardCores", "localizedValue": "Standard Cores"}},
    ]}))
    .into_response()
}

fn capabilities(location: &str) -> Response {
    axum::Json(json!({"value": [
        {"resourceType": "containerGroups", "osType": "Linux", "location": location,
         "ipAddressType": "Public", "gpu": "None",
         "capabilities": {"maxMemoryInGB": 240, "maxCpu": 31, "maxGpuCount": 0}},
        {"resourceType": "containerGroups", "osType": "Windows", "location": location,
         "ipAddressType": "Public", "gpu": "None",
         "capabilities": {"maxMemoryInGB": 16, "maxCpu": 4, "maxGpuCount": 0}},
    ]}))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_paths_should_match_case_insensitively() {
        let route = Route::parse("/subscriptions/s/resourcegroups/RG/providers/Microsoft.ContainerInstance/containerGroups/demo1").unwrap();
        assert_eq!(
            route,
            Route::Group {
                sub: "s".into(),
                rg: "RG".into(),
                name: "demo1".into()
            }
        );
        assert!(Route::parse("/subscriptions/s/whatever").is_none());
    }
}
