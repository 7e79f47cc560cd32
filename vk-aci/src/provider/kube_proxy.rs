//! The kube-proxy extension of VNet mode, with credentials read when each group is built.
//!
//! Service account tokens are projected and rotated by the kubelet (about hourly, valid
//! for longer), so a token read once at startup would go stale in long-lived nodes. The
//! token and CA files are tiny and local: they are read again for every group that is
//! created or updated, and a group always gets the current token. Credentials from a
//! kubeconfig file (upstream reads `KUBECONFIG` first) are fixed for the process.

use std::fmt;
use std::path::{Path, PathBuf};

use vk_translate::{ClusterCredentials, KubeProxyOptions};

/// The in-cluster service account directory (`ca.crt`, `token`).
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Where the kube-proxy kubeconfig's credentials come from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KubeProxyCredentials {
    /// `ca.crt` and `token` in this directory, read for every group.
    ServiceAccount(PathBuf),
    /// Fixed credentials, e.g. those of the kubeconfig the node runs with.
    Fixed(ClusterCredentials),
}

impl fmt::Debug for KubeProxyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServiceAccount(dir) => f.debug_tuple("ServiceAccount").field(dir).finish(),
            Self::Fixed(credentials) => f.debug_tuple("Fixed").field(credentials).finish(),
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
}

// === impl KubeProxySource ===

impl KubeProxySource {
    /// The extension's options with the current credentials.
    ///
    /// # Errors
    /// [`KubeProxyError`] when a service account file cannot be read or the token is empty.
    pub fn options(&self) -> Result<KubeProxyOptions, KubeProxyError> {
        let credentials = match &self.credentials {
            KubeProxyCredentials::Fixed(credentials) => credentials.clone(),
            KubeProxyCredentials::ServiceAccount(dir) => read_service_account(dir)?,
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

    #[test]
    fn a_rotated_token_should_be_used_for_the_next_group() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "CA").unwrap();
        std::fs::write(dir.path().join("token"), "first\n").unwrap();
        let source = KubeProxySource {
            master_uri: "10.0.0.1".to_owned(),
            cluster_cidr: "10.240.0.0/16".to_owned(),
            credentials: KubeProxyCredentials::ServiceAccount(dir.path().to_owned()),
        };
        assert_eq!(kubeconfig_token(&source.options().unwrap()), "first");
        std::fs::write(dir.path().join("token"), "second").unwrap();
        assert_eq!(kubeconfig_token(&source.options().unwrap()), "second");
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
