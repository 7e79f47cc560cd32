//! Access tokens for ARM: which credential to use (a pure decision from the environment and
//! the upstream provider's credential files) and a cache that refreshes before expiry.
//!
//! Selection follows the upstream provider (`AZURE_AUTH_LOCATION`, then
//! `AKS_CREDENTIAL_LOCATION` replacing everything, then non-empty `AZURE_*` variables) and,
//! past that, the Azure SDKs' environment order: client secret, workload identity
//! (`AZURE_FEDERATED_TOKEN_FILE`), managed identity (optionally user-assigned). The SDKs'
//! `AZURE_TOKEN_CREDENTIALS` variable picks one credential by name (`dev` or
//! `AzureCliCredential` selects the Azure CLI). A static token is for the emulator and tests.
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::{Duration, Instant};

/// Refresh a cached token this long before it expires (the Azure SDKs use 5 minutes).
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The settings do not name a usable credential.
    #[error("no usable azure credential: {0}")]
    NotConfigured(String),
    /// A credential file could not be read or parsed.
    #[error("cannot read credential file {path}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong (never the file's content).
        #[source]
        source: std::io::Error,
    },
    /// The cloud name in `azure.json` is not one we know.
    #[error(
        "unknown azure cloud {0:?} (expected AzurePublicCloud, AzureUSGovernmentCloud or AzureChinaCloud)"
    )]
    UnknownCloud(String),
    /// The identity library or token endpoint refused.
    #[error("token request failed: {0}")]
    Token(String),
}

// === Inputs ===

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

    fn sdk(&self) -> azure_core::cloud::CloudConfiguration {
        match self {
            Self::Public => azure_core::cloud::CloudConfiguration::AzurePublic,
            Self::UsGovernment => azure_core::cloud::CloudConfiguration::AzureGovernment,
            Self::China => azure_core::cloud::CloudConfiguration::AzureChina,
        }
    }
}

/// `AZURE_AUTH_LOCATION`'s JSON file (the upstream chart's `credentials.json`).
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthFile {
    /// Service principal client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Service principal secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Subscription.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// Tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// A user-assigned managed identity's client id.
    #[serde(default)]
    pub user_identity_client_id: Option<String>,
}

impl fmt::Debug for AuthFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFile")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("subscription_id", &self.subscription_id)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

/// AKS's `azure.json` (`AKS_CREDENTIAL_LOCATION`).
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AksCredentialFile {
    /// `AzurePublicCloud`, `AzureUSGovernmentCloud` or `AzureChinaCloud`.
    #[serde(default)]
    pub cloud: String,
    /// Tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Subscription.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// Client id; `msi` (any case) means none.
    #[serde(default)]
    pub aad_client_id: Option<String>,
    /// Client secret.
    #[serde(default)]
    pub aad_client_secret: Option<String>,
    /// The resource group for container groups.
    #[serde(default)]
    pub resource_group: Option<String>,
    /// The region.
    #[serde(default)]
    pub location: Option<String>,
    /// The cluster's VNet (VNet mode, when `ACI_VNET_NAME` is unset).
    #[serde(default)]
    pub vnet_name: Option<String>,
    /// The VNet's resource group (when `ACI_VNET_RESOURCE_GROUP` is unset).
    #[serde(default)]
    pub vnet_resource_group: Option<String>,
    /// A user-assigned managed identity's client id.
    #[serde(default, rename = "userAssignedIdentityID")]
    pub user_assigned_identity_id: Option<String>,
}

impl fmt::Debug for AksCredentialFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AksCredentialFile")
            .field("cloud", &self.cloud)
            .field("aad_client_id", &self.aad_client_id)
            .field("resource_group", &self.resource_group)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

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

fn parse_json_file<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, CredentialError> {
    let path = PathBuf::from(path);
    let bytes = std::fs::read(&path).map_err(|source| CredentialError::File {
        path: path.clone(),
        source,
    })?;
    let text = decode_text(&bytes).ok_or_else(|| CredentialError::File {
        path: path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not utf-8 or utf-16"),
    })?;
    serde_json::from_str(&text).map_err(|e| CredentialError::File {
        path,
        // The parser's message names line and column, never the secret values.
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    })
}

