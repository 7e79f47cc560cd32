//! The emulator's HTTP surface: ARM paths (matched case-insensitively, as ARM does), Azure
//! Monitor's metrics paths (handled in [`monitor`]), the fake token endpoint and the call
//! counter. `router` is the only place routes are listed.
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::arm_http::{arm_error, query_param, with_retry_after};
use super::container_groups::{delete_group, get_group, list, operation_status, put_group};
use super::containers::{exec, logs};
use super::entra_token::token;
use super::location::{capabilities, usages};
use super::store::Shared;
use super::{actions, admission, monitor, subnets};
use crate::arm::throttle::{Class, Priority};

/// The emulator's router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/_emulator/calls", get(calls))
        .fallback(arm)
        .with_state(shared)
}

async fn calls(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.lock().calls.clone()).into_response()
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
        match l.as_slice() {
            ["subscriptions", _, "resourcegroups", _, rest @ ..] => {
                Self::in_resource_group(segs[1], segs[3], rest, &segs[4..])
            }
            ["subscriptions", _, rest @ ..] => Self::in_subscription(segs[1], rest, &segs[2..]),
            _ => None,
        }
    }

    /// A path under `/subscriptions/{sub}/resourceGroups/{rg}/`: `l` lower-cased, `segs` as
    /// sent.
    fn in_resource_group(sub: &str, rg: &str, l: &[&str], segs: &[&str]) -> Option<Self> {
        let (sub, rg) = (sub.to_owned(), rg.to_owned());
        let s = |i: usize| segs[i].to_owned();
        match l {
            [
                "providers",
                "microsoft.containerinstance",
                "containergroups",
            ] => Some(Self::List { sub, rg: Some(rg) }),
            [
                "providers",
                "microsoft.containerinstance",
                "containergroups",
                _,
            ] => Some(Self::Group {
                sub,
                rg,
                name: s(3),
            }),
            [
                "providers",
                "microsoft.containerinstance",
                "containergroups",
                _,
                "containers",
                _,
                "logs",
            ] => Some(Self::Logs {
                sub,
                rg,
                name: s(3),
                container: s(5),
            }),
            [
                "providers",
                "microsoft.containerinstance",
                "containergroups",
                _,
                "containers",
                _,
                "exec",
            ] => Some(Self::Exec {
                sub,
                rg,
                name: s(3),
                container: s(5),
            }),
            [
                "providers",
                "microsoft.containerinstance",
                "containergroups",
                _,
                "restart" | "stop" | "start",
            ] => Some(Self::Action {
                sub,
                rg,
                name: s(3),
                action: l[4].to_owned(),
            }),
            [
                "providers",
                "microsoft.network",
                "virtualnetworks",
                _,
                "subnets",
                _,
            ] => Some(Self::Subnet {
                sub,
                rg,
                vnet: s(3),
                name: s(5),
            }),
            _ => None,
        }
    }

    /// A path under `/subscriptions/{sub}/` outside any resource group.
    fn in_subscription(sub: &str, l: &[&str], segs: &[&str]) -> Option<Self> {
        let s = |i: usize| segs[i].to_owned();
        match l {
            [
                "providers",
                "microsoft.containerinstance",
                "containergroups",
            ] => Some(Self::List {
                sub: sub.to_owned(),
                rg: None,
            }),
            [
                "providers",
                "microsoft.containerinstance",
                "locations",
                _,
                "usages",
            ] => Some(Self::Usages { location: s(3) }),
            [
                "providers",
                "microsoft.containerinstance",
                "locations",
                _,
                "capabilities",
            ] => Some(Self::Capabilities { location: s(3) }),
            [
                "providers",
                "microsoft.containerinstance",
                "locations",
                _,
                "operations",
                _,
            ] => Some(Self::Operation {
                id: s(5),
                location_style: false,
            }),
            [
                "providers",
                "microsoft.containerinstance",
                "locations",
                _,
                "operationresults",
                _,
            ] => Some(Self::Operation {
                id: s(5),
                location_style: true,
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

fn class_of(method: &Method) -> Class {
    match *method {
        Method::GET | Method::HEAD => Class::Read,
        Method::DELETE => Class::Delete,
        _ => Class::Write,
    }
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
        ) => actions::group_action(shared, &sub, &rg, &name, &action),
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
        let base = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance";
        let parsed = |path: &str| Route::parse(path).unwrap();
        assert_eq!(
            parsed(&format!("{base}/containerGroups")),
            Route::List {
                sub: "s".into(),
                rg: Some("rg".into())
            }
        );
        assert_eq!(
            parsed("/subscriptions/s/providers/Microsoft.ContainerInstance/containerGroups"),
            Route::List {
                sub: "s".into(),
                rg: None
            }
        );
        assert_eq!(
            parsed(&format!("{base}/containerGroups/g/containers/c/logs")),
            Route::Logs {
                sub: "s".into(),
                rg: "rg".into(),
                name: "g".into(),
                container: "c".into()
            }
        );
        assert_eq!(
            parsed(&format!("{base}/containerGroups/g/containers/c/exec")),
            Route::Exec {
                sub: "s".into(),
                rg: "rg".into(),
                name: "g".into(),
                container: "c".into()
            }
        );
        assert_eq!(
            parsed(&format!("{base}/containerGroups/g/Restart")),
            Route::Action {
                sub: "s".into(),
                rg: "rg".into(),
                name: "g".into(),
                action: "restart".into()
            }
        );
        assert_eq!(
            parsed(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/n"
            ),
            Route::Subnet {
                sub: "s".into(),
                rg: "rg".into(),
                vnet: "v".into(),
                name: "n".into()
            }
        );
        let location = "/subscriptions/s/providers/Microsoft.ContainerInstance/locations/westus";
        assert_eq!(
            parsed(&format!("{location}/usages")),
            Route::Usages {
                location: "westus".into()
            }
        );
        assert_eq!(
            parsed(&format!("{location}/capabilities")),
            Route::Capabilities {
                location: "westus".into()
            }
        );
        assert_eq!(
            parsed(&format!("{location}/operations/op1")),
            Route::Operation {
                id: "op1".into(),
                location_style: false
            }
        );
        assert_eq!(
            parsed(&format!("{location}/operationResults/op1")),
            Route::Operation {
                id: "op1".into(),
                location_style: true
            }
        );
    }
}
