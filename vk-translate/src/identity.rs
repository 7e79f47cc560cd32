//! Managed identities: a pod's user-assigned identities and the node's ACR pull identity.
//!
//! A pod lists user-assigned identities in [`MANAGED_IDENTITIES_ANNOTATION`]; they become the
//! group's `identity` (`UserAssigned`), so its processes get tokens from the group's managed
//! identity endpoint. The node may also have an identity that pulls from Azure Container
//! Registry ([`NodeOptions::acr_pull_identity`]): every ACR registry of the pod's images that
//! has no pull secret gets an `imageRegistryCredentials` entry with that identity, and the
//! identity is assigned to the group (ACI pulls with an identity of the group only).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{
    ContainerGroupIdentity, ImageRegistryCredential, ResourceIdentityType, UserAssignedIdentities,
};
use crate::error::Findings;
use crate::node::NodeOptions;

/// Pod annotation listing the ARM resource IDs of user-assigned managed identities the
/// group gets, comma-separated.
pub const MANAGED_IDENTITIES_ANNOTATION: &str = "vk-aci.io/managed-identities";

/// Registry host suffixes of Azure Container Registry (public cloud, Azure China, Azure
/// US Government).
pub const ACR_SUFFIXES: [&str; 3] = [".azurecr.io", ".azurecr.cn", ".azurecr.us"];

/// Whether `id` is the ARM resource ID of a user-assigned identity:
/// `/subscriptions/{uuid}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}`,
/// segment names compared without case as ARM does, the resource group 1-90 characters of
/// letters, digits, `-_.()` not ending in `.`, and the name 3-128 characters of letters,
/// digits, `-` and `_` starting with a letter or digit.
#[must_use]
pub fn is_user_assigned_identity_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    let [
        "",
        subscriptions,
        subscription,
        resource_groups,
        group,
        providers,
        namespace,
        kind,
        name,
    ] = parts.as_slice()
    else {
        return false;
    };
    subscriptions.eq_ignore_ascii_case("subscriptions")
        && is_uuid(subscription)
        && resource_groups.eq_ignore_ascii_case("resourceGroups")
        && is_resource_group_name(group)
        && providers.eq_ignore_ascii_case("providers")
        && namespace.eq_ignore_ascii_case("Microsoft.ManagedIdentity")
        && kind.eq_ignore_ascii_case("userAssignedIdentities")
        && is_identity_name(name)
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_resource_group_name(s: &str) -> bool {
    (1..=90).contains(&s.len())
        && !s.ends_with('.')
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
}

fn is_identity_name(s: &str) -> bool {
    (3..=128).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The registry host of an image reference (`myacr.azurecr.io/app:1` -> `myacr.azurecr.io`),
/// lower-cased; `None` for Docker Hub's short names.
fn registry_host(image: &str) -> Option<String> {
    let (first, rest) = image.split_once('/')?;
    (!rest.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost"))
        .then(|| first.to_ascii_lowercase())
}

/// The pod's identities (annotation) plus the node's ACR pull identity when `acr` needs it.
pub(crate) fn group_identity(
    pod: &k8s::Pod,
    acr_pull: Option<&str>,
    findings: &mut Findings,
) -> Option<ContainerGroupIdentity> {
    let mut ids: BTreeMap<String, UserAssignedIdentities> = BTreeMap::new();
    let field = format!("metadata.annotations['{MANAGED_IDENTITIES_ANNOTATION}']");
    if let Some(value) = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MANAGED_IDENTITIES_ANNOTATION))
    {
        let listed: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if listed.is_empty() {
            findings.invalid(&*field, "the annotation lists no identity");
        }
        for id in listed {
            if is_user_assigned_identity_id(id) {
                ids.insert(id.to_owned(), UserAssignedIdentities::default());
            } else {
                findings.invalid(
                    &*field,
                    format!(
                        "{id:?} is not the resource ID of a user-assigned identity (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>)"
                    ),
                );
            }
        }
    }
    if let Some(id) = acr_pull {
        ids.insert(id.to_owned(), UserAssignedIdentities::default());
    }
    (!ids.is_empty()).then(|| ContainerGroupIdentity {
        type_: Some(ResourceIdentityType::UserAssigned),
        user_assigned_identities: ids,
        ..ContainerGroupIdentity::default()
    })
}

/// Adds a credential with the node's ACR pull identity for every ACR registry of the pod's
/// images that `credentials` has no entry for; returns whether any was added. An invalid
/// node identity is an error (a misconfigured node).
pub(crate) fn acr_pull_credentials(
    spec: &k8s::PodSpec,
    node: &NodeOptions,
    credentials: &mut Vec<ImageRegistryCredential>,
    findings: &mut Findings,
) -> bool {
    let Some(identity) = node.acr_pull_identity.as_deref() else {
        return false;
    };
    let images = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter_map(|c| c.image.as_deref());
    let mut added = false;
    for host in images.filter_map(registry_host) {
        if !ACR_SUFFIXES.iter().any(|s| host.ends_with(s))
            || credentials
                .iter()
                .any(|c| c.server.eq_ignore_ascii_case(&host))
        {
            continue;
        }
        if !is_user_assigned_identity_id(identity) {
            findings.invalid(
                "node.acrPullIdentity",
                format!(
                    "{identity:?} is not the resource ID of a user-assigned identity (virtual node misconfiguration)"
                ),
            );
            return false;
        }
        credentials.push(ImageRegistryCredential {
            server: host,
            identity: Some(identity.to_owned()),
            ..ImageRegistryCredential::default()
        });
        added = true;
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pull-id";

    #[test]
    fn identity_ids_should_follow_arm_shape() {
        assert!(is_user_assigned_identity_id(ID));
        assert!(is_user_assigned_identity_id(&ID.to_ascii_lowercase()));
        for bad in [
            "",
            "pull-id",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pull-id",
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg./providers/Microsoft.ManagedIdentity/userAssignedIdentities/pull-id",
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a",
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pull-id/extra",
        ] {
            assert!(!is_user_assigned_identity_id(bad), "{bad}");
        }
    }

    #[test]
    fn registry_hosts_should_skip_docker_hub_short_names() {
        assert_eq!(
            registry_host("MyAcr.azurecr.io/app:1").as_deref(),
            Some("myacr.azurecr.io")
        );
        assert_eq!(registry_host("library/nginx"), None);
        assert_eq!(registry_host("nginx"), None);
        assert_eq!(
            registry_host("localhost:5000/x").as_deref(),
            Some("localhost:5000")
        );
    }
}
