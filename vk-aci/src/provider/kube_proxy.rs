//! The kube-proxy extension of VNet mode, with credentials read when each group is built.
//!
//! kube-proxy gets an identity of its own ([`ServiceAccountTokens`]): a token vk-aci
//! requests (TokenRequest API) for the ServiceAccount `vk-aci-kube-proxy`, bound to a
//! ClusterRole with the rules of Kubernetes' `system:node-proxier` (read Services,
//! Endpoints, EndpointSlices and Nodes; write Events). vk-aci's own token, which can read
//! Secrets, never goes into a group.
//!
//! The older sources remain for callers that choose them: `ca.crt` and `token` of a service
//! account directory, read again for every group (the kubelet rotates projected tokens),
//! or fixed credentials.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use tokio::sync::Mutex;
use tokio::time::{Duration, Instant};
use vk_translate::{ClusterCredentials, KubeProxyOptions};

/// The in-cluster service account directory (`ca.crt`, `token`).
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Where the kube-proxy kubeconfig's credentials come from.
#[derive(Clone)]
#[non_exhaustive]
pub enum KubeProxyCredentials {
    /// `ca.crt` and `token` in this directory, read for every group.
    ServiceAccount(PathBuf),
    /// Fixed credentials, e.g. those of the kubeconfig the node runs with.
    Fixed(ClusterCredentials),
    /// A token requested for kube-proxy's own ServiceAccount (the default of `vk-aci run`).
    TokenRequest(Arc<ServiceAccountTokens>),
}

impl PartialEq for KubeProxyCredentials {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::ServiceAccount(a), Self::ServiceAccount(b)) => a == b,
            (Self::Fixed(a), Self::Fixed(b)) => a == b,
            (Self::TokenRequest(a), Self::TokenRequest(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for KubeProxyCredentials {}

impl fmt::Debug for KubeProxyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServiceAccount(dir) => f.debug_tuple("ServiceAccount").field(dir).finish(),
            Self::Fixed(credentials) => f.debug_tuple("Fixed").field(credentials).finish(),
            Self::TokenRequest(tokens) => f.debug_tuple("TokenRequest").field(tokens).finish(),
        }
    }
}

/// The kube-proxy extension's settings (upstream `MASTER_URI`, `CLUSTER_CIDR`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeProxySource {
    /// The API server as the groups reach it (`https://` is added when missing).
    pub master_uri: String,
    /// The cluster CIDR.
    pub cluster_cidr: String,
    /// The credentials of the kubeconfig.
    pub credentials: KubeProxyCredentials,
}

/// The credentials of the kube-proxy extension could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeProxyError {
    /// A service account file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The service account token file is empty.
    #[error("{path} is empty")]
    EmptyToken {
        /// The file.
        path: PathBuf,
    },
    /// The API server refused or failed the TokenRequest for kube-proxy's ServiceAccount.
    #[error("requesting a token for service account {namespace}/{name}")]
    TokenRequest {
        /// The ServiceAccount's namespace.
        namespace: String,
        /// The ServiceAccount.
        name: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// No Kubernetes client could be built to request the token.
    #[error("connecting to request a token for service account {namespace}/{name}: {message}")]
    Connect {
        /// The ServiceAccount's namespace.
        namespace: String,
        /// The ServiceAccount.
        name: String,
        /// What failed.
        message: String,
    },
    /// The TokenRequest answer carried no token.
    #[error("the TokenRequest for service account {namespace}/{name} returned no token")]
    NoToken {
        /// The ServiceAccount's namespace.
        namespace: String,
        /// The ServiceAccount.
        name: String,
    },
}

/// Default name of kube-proxy's ServiceAccount (deploy/ and the Helm chart create it).
pub const DEFAULT_SERVICE_ACCOUNT: &str = "vk-aci-kube-proxy";

