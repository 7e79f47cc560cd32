//! ARM access tokens at run time: the credential's token source (a fixed token, client
//! credentials against Entra ID, or the Azure SDK's credentials) and a cache that refreshes
//! before expiry.
use std::fmt;
use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::{Duration, Instant};

use super::error::CredentialError;
use super::selection::{AzureSettings, CredentialChoice};

/// Refresh a cached token this long before it expires (the Azure SDKs use 5 minutes).
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

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
    /// [`super::Cloud::metrics_scope`]), with a cache of its own. A fixed token stays as it is.
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
