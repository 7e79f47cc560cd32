//! Spot priority: evictable capacity for pods that tolerate AKS's spot taint or opt in.
//!
//! A pod that tolerates [`SPOT_TAINT_KEY`] (value `spot`, any effect, or operator `Exists`
//! on that key) or sets [`SPOT_ANNOTATION`] to `true` runs as a `priority: Spot` group;
//! the annotation set to `false` opts out. ACI's constraints are checked here, before the
//! PUT, from ACI's Spot documentation and its error codes:
//!
//! - No inbound connectivity (`SpotPriorityContainerGroupNotSupportedForInboundConnectivity`:
//!   "remove the network-related properties"): a node in a virtual network (private IPs,
//!   `subnetIds`) cannot run Spot pods, an error; on a public-IP node the group's IP address
//!   is dropped with a warning (the containers still reach out, nothing reaches in).
//! - Standard SKU only (`SpotPriorityContainerGroupNotSupportedInSku`): not confidential.
//! - No GPUs (`SpotPriorityContainerGroupWithGPUResourcesNotSupported`).
//! - Size: Spot container groups get at most [`SPOT_MAX_CPU`] cores and
//!   [`SPOT_MAX_MEMORY_IN_GB`] GB (ACI resource limits, Spot containers).
//! - Regions: Spot containers are offered in some regions only ([`SPOT_REGIONS`], from the
//!   Spot tutorial); elsewhere a warning, since the list grows.

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{ContainerGroupPriority, ContainerGroupProperties, ContainerGroupSku};
use crate::error::Findings;
use crate::node::NodeOptions;

/// The taint AKS puts on Spot node pools; pods that tolerate it accept eviction.
pub const SPOT_TAINT_KEY: &str = "kubernetes.azure.com/scalesetpriority";
/// The value of [`SPOT_TAINT_KEY`] on Spot node pools.
pub const SPOT_TAINT_VALUE: &str = "spot";
/// Pod annotation: `true` runs the pod as a Spot group, `false` never does.
pub const SPOT_ANNOTATION: &str = "vk-aci.io/spot";
/// Most CPU cores of a Spot group (ACI resource limits, Spot containers).
pub const SPOT_MAX_CPU: f64 = 4.0;
/// Most memory of a Spot group, in GB (ACI resource limits, Spot containers).
pub const SPOT_MAX_MEMORY_IN_GB: f64 = 16.0;
/// Regions ACI's Spot tutorial lists for Spot containers (lower case, no spaces).
pub const SPOT_REGIONS: [&str; 3] = ["westeurope", "eastus2", "westus"];

/// The field that asks for Spot priority (the annotation or a toleration), if any.
pub(crate) fn spot_request(pod: &k8s::Pod, findings: &mut Findings) -> Option<String> {
    let field = format!("metadata.annotations['{SPOT_ANNOTATION}']");
    match pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SPOT_ANNOTATION))
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("true") => return Some(field),
        Some("false") => return None,
        Some(other) => {
            findings.invalid(field, format!("{other:?} is neither true nor false"));
            return None;
        }
        None => {}
    }
    pod.spec
        .iter()
        .flat_map(|s| s.tolerations.iter().flatten())
        .position(tolerates_spot)
        .map(|i| format!("spec.tolerations[{i}]"))
}

fn tolerates_spot(t: &k8s::Toleration) -> bool {
    if t.key.as_deref() != Some(SPOT_TAINT_KEY) {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" => t.value.as_deref() == Some(SPOT_TAINT_VALUE),
        _ => false,
    }
}

/// Sets `priority: Spot` on `properties` and checks ACI's Spot constraints.
pub(crate) fn make_spot(
    properties: &mut ContainerGroupProperties,
    node: &NodeOptions,
    field: &str,
    findings: &mut Findings,
) {
    properties.priority = Some(ContainerGroupPriority::Spot);
    if !properties.subnet_ids.is_empty() {
        findings.unsupported(
            field,
            "ACI runs Spot groups without inbound connectivity, so not in a virtual network: this node uses private IPs in a subnet",
        );
    }
    if let Some(ip) = properties.ip_address.take()
        && !ip.ports.is_empty()
    {
        findings.warn(
            field,
            "ACI gives Spot groups no inbound connectivity: the group has no IP address, its container ports are not reachable",
        );
    }
    if matches!(
        properties.sku,
        Some(ContainerGroupSku::Confidential | ContainerGroupSku::Dedicated)
    ) {
        findings.unsupported(field, "ACI runs Spot groups with the Standard sku only");
    }
    let (mut cpu, mut memory, mut gpu) = (0.0, 0.0, false);
    for c in &properties.containers {
        if let Some(r) = &c.properties.resources {
            cpu += r.requests.cpu;
            memory += r.requests.memory_in_gb;
            gpu |= r.requests.gpu.is_some();
        }
    }
    if gpu {
        findings.unsupported(field, "ACI Spot groups have no GPUs");
    }
    // The requests are sums of 0.01 and 0.1 steps: compare with a little tolerance.
    if cpu > SPOT_MAX_CPU + 1e-9 || memory > SPOT_MAX_MEMORY_IN_GB + 1e-9 {
        findings.over_limit(
            "spec.containers[*].resources.requests",
            format!(
                "the containers request {cpu:.2} CPU and {memory:.1} GB; an ACI Spot group has at most {SPOT_MAX_CPU} CPU and {SPOT_MAX_MEMORY_IN_GB} GB"
            ),
        );
    }
    let region = node.region.to_ascii_lowercase().replace(' ', "");
    if !SPOT_REGIONS.contains(&region.as_str()) {
        findings.warn(
            field,
            format!(
                "ACI documents Spot containers in {} only; ARM may refuse Spot in {}",
                SPOT_REGIONS.join(", "),
                node.region
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toleration(key: &str, operator: Option<&str>, value: Option<&str>) -> k8s::Toleration {
        k8s::Toleration {
            key: Some(key.to_owned()),
            operator: operator.map(str::to_owned),
            value: value.map(str::to_owned),
            effect: Some("NoSchedule".to_owned()),
            ..k8s::Toleration::default()
        }
    }

    #[test]
    fn spot_tolerations_should_be_recognised() {
        assert!(tolerates_spot(&toleration(
            SPOT_TAINT_KEY,
            None,
            Some("spot")
        )));
        assert!(tolerates_spot(&toleration(
            SPOT_TAINT_KEY,
            Some("Exists"),
            None
        )));
        assert!(!tolerates_spot(&toleration(
            SPOT_TAINT_KEY,
            None,
            Some("regular")
        )));
        assert!(!tolerates_spot(&toleration("other", Some("Exists"), None)));
        // A toleration of every taint is not a request for Spot.
        assert!(!tolerates_spot(&k8s::Toleration {
            operator: Some("Exists".into()),
            ..k8s::Toleration::default()
        }));
    }
}
