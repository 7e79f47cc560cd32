//! `vk-aci run`'s Azure settings, read as the upstream provider reads them: the ARM
//! credential (its environment variables, AKS `azure.json` or an SDK auth file), the
//! subscription, resource group and region, and the ARM client built from them.

use tokio::time::Duration;
use vk_aci::arm::credentials::{Cloud, CredentialInputs, choose};
use vk_aci::arm::{ArmConfig, ArmCredential};

use crate::error::BadInput;
use crate::flag_values::non_empty;
use crate::run_args::RunArgs;

/// The subscription of `--aci-endpoint` runs without `AZURE_SUBSCRIPTION_ID`: the one
/// `vk-aci local` gives its emulator (`vk_aci::local::SUBSCRIPTION`, which a test keeps
/// equal; that module is not in builds without the `local` feature).
pub(crate) const ENDPOINT_SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";

/// Where and as whom the node's container groups are managed.
pub(crate) struct AzureSettings {
    /// The ARM credential.
    pub(crate) credential: ArmCredential,
    /// Subscription ID.
    pub(crate) subscription: String,
    /// Resource group of the container groups.
    pub(crate) resource_group: String,
    /// Region, lower case without spaces (`westeurope`).
    pub(crate) region: String,
    /// VNet name and resource group from the credentials file.
    pub(crate) vnet: (Option<String>, Option<String>),
    /// The Azure cloud.
    pub(crate) cloud: Cloud,
}

/// The credential, subscription, resource group and region from the flags, the upstream
/// environment variables and the credentials file (fixed ones for `--aci-endpoint`).
pub(crate) fn azure_settings(args: &RunArgs) -> Result<AzureSettings, BadInput> {
    let (credential, subscription, settings_rg, settings_region, settings_vnet, cloud) = match &args
        .aci_endpoint
    {
        Some(endpoint) => {
            let subscription = std::env::var("AZURE_SUBSCRIPTION_ID")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| ENDPOINT_SUBSCRIPTION.to_owned());
            let _ = endpoint;
            (
                ArmCredential::fixed("emulator"),
                subscription,
                None,
                None,
                (None, None),
                Cloud::Public,
            )
        }
        None => {
            let inputs = CredentialInputs::from_env()
                .map_err(|e| BadInput(format!("azure credentials: {e}")))?;
            let settings =
                choose(&inputs).map_err(|e| BadInput(format!("azure credentials: {e}")))?;
            let credential = ArmCredential::from_settings(&settings)
                .map_err(|e| BadInput(format!("azure credentials: {e}")))?;
            let subscription = settings.subscription_id.clone().ok_or_else(|| {
                BadInput(
                    "no Azure subscription: set AZURE_SUBSCRIPTION_ID (or subscriptionId in the credentials file)"
                        .to_owned(),
                )
            })?;
            (
                credential,
                subscription,
                settings.resource_group.clone(),
                settings.location.clone(),
                (
                    settings.vnet_name.clone(),
                    settings.vnet_resource_group.clone(),
                ),
                settings.cloud.clone(),
            )
        }
    };
    let resource_group = non_empty(args.resource_group.as_ref())
        .or(settings_rg.filter(|s| !s.is_empty()))
        .ok_or_else(|| {
            BadInput("no resource group: set ACI_RESOURCE_GROUP or --resource-group".to_owned())
        })?;
    let region = non_empty(args.region.as_ref())
        .or(settings_region.filter(|s| !s.is_empty()))
        .ok_or_else(|| BadInput("no region: set ACI_REGION or --region".to_owned()))?
        .to_lowercase()
        .replace(' ', "");
    Ok(AzureSettings {
        credential,
        subscription,
        resource_group,
        region,
        vnet: settings_vnet,
        cloud,
    })
}

/// The ARM client settings: `azure`'s scope, the API version, the user agent, and the
/// endpoint of `--aci-endpoint` (polled faster: it is the emulator).
pub(crate) fn arm_config(args: &RunArgs, azure: &AzureSettings) -> ArmConfig {
    let mut arm = ArmConfig::new(
        azure.subscription.clone(),
        azure.resource_group.clone(),
        azure.region.clone(),
    )
    .api_version(&args.api_version);
    if let Some(extra) = non_empty(args.extra_user_agent.as_ref()) {
        arm = arm.extra_user_agent(extra);
    }
    if let Some(endpoint) = &args.aci_endpoint {
        arm = arm
            .base_url(endpoint.clone())
            .lro_poll_interval(Duration::from_millis(250));
    }
    arm
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "local")]
    #[test]
    fn the_endpoint_subscription_should_be_the_one_of_vk_aci_local() {
        assert_eq!(super::ENDPOINT_SUBSCRIPTION, vk_aci::local::SUBSCRIPTION);
    }
}
