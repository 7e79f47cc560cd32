//! A pod's translation into a container group, with what it needs from outside the pod:
//! the objects it references, its images' ENTRYPOINTs, and the kube-proxy credentials.
use k8s_openapi::api::core::v1::Pod;
use vk_core::error_chain;
use vk_core::provider::{PodKey, PodResources, ProviderError, Result};
use vk_translate::ReferencedObjects;

use super::errors;
use super::node_settings::AciConfig;
use crate::images::ImageResolver;

/// Translate `pod` with the objects it references: the images' ENTRYPOINTs read first
/// when there is a resolver, the kube-proxy extension's credentials when configured.
pub(super) async fn translate(
    pod: &Pod,
    resources: &PodResources,
    images: Option<&ImageResolver>,
    config: &AciConfig,
) -> Result<vk_translate::Translation> {
    let objects = ReferencedObjects {
        secrets: resources.secrets.clone(),
        config_maps: resources.config_maps.clone(),
        service_account_tokens: resources.service_account_tokens.clone(),
        persistent_volume_claims: resources.persistent_volume_claims.clone(),
        persistent_volumes: resources.persistent_volumes.clone(),
        volume_secrets: resources.volume_secrets.clone(),
    };
    let images = match images {
        Some(resolver) => resolver
            .resolve_pod(pod, &objects)
            .await
            .map_err(|e| ProviderError::from(&e))?,
        None => vk_translate::ResolvedImages::new(),
    };
    let with_kube_proxy;
    let node = match &config.kube_proxy {
        Some(source) => {
            let options = source.options().await.map_err(|e| {
                ProviderError::transient(
                    "KubeProxyCredentials",
                    format!(
                        "the kube-proxy extension's credentials cannot be obtained: {}",
                        error_chain(&e)
                    ),
                )
            })?;
            with_kube_proxy = config.node.clone().kube_proxy(options);
            &with_kube_proxy
        }
        None => &config.node,
    };
    let translation = vk_translate::translate_pod_with_images(pod, &objects, node, &images)
        .map_err(|e| errors::from_translate(&e))?;
    for warning in &translation.warnings {
        tracing::info!(pod = %PodKey::of(pod), %warning, "translation warning");
    }
    Ok(translation)
}
