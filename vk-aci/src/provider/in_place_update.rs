//! Which pod updates ACI can take: Kubernetes changes a pod's spec only in place, and ACI
//! takes new container images (with a new PUT) but nothing else, so updates compare pod
//! specs without images, then images (of the pod, or of ARM's group after a restart).
use k8s_openapi::api::core::v1::Pod;
use vk_translate::container_group::ContainerGroup;

/// A pod spec without what may change in place without ACI noticing (images, which are
/// handled, tolerations and the active deadline, which ACI never sees).
pub(super) fn spec_without_images(pod: &Pod) -> Option<serde_json::Value> {
    let mut spec = pod.spec.clone()?;
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        c.image = None;
    }
    spec.tolerations = None;
    spec.active_deadline_seconds = None;
    serde_json::to_value(spec).ok()
}

/// The images of a pod's containers and init containers, in order.
pub(super) fn pod_images(pod: &Pod) -> Vec<Option<String>> {
    pod.spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .map(|c| c.image.clone())
        .collect()
}

/// The images of a group's containers and init containers, in order.
pub(super) fn group_images(group: &ContainerGroup) -> Vec<Option<String>> {
    group
        .properties
        .containers
        .iter()
        .map(|c| c.properties.image.clone())
        .chain(
            group
                .properties
                .init_containers
                .iter()
                .map(|c| c.properties.image.clone()),
        )
        .collect()
}
