//! Which credential to use: a pure decision from the environment variables and the
//! credential files ([`choose`]), in the upstream provider's order and then the Azure SDKs'.
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use azure_core::credentials::Secret;

use super::cloud::Cloud;
use super::error::CredentialError;
use super::files::{AksCredentialFile, AuthFile, parse_json_file, present};

/// Everything credential selection looks at. Build it with [`CredentialInputs::from_env`]
/// in production and by hand in tests.
#[derive(Clone, Debug, Default)]
pub struct CredentialInputs {
    /// The relevant environment variables (see [`ENV_VARS`]).
    pub env: BTreeMap<String, String>,
    /// The parsed `AZURE_AUTH_LOCATION` file, if set.
    pub auth_file: Option<AuthFile>,
    /// The parsed `AKS_CREDENTIAL_LOCATION` file, if set.
    pub aks_file: Option<AksCredentialFile>,
}

/// The environment variables credential selection reads.
pub const ENV_VARS: &[&str] = &[
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_TOKEN_CREDENTIALS",
    "VIRTUALNODE_USER_IDENTITY_CLIENTID",
    "AZURE_AUTH_LOCATION",
    "AKS_CREDENTIAL_LOCATION",
];

/// The credential to use, with the settings the files and environment supplied.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialChoice {
    /// A service principal with a client secret.
    ClientSecret {
        /// Tenant.
        tenant_id: String,
        /// Client id.
        client_id: String,
        /// The secret.
        secret: Secret,
        /// A non-default Entra ID authority (`AZURE_AUTHORITY_HOST`, the emulator).
        authority_host: Option<String>,
    },
    /// Workload identity: a federated Kubernetes token exchanged for an Entra token.
    WorkloadIdentity {
        /// Tenant.
        tenant_id: String,
        /// Client id.
        client_id: String,
        /// The projected service account token file.
        token_file: PathBuf,
    },
    /// Managed identity, user-assigned when a client id is given.
    ManagedIdentity {
        /// The user-assigned identity's client id; system-assigned when `None`.
        client_id: Option<String>,
    },
    /// The developer's Azure CLI login.
    AzureCli,
}

impl fmt::Debug for CredentialChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientSecret {
                tenant_id,
                client_id,
                authority_host,
                ..
            } => f
                .debug_struct("ClientSecret")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("authority_host", authority_host)
                .finish_non_exhaustive(),
            Self::WorkloadIdentity {
                tenant_id,
                client_id,
                token_file,
            } => f
                .debug_struct("WorkloadIdentity")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("token_file", token_file)
                .finish(),
            Self::ManagedIdentity { client_id } => f
                .debug_struct("ManagedIdentity")
                .field("client_id", client_id)
                .finish(),
            Self::AzureCli => f.write_str("AzureCli"),
        }
    }
}

/// The outcome of selection: the credential plus the Azure settings found on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureSettings {
    /// The cloud (Resource Manager endpoint and token scope).
    pub cloud: Cloud,
    /// The subscription, if any source named it.
    pub subscription_id: Option<String>,
    /// The resource group from `azure.json`, if any.
    pub resource_group: Option<String>,
    /// The region from `azure.json`, if any.
    pub location: Option<String>,
    /// The VNet from `azure.json` (`vnetName`), if any.
    pub vnet_name: Option<String>,
    /// The VNet's resource group from `azure.json` (`vnetResourceGroup`), if any.
    pub vnet_resource_group: Option<String>,
    /// The credential.
    pub credential: CredentialChoice,
}

// === impl CredentialInputs ===

impl CredentialInputs {
    /// Read [`ENV_VARS`] and the files they point to.
    ///
    /// # Errors
    /// A named file that cannot be read or parsed.
    pub fn from_env() -> Result<Self, CredentialError> {
        let env: BTreeMap<String, String> = ENV_VARS
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
            .collect();
        let auth_file = match env.get("AZURE_AUTH_LOCATION").filter(|v| !v.is_empty()) {
            Some(path) => Some(parse_json_file(path)?),
            None => None,
        };
        let aks_file = match env.get("AKS_CREDENTIAL_LOCATION").filter(|v| !v.is_empty()) {
            Some(path) => Some(parse_json_file(path)?),
            None => None,
        };
        Ok(Self {
            env,
            auth_file,
            aks_file,
        })
    }

    fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// Choose the credential. Pure: the same inputs always give the same choice.
///
/// # Errors
/// [`CredentialError::NotConfigured`] when the inputs name no usable credential,
/// [`CredentialError::UnknownCloud`] for a bad `azure.json` cloud.
pub fn choose(inputs: &CredentialInputs) -> Result<AzureSettings, CredentialError> {
    let mut cloud = Cloud::Public;
    let mut tenant = None;
    let mut client_id = None;
    let mut secret = None;
    let mut subscription = None;
    let mut user_identity = None;
    let mut resource_group = None;
    let mut location = None;
    let mut vnet_name = None;
    let mut vnet_resource_group = None;

    if let Some(file) = &inputs.auth_file {
        client_id = present(file.client_id.as_ref());
        secret = present(file.client_secret.as_ref());
        subscription = present(file.subscription_id.as_ref());
        tenant = present(file.tenant_id.as_ref());
        user_identity = present(file.user_identity_client_id.as_ref());
    }
    if let Some(aks) = &inputs.aks_file {
        cloud = Cloud::from_aks_name(&aks.cloud)?;
        tenant = present(aks.tenant_id.as_ref());
        subscription = present(aks.subscription_id.as_ref());
        client_id =
            present(aks.aad_client_id.as_ref()).filter(|id| !id.eq_ignore_ascii_case("msi"));
        secret = present(aks.aad_client_secret.as_ref());
        user_identity = present(aks.user_assigned_identity_id.as_ref());
        resource_group = present(aks.resource_group.as_ref());
        location = present(aks.location.as_ref());
        vnet_name = present(aks.vnet_name.as_ref());
        vnet_resource_group = present(aks.vnet_resource_group.as_ref());
    }
    client_id = inputs.var("AZURE_CLIENT_ID").or(client_id);
    secret = inputs.var("AZURE_CLIENT_SECRET").or(secret);
    user_identity = inputs
        .var("VIRTUALNODE_USER_IDENTITY_CLIENTID")
        .or(user_identity);
    tenant = inputs.var("AZURE_TENANT_ID").or(tenant);
    subscription = inputs.var("AZURE_SUBSCRIPTION_ID").or(subscription);
    let token_file = inputs.var("AZURE_FEDERATED_TOKEN_FILE");
    let authority_host = inputs.var("AZURE_AUTHORITY_HOST");

    let settings = |credential| AzureSettings {
        cloud: cloud.clone(),
        subscription_id: subscription.clone(),
        resource_group: resource_group.clone(),
        location: location.clone(),
        vnet_name: vnet_name.clone(),
        vnet_resource_group: vnet_resource_group.clone(),
        credential,
    };
    let missing = |what: &str| CredentialError::NotConfigured(what.to_owned());

    let client_secret = || -> Result<CredentialChoice, CredentialError> {
        Ok(CredentialChoice::ClientSecret {
            tenant_id: tenant
                .clone()
                .ok_or_else(|| missing("AZURE_TENANT_ID is not set"))?,
            client_id: client_id
                .clone()
                .ok_or_else(|| missing("AZURE_CLIENT_ID is not set"))?,
            secret: Secret::new(
                secret
                    .clone()
                    .ok_or_else(|| missing("AZURE_CLIENT_SECRET is not set"))?,
            ),
            authority_host: authority_host.clone(),
        })
    };
    let workload = || -> Result<CredentialChoice, CredentialError> {
        Ok(CredentialChoice::WorkloadIdentity {
            tenant_id: tenant
                .clone()
                .ok_or_else(|| missing("AZURE_TENANT_ID is not set"))?,
            client_id: client_id
                .clone()
                .ok_or_else(|| missing("AZURE_CLIENT_ID is not set"))?,
            token_file: token_file
                .clone()
                .map(PathBuf::from)
                .ok_or_else(|| missing("AZURE_FEDERATED_TOKEN_FILE is not set"))?,
        })
    };
    let managed = || CredentialChoice::ManagedIdentity {
        client_id: user_identity.clone().or_else(|| client_id.clone()),
    };

    let choice = match inputs.var("AZURE_TOKEN_CREDENTIALS").as_deref() {
        Some("dev" | "AzureCliCredential") => CredentialChoice::AzureCli,
        Some("EnvironmentCredential") => client_secret()?,
        Some("WorkloadIdentityCredential") => workload()?,
        Some("ManagedIdentityCredential") => managed(),
        Some(other) if other != "prod" => {
            return Err(missing(&format!(
                "AZURE_TOKEN_CREDENTIALS={other:?} names no supported credential"
            )));
        }
        _ if client_id.is_some() && secret.is_some() => client_secret()?,
        _ if client_id.is_some() && token_file.is_some() => workload()?,
        _ => managed(),
    };
    Ok(settings(choice))
}