/// UTF-8 (optionally with a BOM), or UTF-16 LE/BE with a BOM, as the upstream file reader
/// accepts.
#[must_use]
pub fn decode_text(bytes: &[u8]) -> Option<String> {
    let utf16 = |chunks: &mut dyn Iterator<Item = u16>| {
        String::from_utf16(&chunks.collect::<Vec<_>>()).ok()
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8(rest.to_vec()).ok(),
        [0xFF, 0xFE, rest @ ..] => utf16(
            &mut rest
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]])),
        ),
        [0xFE, 0xFF, rest @ ..] => utf16(
            &mut rest
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        ),
        _ => String::from_utf8(bytes.to_vec()).ok(),
    }
}

/// A value from a credential file: empty and the chart's `MISSING` placeholder count as
/// absent.
fn present(value: Option<&String>) -> Option<String> {
    value
        .filter(|v| !v.is_empty() && v.as_str() != "MISSING")
        .cloned()
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

/// Read the environment and credential files, choose, and build the credential: what a
/// binary calls at start-up.
///
/// # Errors
/// Unreadable files, no usable credential, or settings the identity library rejects.
pub fn from_environment() -> Result<(AzureSettings, ArmCredential), CredentialError> {
    let settings = choose(&CredentialInputs::from_env()?)?;
    let credential = ArmCredential::from_settings(&settings)?;
    Ok((settings, credential))
}

// === Runtime ===

/// An access token with its refresh deadline.
#[derive(Clone)]
struct CachedToken {
    token: Secret,
    refresh_at: Instant,
    expires_at: Instant,
}

/// The longest a token request may take before the call that needs it fails.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where tokens come from.
enum Source {
    Static(Secret),
    Sdk {
        credential: Arc<dyn TokenCredential>,
        scope: String,
    },
    ClientCredentials {
        http: reqwest::Client,
        token_url: String,
        client_id: String,
        secret: Secret,
        scope: String,
    },
}

/// Access tokens for ARM, cached and refreshed [`REFRESH_BEFORE_EXPIRY`] before expiry.
pub struct ArmCredential {
    source: Arc<Source>,
    cache: Arc<std::sync::Mutex<Option<CachedToken>>>,
    /// Held by the one request fetching a token.
    refresh: Arc<Mutex<()>>,
}

impl fmt::Debug for ArmCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.source.as_ref() {
            Source::Static(_) => "static",
            Source::Sdk { .. } => "azure_identity",
            Source::ClientCredentials { .. } => "client_credentials",
        };
        f.debug_struct("ArmCredential")
            .field("source", &kind)
            .finish_non_exhaustive()
    }
}

// === impl ArmCredential ===

impl ArmCredential {
    /// A fixed token (the emulator accepts any; tests pass one to check it never leaks).
    #[must_use]
    pub fn fixed(token: impl Into<String>) -> Self {
        Self {
            source: Arc::new(Source::Static(Secret::new(token.into()))),
            cache: Arc::default(),
            refresh: Arc::default(),
        }
    }

