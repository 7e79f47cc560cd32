//! PersistentVolumeClaims a pod mounts: the claims, the volumes they are bound to and the
//! Secrets those volumes name, read before the provider is called.
//!
//! The kubelet waits for a claim to be Bound before it starts a pod (the scheduler, in
//! fact, waits first); a virtual node gets pods the scheduler placed, so it does the
//! waiting itself: a claim that is missing or not Bound keeps the pod Pending with a
//! retryable [`PodFailure`] and the runtime tries again with backoff until it binds.
//! Which Secrets a volume needs is the provider's call ([`Provider::volume_secrets`]):
//! drivers keep credentials in different places, and this crate knows no driver.
//!
//! [`Provider::volume_secrets`]: crate::provider::Provider::volume_secrets
use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Secret};
use kube::api::Api;

use super::status::PodFailure;
use crate::api_call::{ApiCall, api_call};
use crate::metrics::Metrics;
use crate::provider::{PodResources, SharedProvider};

/// The reason a pod shows while one of its claims is not Bound yet.
pub const PERSISTENT_VOLUME_CLAIM_NOT_BOUND: &str = "PersistentVolumeClaimNotBound";

/// The claim phase of a claim bound to a volume.
const BOUND: &str = "Bound";
/// The claim phase of a claim whose volume is gone.
const LOST: &str = "Lost";

/// The reason for a claim, volume or Secret that cannot be read (the resolver's reason for
/// missing references).
const CONFIG_ERROR: &str = "CreateContainerConfigError";

/// The names of the claims the pod's volumes use (in the pod's namespace).
pub(crate) fn claim_names(pod: &Pod) -> BTreeSet<String> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.clone())
        .filter(|n| !n.is_empty())
        .collect()
}

/// The message of a claim that is not Bound.
fn not_bound(ns: &str, name: &str, phase: Option<&str>) -> PodFailure {
    PodFailure::retry(
        PERSISTENT_VOLUME_CLAIM_NOT_BOUND,
        format!(
            "persistentvolumeclaim \"{name}\" in namespace \"{ns}\" is not bound (phase {}); \
             the pod starts once it is",
            phase.unwrap_or("Pending")
        ),
    )
}

fn unreadable(what: &str, e: &crate::error::RuntimeError) -> PodFailure {
    PodFailure::retry(CONFIG_ERROR, format!("could not read {what}: {e}"))
}

/// Read the pod's claims, their volumes and the volumes' Secrets into `out`.
pub(crate) async fn resolve(
    client: &kube::Client,
    metrics: &Metrics,
    provider: &SharedProvider,
    pod: &Pod,
    out: &mut PodResources,
) -> Result<(), PodFailure> {
    let names = claim_names(pod);
    if names.is_empty() {
        return Ok(());
    }
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    for name in &names {
        let claim = api_call(metrics, ApiCall::ReadReference, claims.get_opt(name))
            .await
            .map_err(|e| unreadable(&format!("persistentvolumeclaim \"{name}\""), &e))?
            .ok_or_else(|| {
                PodFailure::retry(
                    PERSISTENT_VOLUME_CLAIM_NOT_BOUND,
                    format!("persistentvolumeclaim \"{name}\" not found in namespace \"{ns}\""),
                )
            })?;
        let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
        if phase == Some(LOST) {
            // Its volume is gone for good: the provider refuses the pod; no point waiting.
            out.persistent_volume_claims.insert(name.clone(), claim);
            continue;
        }
        let volume_name = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .filter(|v| !v.is_empty());
        let Some(volume_name) = volume_name.filter(|_| phase == Some(BOUND)) else {
            return Err(not_bound(&ns, name, phase));
        };
        let volume = api_call(
            metrics,
            ApiCall::ReadReference,
            volumes.get_opt(&volume_name),
        )
        .await
        .map_err(|e| unreadable(&format!("persistentvolume \"{volume_name}\""), &e))?
        .ok_or_else(|| {
            PodFailure::retry(
                PERSISTENT_VOLUME_CLAIM_NOT_BOUND,
                format!(
                    "persistentvolume \"{volume_name}\" of persistentvolumeclaim \"{name}\" \
                         not found"
                ),
            )
        })?;
        for (secret_ns, secret_name) in provider.volume_secrets(&volume, &ns) {
            let key = format!("{secret_ns}/{secret_name}");
            if out.volume_secrets.contains_key(&key) {
                continue;
            }
            let secrets: Api<Secret> = Api::namespaced(client.clone(), &secret_ns);
            let secret = api_call(
                metrics,
                ApiCall::ReadReference,
                secrets.get_opt(&secret_name),
            )
            .await
            .map_err(|e| unreadable(&format!("secret \"{key}\""), &e))?
            .ok_or_else(|| {
                PodFailure::retry(
                    CONFIG_ERROR,
                    format!(
                        "secret \"{secret_name}\" of persistentvolume \"{volume_name}\" not \
                             found in namespace \"{secret_ns}\""
                    ),
                )
            })?;
            out.volume_secrets.insert(key, secret);
        }
        out.persistent_volumes.insert(volume_name, volume);
        out.persistent_volume_claims.insert(name.clone(), claim);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_names_should_come_from_persistent_volume_claim_volumes_only() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {
                "containers": [{"name": "app"}],
                "volumes": [
                    {"name": "a", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "b", "persistentVolumeClaim": {"claimName": "data", "readOnly": true}},
                    {"name": "c", "emptyDir": {}},
                ],
            },
        }))
        .unwrap();
        assert_eq!(claim_names(&pod).into_iter().collect::<Vec<_>>(), ["data"]);
    }
}
