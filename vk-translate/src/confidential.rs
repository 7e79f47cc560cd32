//! Confidential container groups, with the upstream provider's annotations unchanged.
//!
//! [`CONTAINER_SKU_ANNOTATION`] `Confidential` runs the pod as a `sku: Confidential` group (a
//! hardware-based trusted execution environment, AMD SEV-SNP); a base64 policy in
//! [`CCE_POLICY_ANNOTATION`] becomes `confidentialComputeProperties.ccePolicy` and implies the
//! SKU, as upstream does. What a confidential group cannot have is refused or dropped here
//! with a message, never sent for ARM to reject:
//!
//! - Windows: "Confidential containers on Azure Container Instances currently doesn't
//!   support Windows containers" (ACI FAQ).
//! - GPUs: ACI offers GPU SKUs to Standard groups only (`capabilities` lists GPUs under
//!   the Standard SKU; confidential groups run on SEV-SNP CPUs).
//! - Spot priority: "Only the Standard SKU is supported for Spot"
//!   (`SpotPriorityContainerGroupNotSupportedInSku`, ACI's Spot error codes).
//! - Extensions (kube-proxy, realtime metrics): the policy fixes what runs in the group and
//!   the platform adds no sidecars to it; they are dropped with a warning, so the pod
//!   cannot reach cluster Services through kube-proxy.

use base64::Engine as _;
use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{
    ConfidentialComputeProperties, ContainerGroupProperties, ContainerGroupSku,
    OperatingSystemTypes,
};
use crate::error::Findings;

/// Pod annotation choosing the group's SKU (upstream provider's): `Confidential` or
/// `Standard`, case-insensitive.
pub const CONTAINER_SKU_ANNOTATION: &str = "virtual-kubelet.io/container-sku";
/// Pod annotation holding the base64 confidential computing enforcement policy (upstream
/// provider's); it implies the `Confidential` SKU.
pub const CCE_POLICY_ANNOTATION: &str = "virtual-kubelet.io/confidential-compute-cce-policy";

/// The SKU and confidential properties the pod's annotations ask for (`None`: ACI's
/// default, Standard).
pub(crate) fn sku(
    pod: &k8s::Pod,
    findings: &mut Findings,
) -> (
    Option<ContainerGroupSku>,
    Option<ConfidentialComputeProperties>,
) {
    let annotations = pod.metadata.annotations.as_ref();
    let sku_field = format!("metadata.annotations['{CONTAINER_SKU_ANNOTATION}']");
    let policy_field = format!("metadata.annotations['{CCE_POLICY_ANNOTATION}']");
    let sku = annotations
        .and_then(|a| a.get(CONTAINER_SKU_ANNOTATION))
        .map(|s| s.trim());
    let policy = annotations
        .and_then(|a| a.get(CCE_POLICY_ANNOTATION))
        .map(|p| p.trim())
        .filter(|p| !p.is_empty());
    let chosen = match sku {
        None | Some("") => None,
        Some(s) if s.eq_ignore_ascii_case("confidential") => Some(ContainerGroupSku::Confidential),
        Some(s) if s.eq_ignore_ascii_case("standard") => Some(ContainerGroupSku::Standard),
        Some(other) => {
            findings.invalid(
                &*sku_field,
                format!("unknown container group sku {other:?}: use Confidential or Standard"),
            );
            None
        }
    };
    let Some(policy) = policy else {
        return (chosen, None);
    };
    if chosen == Some(ContainerGroupSku::Standard) {
        findings.invalid(
            &*policy_field,
            format!("a confidential computing policy needs the Confidential sku, but {CONTAINER_SKU_ANNOTATION} is Standard"),
        );
        return (chosen, None);
    }
    if base64::engine::general_purpose::STANDARD
        .decode(policy)
        .is_err()
    {
        findings.invalid(&*policy_field, "the policy is not valid base64");
        return (Some(ContainerGroupSku::Confidential), None);
    }
    (
        Some(ContainerGroupSku::Confidential),
        Some(ConfidentialComputeProperties {
            cce_policy: Some(policy.to_owned()),
        }),
    )
}

/// Refuses or drops what a confidential group cannot have (see the module doc).
pub(crate) fn check(properties: &mut ContainerGroupProperties, findings: &mut Findings) {
    if properties.sku != Some(ContainerGroupSku::Confidential) {
        return;
    }
    let field = format!("metadata.annotations['{CONTAINER_SKU_ANNOTATION}']");
    if properties.os_type == Some(OperatingSystemTypes::Windows) {
        findings.unsupported(
            &*field,
            "ACI runs confidential groups with Linux containers only",
        );
    }
    let gpu = properties.containers.iter().any(|c| {
        c.properties
            .resources
            .as_ref()
            .is_some_and(|r| r.requests.gpu.is_some())
    });
    if gpu {
        findings.unsupported(
            &*field,
            "ACI offers GPUs to Standard groups only, not to confidential groups",
        );
    }
    if !properties.extensions.is_empty() {
        let names: Vec<&str> = properties
            .extensions
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        findings.warn(
            &*field,
            format!(
                "confidential groups take no extensions: {} dropped (the pod cannot reach cluster Services through kube-proxy)",
                names.join(", ")
            ),
        );
        properties.extensions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn annotated(pairs: &[(&str, &str)]) -> k8s::Pod {
        k8s::Pod {
            metadata: ObjectMeta {
                annotations: Some(
                    pairs
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..k8s::Pod::default()
        }
    }

    #[test]
    fn a_policy_should_imply_the_confidential_sku() {
        let mut findings = Findings::default();
        let (sku, props) = sku(
            &annotated(&[(CCE_POLICY_ANNOTATION, "eyJhbGxvd19hbGwiOiB0cnVlfQ==")]),
            &mut findings,
        );
        assert_eq!(sku, Some(ContainerGroupSku::Confidential));
        assert!(props.unwrap().cce_policy.is_some());
        assert!(findings.errors.is_empty());
    }

    #[test]
    fn a_policy_with_the_standard_sku_or_not_base64_should_be_refused() {
        for pairs in [
            &[
                (CONTAINER_SKU_ANNOTATION, "Standard"),
                (CCE_POLICY_ANNOTATION, "eyJ9"),
            ][..],
            &[(CCE_POLICY_ANNOTATION, "not base64!")][..],
            &[(CONTAINER_SKU_ANNOTATION, "Gold")][..],
        ] {
            let mut findings = Findings::default();
            let _ = sku(&annotated(pairs), &mut findings);
            assert_eq!(findings.errors.len(), 1, "{pairs:?}");
        }
    }
}