    /// The OAuth2 client-credentials flow against `authority` (`{authority}/{tenant}/oauth2/v2.0/token`),
    /// used for non-default authorities such as the emulator's token endpoint.
    #[must_use]
    pub fn client_credentials(
        authority: &str,
        tenant_id: &str,
        client_id: String,
        secret: Secret,
        scope: String,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            source: Arc::new(Source::ClientCredentials {
                http,
                token_url: format!(
                    "{}/{tenant_id}/oauth2/v2.0/token",
                    authority.trim_end_matches('/')
                ),
                client_id,
                secret,
                scope,
            }),
            cache: Arc::default(),
            refresh: Arc::default(),
        }
    }

    /// Build the credential `settings` chose.
    ///
    /// # Errors
    /// The identity library rejected the settings.
    pub fn from_settings(settings: &AzureSettings) -> Result<Self, CredentialError> {
        let scope = settings.cloud.scope();
        let sdk_err = |e: azure_core::Error| CredentialError::Token(e.to_string());
        let client_options = azure_core::http::ClientOptions {
            cloud: Some(Arc::new(settings.cloud.sdk())),
            ..Default::default()
        };
        let credential: Arc<dyn TokenCredential> = match &settings.credential {
            CredentialChoice::ClientSecret {
                tenant_id,
                client_id,
                secret,
                authority_host: Some(authority),
            } => {
                return Ok(Self::client_credentials(
                    authority,
                    tenant_id,
                    client_id.clone(),
                    secret.clone(),
                    scope,
                ));
            }
            CredentialChoice::ClientSecret {
                tenant_id,
                client_id,
                secret,
                authority_host: None,
            } => azure_identity::ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                secret.clone(),
                Some(azure_identity::ClientSecretCredentialOptions { client_options }),
            )
            .map_err(sdk_err)?,
            CredentialChoice::WorkloadIdentity {
                tenant_id,
                client_id,
                token_file,
            } => {
                let mut options = azure_identity::WorkloadIdentityCredentialOptions {
                    client_id: Some(client_id.clone()),
                    tenant_id: Some(tenant_id.clone()),
                    token_file_path: Some(token_file.clone()),
                    ..Default::default()
                };
                options.credential_options.client_options = client_options;
                azure_identity::WorkloadIdentityCredential::new(Some(options)).map_err(sdk_err)?
            }
            CredentialChoice::ManagedIdentity { client_id } => {
                azure_identity::ManagedIdentityCredential::new(Some(
                    azure_identity::ManagedIdentityCredentialOptions {
                        user_assigned_id: client_id
                            .clone()
                            .map(azure_identity::UserAssignedId::ClientId),
                        client_options,
                    },
                ))
                .map_err(sdk_err)?
            }
            CredentialChoice::AzureCli => {
                azure_identity::AzureCliCredential::new(None).map_err(sdk_err)?
            }
        };
        Ok(Self {
            source: Arc::new(Source::Sdk { credential, scope }),
            cache: Arc::default(),
            refresh: Arc::default(),
        })
    }

    /// The same identity asking for tokens of another audience (`scope`, e.g.
    /// [`Cloud::metrics_scope`]), with a cache of its own. A fixed token stays as it is.
    #[must_use]
    pub fn with_scope(&self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        let source = match self.source.as_ref() {
            Source::Static(token) => Source::Static(token.clone()),
            Source::Sdk { credential, .. } => Source::Sdk {
                credential: credential.clone(),
                scope,
            },
            Source::ClientCredentials {
                http,
                token_url,
                client_id,
                secret,
                ..
            } => Source::ClientCredentials {
                http: http.clone(),
                token_url: token_url.clone(),
                client_id: client_id.clone(),
                secret: secret.clone(),
                scope,
            },
        };
        Self {
            source: Arc::new(source),
            cache: Arc::default(),
            refresh: Arc::default(),
        }
    }

    /// A valid access token, from the cache while it is fresh.
    ///
    /// One request fetches at a time, within [`TOKEN_TIMEOUT`]. A token due for refresh
    /// but still valid is answered at once while the refresh runs in the background, so
    /// no call waits behind a slow identity provider it does not need.
    ///
    /// # Errors
    /// The token source failed or timed out; the message never contains a secret.
    pub async fn token(&self) -> Result<Secret, CredentialError> {
        if let Source::Static(token) = self.source.as_ref() {
            return Ok(token.clone());
        }
        let now = Instant::now();
        match self.cached() {
            Some(c) if now < c.refresh_at => return Ok(c.token),
            Some(c) if now < c.expires_at => {
                if let Ok(guard) = self.refresh.clone().try_lock_owned()
                    && let Ok(runtime) = tokio::runtime::Handle::try_current()
                {
                    let (source, cache) = (self.source.clone(), self.cache.clone());
                    runtime.spawn(async move {
                        let _guard = guard;
                        match fetch(&source).await {
                            Ok(fetched) => {
                                store(&cache, fetched);
                            }
                            Err(e) => tracing::warn!(error = %e, "token refresh failed; the current token is used until it expires"),
                        }
                    });
                }
                return Ok(c.token);
            }
            _ => {}
        }
        let _guard = self.refresh.lock().await;
        if let Some(c) = self.cached().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token);
        }
        let fetched = fetch(&self.source).await?;
        Ok(store(&self.cache, fetched))
    }

    /// Forget the cached token (ARM refused it: rotated or revoked); the next call fetches
    /// a new one.
    pub fn invalidate(&self) {
        *self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    fn cached(&self) -> Option<CachedToken> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Fetch a token from `source` within [`TOKEN_TIMEOUT`]: the token and its lifetime.
async fn fetch(source: &Source) -> Result<(Secret, Duration), CredentialError> {
    let request = async {
        match source {
            Source::Static(token) => Ok((token.clone(), Duration::from_secs(u64::from(u32::MAX)))),
            Source::Sdk { credential, scope } => {
                let token = credential
                    .get_token(&[scope.as_str()], None)
                    .await
                    .map_err(|e| CredentialError::Token(e.to_string()))?;
                let left = token.expires_on - azure_core::time::OffsetDateTime::now_utc();
                let lifetime =
                    Duration::from_secs(u64::try_from(left.whole_seconds()).unwrap_or(0));
                Ok((token.token, lifetime))
            }
            Source::ClientCredentials {
                http,
                token_url,
                client_id,
                secret,
                scope,
            } => fetch_client_credentials(http, token_url, client_id, secret, scope).await,
        }
    };
    tokio::time::timeout(TOKEN_TIMEOUT, request)
        .await
        .map_err(|_| CredentialError::Token(format!("no token within {TOKEN_TIMEOUT:?}")))?
}

/// Cache a fetched token and return it.
fn store(
    cache: &std::sync::Mutex<Option<CachedToken>>,
    (token, lifetime): (Secret, Duration),
) -> Secret {
    let now = Instant::now();
    let cached = CachedToken {
        token: token.clone(),
        refresh_at: now + lifetime.saturating_sub(REFRESH_BEFORE_EXPIRY),
        expires_at: now + lifetime,
    };
    *cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cached);
    token
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

async fn fetch_client_credentials(
    http: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    secret: &Secret,
    scope: &str,
) -> Result<(Secret, Duration), CredentialError> {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret.secret()),
        ("scope", scope),
    ];
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = http
        .post(token_url)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
        .map_err(|e| CredentialError::Token(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(CredentialError::Token(format!(
            "token endpoint answered {status}"
        )));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| CredentialError::Token(e.without_url().to_string()))?;
    let parsed: TokenResponse = serde_json::from_slice(&bytes)
        .map_err(|_| CredentialError::Token("token endpoint answered no access_token".into()))?;
    Ok((
        Secret::new(parsed.access_token),
        Duration::from_secs(parsed.expires_in.unwrap_or(3600)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(vars: &[(&str, &str)]) -> CredentialInputs {
        CredentialInputs {
            env: vars
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn client_id_and_secret_should_choose_client_secret() {
        let s = choose(&inputs(&[
            ("AZURE_CLIENT_ID", "app"),
            ("AZURE_CLIENT_SECRET", "s3cret"),
            ("AZURE_TENANT_ID", "t"),
        ]))
        .unwrap();
        assert!(
            matches!(s.credential, CredentialChoice::ClientSecret { ref client_id, .. } if client_id == "app")
        );
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "Debug must not show the secret"
        );
    }

    #[test]
    fn federated_token_file_should_choose_workload_identity() {
        let s = choose(&inputs(&[
            ("AZURE_CLIENT_ID", "app"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
        ]))
        .unwrap();
        assert_eq!(
            s.credential,
            CredentialChoice::WorkloadIdentity {
                tenant_id: "t".into(),
                client_id: "app".into(),
                token_file: "/var/run/token".into()
            }
        );
    }

    #[test]
    fn nothing_set_should_choose_system_assigned_managed_identity() {
        let s = choose(&inputs(&[])).unwrap();
        assert_eq!(
            s.credential,
            CredentialChoice::ManagedIdentity { client_id: None }
        );
        assert_eq!(s.cloud, Cloud::Public);
    }

    #[test]
    fn user_identity_should_choose_user_assigned_managed_identity() {
        let s = choose(&inputs(&[("VIRTUALNODE_USER_IDENTITY_CLIENTID", "uid")])).unwrap();
        assert_eq!(
            s.credential,
            CredentialChoice::ManagedIdentity {
                client_id: Some("uid".into())
            }
        );
    }

    #[test]
    fn azure_token_credentials_dev_should_choose_the_cli() {
        let s = choose(&inputs(&[("AZURE_TOKEN_CREDENTIALS", "dev")])).unwrap();
        assert_eq!(s.credential, CredentialChoice::AzureCli);
        assert!(choose(&inputs(&[("AZURE_TOKEN_CREDENTIALS", "Bogus")])).is_err());
    }

    #[test]
    fn aks_file_should_replace_the_auth_file_and_set_the_cloud() {
        let mut i = inputs(&[]);
        i.auth_file = Some(AuthFile {
            client_id: Some("from-auth".into()),
            client_secret: Some("x".into()),
            tenant_id: Some("t1".into()),
            ..Default::default()
        });
        i.aks_file = Some(AksCredentialFile {
            cloud: "AzureUSGovernmentCloud".into(),
            aad_client_id: Some("MSI".into()),
            user_assigned_identity_id: Some("kubelet-id".into()),
            resource_group: Some("rg".into()),
            location: Some("usgovvirginia".into()),
            subscription_id: Some("sub".into()),
            vnet_name: Some("aks-vnet".into()),
            vnet_resource_group: Some("MC_rg".into()),
            ..Default::default()
        });
        let s = choose(&i).unwrap();
        assert_eq!(s.vnet_name.as_deref(), Some("aks-vnet"));
        assert_eq!(s.vnet_resource_group.as_deref(), Some("MC_rg"));
        assert_eq!(s.cloud, Cloud::UsGovernment);
        assert_eq!(
            s.cloud.scope(),
            "https://management.usgovcloudapi.net/.default"
        );
        assert_eq!(s.resource_group.as_deref(), Some("rg"));
        assert_eq!(s.subscription_id.as_deref(), Some("sub"));
        assert_eq!(
            s.credential,
            CredentialChoice::ManagedIdentity {
                client_id: Some("kubelet-id".into())
            }
        );
    }

    #[test]
    fn environment_should_override_files_and_missing_placeholders_count_as_empty() {
        let mut i = inputs(&[
            ("AZURE_CLIENT_SECRET", "env-secret"),
            ("AZURE_TENANT_ID", "t"),
        ]);
        i.auth_file = Some(AuthFile {
            client_id: Some("app".into()),
            client_secret: Some("MISSING".into()),
            tenant_id: Some("MISSING".into()),
            ..Default::default()
        });
        let s = choose(&i).unwrap();
        assert!(
            matches!(s.credential, CredentialChoice::ClientSecret { ref secret, ref tenant_id, .. } if secret.secret() == "env-secret" && tenant_id == "t")
        );
    }

    #[test]
    fn unknown_aks_cloud_should_be_an_error_not_a_panic() {
        let mut i = inputs(&[]);
        i.aks_file = Some(AksCredentialFile::default());
        assert!(matches!(choose(&i), Err(CredentialError::UnknownCloud(_))));
    }

    #[test]
    fn utf16_files_with_a_bom_should_decode() {
        let text = "{\"a\":1}";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(decode_text(&le).as_deref(), Some(text));
        assert_eq!(decode_text(&be).as_deref(), Some(text));
        assert_eq!(decode_text(b"\xEF\xBB\xBF{}").as_deref(), Some("{}"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fixed_token_should_be_returned_as_is() {
        let c = ArmCredential::fixed("tok");
        assert_eq!(c.token().await.unwrap().secret(), "tok");
        assert!(!format!("{c:?}").contains("tok\""));
    }
}
