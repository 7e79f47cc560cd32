//! The emulated region operations: usages against quota and capabilities.
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::time::Instant;

use super::state::GroupRecord;
use super::store::Shared;

pub(super) fn usages(shared: &Shared) -> Response {
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

pub(super) fn capabilities(location: &str) -> Response {
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
