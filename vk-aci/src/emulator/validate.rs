//! Validation of container group PUT bodies, as strict as ARM and ACI: names, counts,
//! resources, managed identities, availability zones, the confidential SKU and Spot
//! priority.
//!
//! Codes and messages follow ARM's (`LinkedInvalidPropertyId`) and ACI's documented Spot
//! error codes (`SpotPriorityContainerGroup...`); where ACI documents no code, the code
//! names the rule.

use vk_translate::container_group::{
    ContainerGroup, ContainerGroupPriority, ContainerGroupProperties, ContainerGroupSku,
};
use vk_translate::identity::is_user_assigned_identity_id;

/// ARM's error code and message for a refused PUT.
pub(super) type Refusal = (&'static str, String);

/// Availability zones of a region that has them.
pub(super) const REGION_ZONES: [&str; 3] = ["1", "2", "3"];

/// Regions without availability zones (lower case, no spaces).
pub(super) const REGIONS_WITHOUT_ZONES: [&str; 3] = ["westus", "northcentralus", "westcentralus"];

pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Validate a PUT body the way ACI does: the limits in `aci-spec/README.md`, then identities,
/// zones, the confidential SKU and Spot priority. The error is ARM's `(code, message)`.
pub(super) fn validate(name: &str, group: &ContainerGroup) -> Result<(), Refusal> {
    if !valid_name(name) {
        return Err((
            "InvalidContainerGroupName",
            format!(
                "The container group name '{name}' is invalid. A container group name must contain no more than 63 characters and must match the regex '[a-z0-9]([-a-z0-9]*[a-z0-9])?' (e.g. 'my-name')."
            ),
        ));
    }
    if group.location.as_deref().is_none_or(str::is_empty) {
        return Err((
            "LocationRequired",
            "The location property is required for this definition.".into(),
        ));
    }
    let props = &group.properties;
    if props.os_type.is_none() {
        return Err((
            "InvalidRequestContent",
            "The request content was invalid: 'osType' is required.".into(),
        ));
    }
    if props.containers.is_empty() || props.containers.len() > 60 {
        return Err((
            "InvalidContainerCount",
            format!(
                "A container group must have between 1 and 60 containers; it has {}.",
                props.containers.len()
            ),
        ));
    }
    if props.volumes.len() > 20 {
        return Err((
            "TooManyVolumes",
            format!(
                "A container group may have at most 20 volumes; it has {}.",
                props.volumes.len()
            ),
        ));
    }
    if let Some(ip) = &props.ip_address
        && ip.ports.len() > 5
    {
        return Err((
            "TooManyPorts",
            format!(
                "An IP address may expose at most 5 ports; it exposes {}.",
                ip.ports.len()
            ),
        ));
    }
    let mut names = std::collections::HashSet::new();
    let (mut cpu, mut memory) = (0.0, 0.0);
    let init_names = props.init_containers.iter().map(|c| &c.name);
    for n in props.containers.iter().map(|c| &c.name).chain(init_names) {
        if !valid_name(n) {
            return Err((
                "InvalidContainerName",
                format!("The container name '{n}' is invalid."),
            ));
        }
        if !names.insert(n.clone()) {
            return Err((
                "DuplicateContainerName",
                format!("The container name '{n}' is used more than once."),
            ));
        }
    }
    for c in &props.containers {
        if c.properties.image.as_deref().is_none_or(str::is_empty) {
            return Err((
                "InvalidContainerImage",
                format!("The image of container '{}' is required.", c.name),
            ));
        }
        let requests = c.properties.resources.as_ref().map(|r| &r.requests);
        let (c_cpu, c_mem) = requests.map_or((0.0, 0.0), |r| (r.cpu, r.memory_in_gb));
        if c_cpu <= 0.0 || c_mem <= 0.0 {
            return Err((
                "InvalidResourceRequests",
                format!(
                    "Container '{}' must request cpu and memory greater than 0.",
                    c.name
                ),
            ));
        }
        cpu += c_cpu;
        memory += c_mem;
        for m in &c.properties.volume_mounts {
            if !props.volumes.iter().any(|v| v.name == m.name) {
                return Err((
                    "VolumeMountNotFound",
                    format!(
                        "The volume mount '{}' of container '{}' names no volume.",
                        m.name, c.name
                    ),
                ));
            }
        }
    }
    if cpu > 31.0 || memory > 240.0 {
        return Err((
            "ResourceRequestsExceedMaximum",
            format!(
                "The container group requests {cpu} CPU and {memory} GB; a Standard group allows at most 31 CPU and 240 GB."
            ),
        ));
    }
    check_identities(group)?;
    check_zones(group)?;
    check_confidential(props)?;
    check_spot(props)
}

/// Every user-assigned identity (the group's, and the ones registries pull with) must be an
/// identity resource ID; a registry's identity must be one of the group's.
fn check_identities(group: &ContainerGroup) -> Result<(), Refusal> {
    let assigned = group.identity.as_ref().map(|i| &i.user_assigned_identities);
    for id in assigned.into_iter().flat_map(|m| m.keys()) {
        if !is_user_assigned_identity_id(id) {
            return Err(invalid_id(id, "identity.userAssignedIdentities"));
        }
    }
    for (i, credential) in group
        .properties
        .image_registry_credentials
        .iter()
        .enumerate()
    {
        let Some(id) = credential.identity.as_deref() else {
            continue;
        };
        if !is_user_assigned_identity_id(id) {
            return Err(invalid_id(
                id,
                &format!("properties.imageRegistryCredentials[{i}].identity"),
            ));
        }
        if !assigned.is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(id))) {
            return Err((
                "InvalidImageRegistryCredentialIdentity",
                format!(
                    "The identity '{id}' of the image registry credential for '{}' is not assigned to the container group.",
                    credential.server
                ),
            ));
        }
    }
    Ok(())
}

