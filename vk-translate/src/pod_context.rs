//! What a translation reads besides the pod's own fields: the objects the pod references
//! ([`ReferencedObjects`], resolved by the caller) and the [`PodContext`] every per-field
//! translator gets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as k8s;

use crate::image_config::ResolvedImages;
use crate::node::NodeOptions;
use crate::resources::Granted;

/// The Secrets, ConfigMaps, tokens and volume claims a pod references, resolved by the
/// caller (mirrors `vk_core::provider::PodResources`).
#[derive(Clone, Debug, Default)]
pub struct ReferencedObjects {
    /// Secrets by name.
    pub secrets: BTreeMap<String, k8s::Secret>,
    /// ConfigMaps by name.
    pub config_maps: BTreeMap<String, k8s::ConfigMap>,
    /// Service account tokens for projected `serviceAccountToken` sources, keyed by
    /// `"<volume name>/<path>"`.
    pub service_account_tokens: BTreeMap<String, String>,
    /// PersistentVolumeClaims of the pod's namespace by name
    /// ([`claims::claim_names`](crate::claims::claim_names) lists the ones to resolve).
    pub persistent_volume_claims: BTreeMap<String, k8s::PersistentVolumeClaim>,
    /// PersistentVolumes by name (the ones the claims are bound to).
    pub persistent_volumes: BTreeMap<String, k8s::PersistentVolume>,
    /// Secrets the PersistentVolumes reference ([`claims::volume_secret`](crate::claims::volume_secret)),
    /// keyed by [`claims::volume_secret_key`](crate::claims::volume_secret_key)
    /// (`"<namespace>/<name>"`); one of the pod's namespace may be in `secrets` instead.
    pub volume_secrets: BTreeMap<String, k8s::Secret>,
}

/// What the per-field translators need to know about the pod.
pub(crate) struct PodContext<'a> {
    pub(crate) pod: &'a k8s::Pod,
    pub(crate) spec: &'a k8s::PodSpec,
    pub(crate) objects: &'a ReferencedObjects,
    pub(crate) node: &'a NodeOptions,
    /// Image configs resolved by the caller.
    pub(crate) images: &'a ResolvedImages,
    /// Resources granted to each container (regular and sidecar), by name.
    pub(crate) granted: BTreeMap<String, Granted>,
}

impl PodContext<'_> {
    pub(crate) fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("default")
    }

    pub(crate) fn node_name(&self) -> &str {
        self.spec
            .node_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.node.node_name)
    }
}

/// A secret's value, from `stringData` (manifests) or `data`.
pub(crate) fn secret_bytes(secret: &k8s::Secret, key: &str) -> Option<Vec<u8>> {
    if let Some(value) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
        return Some(value.clone().into_bytes());
    }
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
}
