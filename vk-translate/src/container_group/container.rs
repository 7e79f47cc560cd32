//! Containers and init containers: image, command, environment, resources, ports, probes.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::enums::{ContainerNetworkProtocol, GpuSku, Scheme};
use super::instance_view::ContainerPropertiesInstanceView;
use super::redaction::redact;
use super::volume::VolumeMount;

/// A container of the group (`Container`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Container name, unique in the group.
    pub name: String,
    /// Container properties.
    pub properties: ContainerProperties,
}

/// The properties of a container (`ContainerProperties`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProperties {
    /// Image reference (ARM rejects a create without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Exec-form command (ACI has no separate arguments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Ports the container exposes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Runtime state of the container (server-set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_view: Option<ContainerPropertiesInstanceView>,
    /// CPU, memory and GPU requests and limits (ARM rejects a create without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Volume mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// Liveness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<ContainerProbe>,
    /// Readiness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<ContainerProbe>,
    /// Security context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContextDefinition>,
    /// Config map of the container (key/value pairs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMap>,
}

/// An init container of the group (`InitContainerDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitContainerDefinition {
    /// Init container name, unique in the group.
    pub name: String,
    /// Init container properties.
    pub properties: InitContainerPropertiesDefinition,
}

/// The properties of an init container (`InitContainerPropertiesDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitContainerPropertiesDefinition {
    /// Image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Exec-form command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    /// Runtime state of the init container (server-set;
    /// `InitContainerPropertiesDefinitionInstanceView`, same shape as a container's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_view: Option<ContainerPropertiesInstanceView>,
    /// Volume mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// Security context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContextDefinition>,
}

/// An environment variable (`EnvironmentVariable`). `Debug` redacts `secure_value`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentVariable {
    /// Variable name.
    pub name: String,
    /// Plain value, visible in the group's properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Secure value (secret): never returned by ARM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_value: Option<String>,
    /// Name of a secret reference holding the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_value_reference: Option<String>,
}

impl fmt::Debug for EnvironmentVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvironmentVariable")
            .field("name", &self.name)
            .field("value", &self.value)
            .field("secure_value", &redact(self.secure_value.as_ref()))
            .field("secure_value_reference", &self.secure_value_reference)
            .finish()
    }
}

/// Resource requirements (`ResourceRequirements`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    /// Requests (required by the spec).
    pub requests: ResourceRequests,
    /// Limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceLimits>,
}

/// Resource requests (`ResourceRequests`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequests {
    /// Memory in GB (10^9 bytes).
    #[serde(rename = "memoryInGB")]
    pub memory_in_gb: f64,
    /// CPU cores.
    pub cpu: f64,
    /// GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuResource>,
}

/// Resource limits (`ResourceLimits`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceLimits {
    /// Memory in GB (10^9 bytes).
    #[serde(
        default,
        rename = "memoryInGB",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory_in_gb: Option<f64>,
    /// CPU cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuResource>,
}

/// A GPU request or limit (`GpuResource`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuResource {
    /// Number of GPUs.
    pub count: i32,
    /// GPU SKU.
    pub sku: GpuSku,
}

/// A port of a container (`ContainerPort`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// TCP or UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ContainerNetworkProtocol>,
    /// Port number.
    pub port: i32,
}

/// A liveness or readiness probe (`ContainerProbe`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProbe {
    /// Command probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ContainerExec>,
    /// HTTP GET probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<ContainerHttpGet>,
    /// Seconds before the first probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i32>,
    /// Seconds between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    /// Failures before the probe fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
    /// Successes before the probe succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<i32>,
    /// Seconds before a probe times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
}

/// A command probe (`ContainerExec`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerExec {
    /// Exec-form command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

/// An HTTP GET probe (`ContainerHttpGet`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerHttpGet {
    /// Request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Port number.
    pub port: i32,
    /// http or https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Scheme>,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader>,
}

/// A header of an HTTP probe (`HttpHeader`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpHeader {
    /// Header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Header value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Security context of a container (`SecurityContextDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContextDefinition {
    /// Run privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Allow gaining more privileges than the parent process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_privilege_escalation: Option<bool>,
    /// Capabilities to add or drop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<SecurityContextCapabilitiesDefinition>,
    /// Group ID of the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i32>,
    /// User ID of the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i32>,
    /// Base64-encoded seccomp profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_profile: Option<String>,
}

/// Linux capabilities (`SecurityContextCapabilitiesDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContextCapabilitiesDefinition {
    /// Capabilities to add.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    /// Capabilities to drop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}

/// Key/value configuration of a container (`ConfigMap`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    /// The pairs.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub key_value_pairs: std::collections::BTreeMap<String, String>,
}
