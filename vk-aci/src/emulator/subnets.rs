//! `Microsoft.Network` subnets, in memory: enough of GET and PUT for the startup check of
//! VNet mode (`arm::network`). A PUT stores the body as sent and answers it `Succeeded`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::arm_http::arm_error;
use super::store::Shared;

/// The key of a subnet: its ARM ID, lower-cased (ARM IDs are case-insensitive).
pub(crate) fn id(sub: &str, rg: &str, vnet: &str, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}"
    )
}

fn key(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// GET: the stored subnet, or ARM's 404.
pub(crate) fn get(shared: &Shared, id: &str) -> Response {
    match shared.lock().subnets.get(&key(id)) {
        Some(subnet) => (StatusCode::OK, axum::Json(subnet.clone())).into_response(),
        None => arm_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("Resource {id} not found."),
        ),
    }
}

/// PUT: store the body with its id, name, type and `provisioningState: Succeeded`.
pub(crate) fn put(shared: &Shared, id: &str, name: &str, body: &[u8]) -> Response {
    let mut subnet: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestFormat",
                "Cannot parse the request.",
            );
        }
    };
    if subnet
        .pointer("/properties/addressPrefix")
        .and_then(Value::as_str)
        .is_none()
        && subnet
            .pointer("/properties/addressPrefixes")
            .and_then(Value::as_array)
            .is_none()
    {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "SubnetMissingAddressPrefix",
            format!("Subnet {name} does not have an address prefix."),
        );
    }
    let stored = store(shared, id, name, &mut subnet);
    let status = if stored {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, axum::Json(subnet)).into_response()
}

/// Insert or replace; returns whether the subnet existed.
pub(crate) fn store(shared: &Shared, id: &str, name: &str, subnet: &mut Value) -> bool {
    subnet["id"] = Value::String(id.to_owned());
    subnet["name"] = Value::String(name.to_owned());
    subnet["type"] = Value::String("Microsoft.Network/virtualNetworks/subnets".to_owned());
    if let Some(props) = subnet.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("provisioningState".to_owned(), "Succeeded".into());
    }
    shared
        .lock()
        .subnets
        .insert(key(id), subnet.clone())
        .is_some()
}