/// Lifetime asked for kube-proxy's token: a year.
///
/// A group's kubeconfig is fixed when the group is created, so its token must outlive the
/// group; a year covers long-lived groups. The API server may grant less
/// (`--service-account-max-token-expiration`); vk-aci then uses what it granted. A token is
/// renewed once half of its granted lifetime has passed, so every group gets at least half
/// of it (six months with the default).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// Tokens for kube-proxy's own ServiceAccount, requested through the TokenRequest API
/// (`create` on `serviceaccounts/token`, restricted to that ServiceAccount) and cached
/// until half of their lifetime has passed.
pub struct ServiceAccountTokens {
    client: Mutex<Option<kube::Client>>,
    /// The kubeconfig to build the client from at first use (`None`: in-cluster).
    kubeconfig: Option<PathBuf>,
    namespace: String,
    name: String,
    ca_pem: Vec<u8>,
    lifetime: Duration,
    cached: Mutex<Option<(String, Instant)>>,
}

impl fmt::Debug for ServiceAccountTokens {
    /// Never shows the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountTokens")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

// === impl ServiceAccountTokens ===

impl ServiceAccountTokens {
    /// Tokens for ServiceAccount `namespace/name`, requested through `client`, for an API
    /// server whose CA is `ca_pem`, with [`DEFAULT_TOKEN_LIFETIME`].
    #[must_use]
    pub fn new(client: kube::Client, namespace: &str, name: &str, ca_pem: Vec<u8>) -> Self {
        Self {
            client: Mutex::new(Some(client)),
            kubeconfig: None,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            ca_pem,
            lifetime: DEFAULT_TOKEN_LIFETIME,
            cached: Mutex::new(None),
        }
    }

    /// Like [`Self::new`], with a client built at the first request the way `vk-aci run`
    /// builds its own: from `kubeconfig`, else in-cluster (or `KUBECONFIG`). For settings
    /// read before a runtime exists.
    #[must_use]
    pub fn connect_later(
        kubeconfig: Option<PathBuf>,
        namespace: &str,
        name: &str,
        ca_pem: Vec<u8>,
    ) -> Self {
        Self {
            client: Mutex::new(None),
            kubeconfig,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            ca_pem,
            lifetime: DEFAULT_TOKEN_LIFETIME,
            cached: Mutex::new(None),
        }
    }

    async fn client(&self) -> Result<kube::Client, KubeProxyError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| self.connect_error(e.to_string()))?;
                kube::Config::from_custom_kubeconfig(
                    kubeconfig,
                    &kube::config::KubeConfigOptions::default(),
                )
                .await
                .map_err(|e| self.connect_error(e.to_string()))?
            }
            None => kube::Config::infer()
                .await
                .map_err(|e| self.connect_error(e.to_string()))?,
        };
        let client =
            kube::Client::try_from(config).map_err(|e| self.connect_error(e.to_string()))?;
        *slot = Some(client.clone());
        Ok(client)
    }

    fn connect_error(&self, message: String) -> KubeProxyError {
        KubeProxyError::Connect {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            message,
        }
    }

    /// Ask for tokens valid for `lifetime` instead.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The ServiceAccount, `namespace/name`.
    #[must_use]
    pub fn service_account(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The current token: the cached one while less than half of its lifetime has passed,
    /// else a new one.
    ///
    /// # Errors
    /// [`KubeProxyError::TokenRequest`] or [`KubeProxyError::NoToken`].
    pub async fn token(&self) -> Result<String, KubeProxyError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, renew_at)) = cached.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let asked = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(asked),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(self.client().await?, &self.namespace);
        let answer = api
            .create_token_request(&self.name, &PostParams::default(), &request)
            .await
            .map_err(|source| KubeProxyError::TokenRequest {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                source,
            })?;
        let granted = answer
            .spec
            .and_then(|s| s.expiration_seconds)
            .unwrap_or(asked)
            .max(0);
        let token = answer
            .status
            .and_then(|s| s.token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| KubeProxyError::NoToken {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
            })?;
        let half = Duration::from_secs(u64::try_from(granted / 2).unwrap_or(0));
        let renew_at = Instant::now()
            .checked_add(half)
            .unwrap_or_else(Instant::now);
        tracing::debug!(
            service_account = %self.service_account(),
            granted_seconds = granted,
            "kube-proxy token requested"
        );
        *cached = Some((token.clone(), renew_at));
        Ok(token)
    }
}

// === impl KubeProxySource ===

