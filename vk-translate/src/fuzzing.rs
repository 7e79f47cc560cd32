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
/// valid name and containers with valid names and resources on ACI's steps.
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
}
