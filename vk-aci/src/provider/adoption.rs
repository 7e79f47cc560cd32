//! Pods of adopted container groups: after a restart, a group listed before the runtime
//! hands over its pod gets a skeleton pod built from the group, enough for status
//! translation.
use k8s_openapi::api::core::v1::{Container as PodContainer, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vk_core::provider::PodKey;
use vk_translate::container_group::ContainerGroup;

/// A pod built from a group (adopted after a restart, before the runtime hands the pod):
/// enough for status translation.
pub(super) fn skeleton_pod(key: &PodKey, uid: Option<String>, group: &ContainerGroup) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(key.name.clone()),
            namespace: Some(key.namespace.clone()),
            uid,
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: group
                .properties
                .containers
                .iter()
                .map(|c| PodContainer {
                    name: c.name.clone(),
                    image: c.properties.image.clone(),
                    ..Default::default()
                })
                .collect(),
            restart_policy: group
                .properties
                .restart_policy
                .as_ref()
                .map(|p| p.as_str().to_owned()),
            ..Default::default()
        }),
        status: None,
    }
}
