//! `vk-aci run`'s placement settings: the availability zones pods may ask for
//! (`--zones` / `ACI_ZONES`) and the identity that pulls images from Azure Container
//! Registry (`--acr-pull-identity` / `ACI_ACR_PULL_IDENTITY`).
use vk_translate::NodeOptions;

use crate::error::BadInput;
use crate::run_args::RunArgs;

/// The zones ACI offers in a zonal region (ACI places a group in zone 1, 2 or 3).
const ZONES: &[&str] = &["1", "2", "3"];

/// The path of a user-assigned identity's ARM ID, after its resource group.
const IDENTITY_PROVIDER: &str = "/providers/microsoft.managedidentity/userassignedidentities/";

/// `node` with the zones and the ACR pull identity of `args`.
pub(crate) fn apply(
    args: &RunArgs,
    region: &str,
    node: NodeOptions,
) -> Result<NodeOptions, BadInput> {
    let mut zones: Vec<String> = Vec::new();
    for raw in args
        .zones
        .iter()
        .map(|z| z.trim())
        .filter(|z| !z.is_empty())
    {
        let zone = zone_number(raw, region).ok_or_else(|| {
            BadInput(format!(
                "ACI_ZONES / --zones {raw:?}: expected a zone number of the region (1, 2 or 3), \
                 or <region>-<number>"
            ))
        })?;
        if !zones.contains(&zone) {
            zones.push(zone);
        }
    }
    let mut node = node.zones(zones);
    if let Some(identity) = args
        .acr_pull_identity
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !is_identity_id(identity) {
            return Err(BadInput(format!(
                "ACI_ACR_PULL_IDENTITY / --acr-pull-identity {identity:?}: expected the ARM ID of a \
                 user-assigned identity (/subscriptions/<id>/resourceGroups/<group>/providers/\
                 Microsoft.ManagedIdentity/userAssignedIdentities/<name>)"
            )));
        }
        node = node.acr_pull_identity(identity);
    }
    Ok(node)
}

/// `"2"` from `"2"` or `"<region>-2"` (the AKS label form, region without spaces).
fn zone_number(raw: &str, region: &str) -> Option<String> {
    let region = region.replace(' ', "").to_ascii_lowercase();
    let lower = raw.to_ascii_lowercase();
    let number = lower.strip_prefix(&format!("{region}-")).unwrap_or(&lower);
    ZONES.contains(&number).then(|| number.to_owned())
}

fn is_identity_id(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("/subscriptions/") else {
        return false;
    };
    let Some((_, name)) = rest.split_once(IDENTITY_PROVIDER) else {
        return false;
    };
    rest.contains("/resourcegroups/") && !name.is_empty() && !name.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::run_args;

    const IDENTITY: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/acr-pull";

    #[test]
    fn zones_should_read_numbers_and_the_aks_label_form() {
        let args = run_args(&["--zones", "1,westeurope-3, 1"]);
        let node = apply(&args, "West Europe", NodeOptions::default()).unwrap();
        assert_eq!(node.zones, ["1", "3"]);
        assert!(node.acr_pull_identity.is_none());
    }

    #[test]
    fn a_zone_outside_the_region_should_name_the_setting() {
        for bad in ["4", "eastus-1", "zone1"] {
            let args = run_args(&["--zones", bad]);
            let e = apply(&args, "westeurope", NodeOptions::default()).unwrap_err();
            assert!(e.0.contains("ACI_ZONES"), "{e:?}");
        }
    }

    #[test]
    fn the_acr_pull_identity_should_be_a_user_assigned_identity_id() {
        let args = run_args(&["--acr-pull-identity", IDENTITY]);
        let node = apply(&args, "westus", NodeOptions::default()).unwrap();
        assert_eq!(node.acr_pull_identity.as_deref(), Some(IDENTITY));
        let args = run_args(&["--acr-pull-identity", "acr-pull"]);
        let e = apply(&args, "westus", NodeOptions::default()).unwrap_err();
        assert!(e.0.contains("ACI_ACR_PULL_IDENTITY"), "{e:?}");
    }
}