impl KubeProxySource {
    /// The extension's options with the current credentials.
    ///
    /// # Errors
    /// [`KubeProxyError`] when a service account file cannot be read, the token is empty
    /// or cannot be requested.
    pub async fn options(&self) -> Result<KubeProxyOptions, KubeProxyError> {
        let credentials = match &self.credentials {
            KubeProxyCredentials::Fixed(credentials) => credentials.clone(),
            KubeProxyCredentials::ServiceAccount(dir) => read_service_account(dir)?,
            KubeProxyCredentials::TokenRequest(tokens) => ClusterCredentials {
                ca_pem: tokens.ca_pem.clone(),
                token: Some(tokens.token().await?),
                client_certificate_pem: None,
                client_key_pem: None,
            },
        };
        Ok(KubeProxyOptions::new(
            self.cluster_cidr.clone(),
            &self.master_uri,
            &credentials,
        ))
    }
}

/// `ca.crt` and `token` of a service account directory.
///
/// # Errors
/// [`KubeProxyError`] when a file cannot be read or the token is empty.
pub fn read_service_account(dir: &Path) -> Result<ClusterCredentials, KubeProxyError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| KubeProxyError::Read { path, source })
    };
    let ca_pem = read("ca.crt")?;
    let token = String::from_utf8_lossy(&read("token")?).trim().to_owned();
    if token.is_empty() {
        return Err(KubeProxyError::EmptyToken {
            path: dir.join("token"),
        });
    }
    Ok(ClusterCredentials {
        ca_pem,
        token: Some(token),
        client_certificate_pem: None,
        client_key_pem: None,
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn kubeconfig_token(options: &KubeProxyOptions) -> String {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&options.kubeconfig)
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        config["users"][0]["user"]["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn a_rotated_token_should_be_used_for_the_next_group() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "CA").unwrap();
        std::fs::write(dir.path().join("token"), "first\n").unwrap();
        let source = KubeProxySource {
            master_uri: "10.0.0.1".to_owned(),
            cluster_cidr: "10.240.0.0/16".to_owned(),
            credentials: KubeProxyCredentials::ServiceAccount(dir.path().to_owned()),
        };
        assert_eq!(kubeconfig_token(&source.options().await.unwrap()), "first");
        std::fs::write(dir.path().join("token"), "second").unwrap();
        assert_eq!(kubeconfig_token(&source.options().await.unwrap()), "second");
    }

    #[tokio::test]
    async fn a_requested_token_should_be_cached_and_renewed_after_half_its_lifetime() {
        use vk_testing::FakeApiServer;
        let api = FakeApiServer::start().await;
        let accounts: Api<ServiceAccount> = Api::namespaced(api.client(), "default");
        let account: ServiceAccount = serde_json::from_value(serde_json::json!({
            "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": "default"}
        }))
        .unwrap();
        accounts
            .create(&PostParams::default(), &account)
            .await
            .unwrap();
        let tokens = Arc::new(
            ServiceAccountTokens::new(
                api.client(),
                "default",
                DEFAULT_SERVICE_ACCOUNT,
                b"CA".to_vec(),
            )
            .lifetime(Duration::from_secs(1200)),
        );
        let source = KubeProxySource {
            master_uri: "10.0.0.1".to_owned(),
            cluster_cidr: "10.240.0.0/16".to_owned(),
            credentials: KubeProxyCredentials::TokenRequest(Arc::clone(&tokens)),
        };
        let first = kubeconfig_token(&source.options().await.unwrap());
        assert!(!first.is_empty());
        assert_ne!(first, api.admin_token(), "never the caller's own token");
        assert_eq!(
            kubeconfig_token(&source.options().await.unwrap()),
            first,
            "cached"
        );
        assert!(
            !format!("{source:?}").contains(&first),
            "Debug hides the token"
        );
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(601)).await;
        tokio::time::resume();
        let second = kubeconfig_token(&source.options().await.unwrap());
        assert_ne!(second, first, "renewed after half of its 1200 s");

        let missing = ServiceAccountTokens::new(api.client(), "default", "absent", Vec::new());
        let err = missing.token().await.unwrap_err();
        assert!(err.to_string().contains("default/absent"), "{err}");
    }

    #[test]
    fn a_missing_or_empty_token_should_be_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "CA").unwrap();
        let err = read_service_account(dir.path()).unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");
        std::fs::write(dir.path().join("token"), " \n").unwrap();
        let err = read_service_account(dir.path()).unwrap_err();
        assert!(matches!(err, KubeProxyError::EmptyToken { .. }), "{err}");
    }
}
