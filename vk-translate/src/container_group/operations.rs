//! Bodies of the other ARM operations the ACI client uses: errors, lists, exec, attach, logs,
//! usage and capabilities.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::group::ContainerGroup;
use super::redaction::REDACTED;

/// An ARM error response (`CloudError`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudError {
    /// The error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CloudErrorBody>,
}

/// The body of an ARM error (`CloudErrorBody`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudErrorBody {
    /// Machine-readable code (`ResourceNotFound`, `InaccessibleImage`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the error is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Nested errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<CloudErrorBody>,
}

/// A page of container groups (`ContainerGroupListResult`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupListResult {
    /// The groups on this page (required by the spec).
    pub value: Vec<ContainerGroup>,
    /// URL of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// Request to exec into a container (`ContainerExecRequest`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerExecRequest {
    /// Command to run (one string; ACI splits nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Size of the terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_size: Option<ContainerExecRequestTerminalSize>,
}

/// Terminal size of an exec (`ContainerExecRequestTerminalSize`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerExecRequestTerminalSize {
    /// Rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<i32>,
    /// Columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cols: Option<i32>,
}

/// Where to connect for an exec (`ContainerExecResponse`). `Debug` redacts the password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerExecResponse {
    /// WebSocket URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_socket_uri: Option<String>,
    /// Password sent as the first WebSocket message (secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for ContainerExecResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerExecResponse")
            .field("web_socket_uri", &self.web_socket_uri)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// Where to connect for an attach (`ContainerAttachResponse`). `Debug` redacts the password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerAttachResponse {
    /// WebSocket URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_socket_uri: Option<String>,
    /// Password sent as the first WebSocket message (secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for ContainerAttachResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerAttachResponse")
            .field("web_socket_uri", &self.web_socket_uri)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// Logs of a container (`Logs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Logs {
    /// The log text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Usage figures of a region (`UsageListResult`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageListResult {
    /// One entry per quota.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value: Vec<Usage>,
    /// URL of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// Usage of one quota (`Usage`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// ID of the usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Unit (`Count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Current value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_value: Option<i32>,
    /// Limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
    /// Quota name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<UsageName>,
}

/// Name of a quota (`UsageName`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageName {
    /// Machine name (`ContainerGroups`, `StandardCores`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Localized name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localized_value: Option<String>,
}

/// Capabilities of a region (`CapabilitiesListResult`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesListResult {
    /// One entry per OS, IP type and GPU combination.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value: Vec<Capabilities>,
    /// URL of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// One capability entry (`Capabilities`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Resource type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// OS type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// IP address type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// GPU SKU (`None` when no GPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// The limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapabilitiesCapabilities>,
}

/// Resource limits of a capability entry (`CapabilitiesCapabilities`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesCapabilities {
    /// Maximum memory per group, GB.
    #[serde(
        default,
        rename = "maxMemoryInGB",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_memory_in_gb: Option<f64>,
    /// Maximum CPU per group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cpu: Option<f64>,
    /// Maximum GPUs per group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_gpu_count: Option<f64>,
}
