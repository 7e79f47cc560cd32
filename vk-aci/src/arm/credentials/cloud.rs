//! The Azure clouds: where Resource Manager, Entra ID and Azure Monitor live in each.
use super::error::CredentialError;

/// The Azure cloud: where ARM and Entra ID live.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cloud {
    /// Azure public cloud.
    #[default]
    Public,
    /// Azure US Government.
    UsGovernment,
    /// Azure China (21Vianet).
    China,
}

impl Cloud {
    /// The cloud named by `azure.json`'s `cloud` field.
    ///
    /// # Errors
    /// [`CredentialError::UnknownCloud`] for any other name, including the empty one.
    pub fn from_aks_name(name: &str) -> Result<Self, CredentialError> {
        match name {
            "AzurePublicCloud" => Ok(Self::Public),
            "AzureUSGovernmentCloud" => Ok(Self::UsGovernment),
            "AzureChinaCloud" => Ok(Self::China),
            other => Err(CredentialError::UnknownCloud(other.to_owned())),
        }
    }

    /// The Resource Manager endpoint.
    #[must_use]
    pub fn resource_manager(&self) -> &'static str {
        match self {
            Self::Public => "https://management.azure.com",
            Self::UsGovernment => "https://management.usgovcloudapi.net",
            Self::China => "https://management.chinacloudapi.cn",
        }
    }

    /// The token scope for Resource Manager.
    #[must_use]
    pub fn scope(&self) -> String {
        format!("{}/.default", self.resource_manager())
    }

    /// The token scope of Azure Monitor's metrics data plane (the batch API's audience).
    #[must_use]
    pub fn metrics_scope(&self) -> String {
        format!("{}/.default", self.metrics_suffix("metrics.monitor"))
    }

    /// The regional Azure Monitor metrics endpoint of `region` (where `metrics:getBatch` is
    /// served), e.g. `https://westeurope.metrics.monitor.azure.com`.
    #[must_use]
    pub fn metrics_endpoint(&self, region: &str) -> String {
        self.metrics_suffix(&format!("{}.metrics.monitor", region.to_lowercase()))
    }

    fn metrics_suffix(&self, host: &str) -> String {
        let tld = match self {
            Self::Public => "azure.com",
            Self::UsGovernment => "azure.us",
            Self::China => "azure.cn",
        };
        format!("https://{host}.{tld}")
    }

    pub(super) fn sdk(&self) -> azure_core::cloud::CloudConfiguration {
        match self {
            Self::Public => azure_core::cloud::CloudConfiguration::AzurePublic,
            Self::UsGovernment => azure_core::cloud::CloudConfiguration::AzureGovernment,
            Self::China => azure_core::cloud::CloudConfiguration::AzureChina,
        }
    }
}
