//! Entry points for the cargo-fuzz targets in `fuzz/`: not a stable API.

use crate::container_group::ContainerGroup;

/// Arbitrary bytes as an ARM container group body: whatever deserializes must survive
/// serialize -> deserialize unchanged, and serialize the same way twice.
///
/// Exact float round trips need serde_json's `float_roundtrip` feature, which `fuzz/` enables.
///
/// # Panics
///
/// When a group that deserialized does not round-trip: a bug in the model.
pub fn arm_json(data: &[u8]) {
    let Ok(group) = serde_json::from_slice::<ContainerGroup>(data) else {
        return;
    };
    let text = serde_json::to_vec(&group).expect("a deserialized group serializes");
    let again: ContainerGroup =
        serde_json::from_slice(&text).expect("a serialized group deserializes");
    assert_eq!(group, again, "container group changed in a JSON round trip");
    let text_again = serde_json::to_vec(&again).expect("a deserialized group serializes");
    assert_eq!(
        text, text_again,
        "container group serialized differently twice"
    );
}

/// Arbitrary bytes as a Pod's JSON: translation never panics, and a translated group has a
/// valid name, containers with valid names and resources on ACI's steps, at most one zone,
/// only well-formed user-assigned identities, and Spot only in a shape ACI takes (no IP
/// address, no subnet, not confidential, no GPU); its hook plan names its containers.
///
/// # Panics
///
/// When translation panics or produces an invalid group: a bug in the translator.
pub fn pod_json(data: &[u8]) {
    use k8s_openapi::api::core::v1::Pod;

    let Ok(pod) = serde_json::from_slice::<Pod>(data) else {
        return;
    };
    let objects = crate::ReferencedObjects::default();
    let Ok(translation) = crate::translate_pod(&pod, &objects, &crate::NodeOptions::default())
    else {
        return;
    };
    assert!(
        crate::names::is_valid_container_group_name(&translation.name),
        "invalid group name {:?}",
        translation.name
    );
    for container in &translation.container_group.properties.containers {
        assert!(
            crate::names::is_valid_container_group_name(&container.name),
            "invalid container name {:?}",
            container.name
        );
        let requests = &container
            .properties
            .resources
            .as_ref()
            .expect("translated containers have resources")
            .requests;
        assert!(requests.cpu >= 0.01 && requests.cpu <= crate::resources::MAX_GROUP_CPU);
        assert!(
            requests.memory_in_gb >= 0.1
                && requests.memory_in_gb <= crate::resources::MAX_GROUP_MEMORY_IN_GB
        );
    }
    placement_invariants(&translation);
}

/// What [`pod_json`] checks of zones, identities, Spot and hooks.
fn placement_invariants(translation: &crate::Translation) {
    use crate::container_group::{ContainerGroupPriority, ContainerGroupSku};

    let group = &translation.container_group;
    let properties = &group.properties;
    assert!(group.zones.len() <= 1, "several zones {:?}", group.zones);
    for id in group
        .identity
        .iter()
        .flat_map(|i| i.user_assigned_identities.keys())
    {
        assert!(
            crate::identity::is_user_assigned_identity_id(id),
            "malformed identity {id:?}"
        );
    }
    if properties.priority == Some(ContainerGroupPriority::Spot) {
        assert!(properties.ip_address.is_none() && properties.subnet_ids.is_empty());
        assert!(properties.sku != Some(ContainerGroupSku::Confidential));
        assert!(properties.containers.iter().all(|c| {
            c.properties
                .resources
                .as_ref()
                .is_none_or(|r| r.requests.gpu.is_none())
        }));
    }
    for hooks in &translation.hooks.containers {
        assert!(
            properties
                .containers
                .iter()
                .any(|c| c.name == hooks.container),
            "hook plan names unknown container {:?}",
            hooks.container
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pod_with_every_placement_setting_should_pass_the_invariants() {
        let pod = serde_json::json!({
            "metadata": {"name": "p", "annotations": {
                "vk-aci.io/spot": "true",
                "vk-aci.io/managed-identities": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
            }},
            "spec": {
                "nodeSelector": {"topology.kubernetes.io/zone": "westus-2"},
                "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                    "lifecycle": {"preStop": {"sleep": {"seconds": 3}}}}]
            }
        });
        super::pod_json(&serde_json::to_vec(&pod).unwrap());
    }
}