fn invalid_id(id: &str, path: &str) -> Refusal {
    (
        "LinkedInvalidPropertyId",
        format!(
            "Property id '{id}' at path '{path}' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{{subscriptionId}}' or '/providers/{{resourceProviderNamespace}}/'."
        ),
    )
}

/// One zone at most, and one the region has.
fn check_zones(group: &ContainerGroup) -> Result<(), Refusal> {
    if group.zones.is_empty() {
        return Ok(());
    }
    if group.zones.len() > 1 {
        return Err((
            "MultipleZonesNotSupported",
            format!(
                "A container group can be deployed to one availability zone only; the request names {}.",
                group.zones.len()
            ),
        ));
    }
    let location = group
        .location
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase()
        .replace(' ', "");
    let zone = &group.zones[0];
    if REGIONS_WITHOUT_ZONES.contains(&location.as_str()) || !REGION_ZONES.contains(&zone.as_str())
    {
        return Err((
            "InvalidAvailabilityZone",
            format!("The availability zone '{zone}' is not supported in location '{location}'."),
        ));
    }
    Ok(())
}

/// A confidential group takes no extensions, no GPUs and Linux only; a policy needs the SKU.
fn check_confidential(props: &ContainerGroupProperties) -> Result<(), Refusal> {
    let confidential = props.sku == Some(ContainerGroupSku::Confidential);
    if !confidential {
        if props
            .confidential_compute_properties
            .as_ref()
            .is_some_and(|c| c.cce_policy.is_some())
        {
            return Err((
                "ConfidentialComputePropertiesRequireConfidentialSku",
                "The confidential compute properties can only be set for container groups with the 'Confidential' sku.".into(),
            ));
        }
        return Ok(());
    }
    if !props.extensions.is_empty() {
        return Err((
            "ExtensionsNotSupportedForConfidentialSku",
            "Extensions are not supported for container groups with the 'Confidential' sku.".into(),
        ));
    }
    if props.os_type == Some(vk_translate::container_group::OperatingSystemTypes::Windows) {
        return Err((
            "OsTypeNotSupportedForConfidentialSku",
            "The 'Confidential' sku supports Linux container groups only.".into(),
        ));
    }
    if has_gpu(props) {
        return Err((
            "GpuNotSupportedForConfidentialSku",
            "GPU resources are not supported for container groups with the 'Confidential' sku."
                .into(),
        ));
    }
    Ok(())
}

fn has_gpu(props: &ContainerGroupProperties) -> bool {
    props.containers.iter().any(|c| {
        c.properties.resources.as_ref().is_some_and(|r| {
            r.requests.gpu.is_some() || r.limits.as_ref().is_some_and(|l| l.gpu.is_some())
        })
    })
}

/// ACI's Spot rules, with its documented codes: no inbound connectivity (no IP address, no
/// subnet), the Standard SKU only, no GPUs.
fn check_spot(props: &ContainerGroupProperties) -> Result<(), Refusal> {
    if props.priority != Some(ContainerGroupPriority::Spot) {
        return Ok(());
    }
    if props.ip_address.is_some() || !props.subnet_ids.is_empty() {
        return Err((
            "SpotPriorityContainerGroupNotSupportedForInboundConnectivity",
            "Spot Priority is not supported for container groups with inbound connectivity.".into(),
        ));
    }
    if let Some(sku) = props
        .sku
        .as_ref()
        .filter(|s| **s != ContainerGroupSku::Standard)
    {
        return Err((
            "SpotPriorityContainerGroupNotSupportedInSku",
            format!("Spot Priority Container Group is not supported in '{sku}' Sku."),
        ));
    }
    if has_gpu(props) {
        return Err((
            "SpotPriorityContainerGroupWithGPUResourcesNotSupported",
            "Spot Priority Container Groups that include containers requesting GPU resources are not supported.".into(),
        ));
    }
    Ok(())
}

/// The first property ACI cannot change in place between `old` and `new` (the update
/// limits of ACI's "update containers" documentation: OS type, CPU, memory and GPU
/// resources, restart policy, IP address type, subnets, the set of containers), or `None`
/// when `new` is an update ACI makes by restarting the containers.
pub(crate) fn not_updatable(old: &ContainerGroup, new: &ContainerGroup) -> Option<&'static str> {
    let (o, n) = (&old.properties, &new.properties);
    if o.os_type != n.os_type {
        return Some("osType");
    }
    if o.restart_policy != n.restart_policy {
        return Some("restartPolicy");
    }
    let ip_type = |g: &ContainerGroup| {
        g.properties
            .ip_address
            .as_ref()
            .map(|ip| serde_json::to_value(&ip.type_).unwrap_or_default())
    };
    if ip_type(old) != ip_type(new) {
        return Some("ipAddress.type");
    }
    if serde_json::to_value(&o.subnet_ids).ok() != serde_json::to_value(&n.subnet_ids).ok() {
        return Some("subnetIds");
    }
    let names = |g: &ContainerGroup| -> Vec<String> {
        g.properties
            .containers
            .iter()
            .map(|c| c.name.clone())
            .collect()
    };
    if names(old) != names(new) {
        return Some("containers");
    }
    let resources = |c: &vk_translate::container_group::Container| {
        serde_json::to_value(&c.properties.resources).unwrap_or_default()
    };
    if o.containers
        .iter()
        .zip(&n.containers)
        .any(|(a, b)| resources(a) != resources(b))
    {
        return Some("containers.resources");
    }
    None
}

/// The first user-assigned identity of `group` that does not exist (is not in `known`,
/// lower-cased IDs): ARM refuses a group whose identity it cannot find.
pub(crate) fn unknown_identity(
    group: &ContainerGroup,
    known: &std::collections::HashSet<String>,
) -> Option<String> {
    group
        .identity
        .as_ref()?
        .user_assigned_identities
        .keys()
        .find(|id| !known.contains(&id.to_ascii_lowercase()))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_should_follow_aci_rules() {
        assert!(valid_name("demo-1"));
        for bad in ["", "-a", "a-", "a--b", "Upper", &"a".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
