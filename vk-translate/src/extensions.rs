//! Container group extensions of VNet mode: `kube-proxy` (the group reaches cluster
//! Services) and `realtime-metrics`, as the upstream provider adds them.
//!
//! The kube-proxy extension carries a kubeconfig for the API server in its protected
//! settings; [`kube_proxy_kubeconfig`] builds it from credentials the caller read (the
//! virtual kubelet's service account, or its kubeconfig), so this module stays pure.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::container_group::{DeploymentExtensionSpec, DeploymentExtensionSpecProperties};

/// `kubeVersion` of the kube-proxy extension. Upstream sends this constant (not the
/// cluster's version) and the spec's `ContainerGroupExtensions` example shows it too.
pub const KUBE_PROXY_KUBE_VERSION: &str = "v1.9.10";

/// Upstream's `CLUSTER_CIDR` default.
pub const DEFAULT_CLUSTER_CIDR: &str = "10.240.0.0/16";

/// Version of both extensions (upstream `ExtensionVersion_1`).
const EXTENSION_VERSION: &str = "1.0";

/// Name the kubeconfig gives its cluster, user and context (upstream's).
const KUBECONFIG_NAME: &str = "virtual-kubelet";

/// How the kube-proxy of a group authenticates to the API server. `Debug` redacts.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterCredentials {
    /// PEM CA bundle of the API server (`certificate-authority-data`).
    pub ca_pem: Vec<u8>,
    /// Bearer token (a service account token).
    pub token: Option<String>,
    /// PEM client certificate (`client-certificate-data`), with `client_key_pem`.
    pub client_certificate_pem: Option<Vec<u8>>,
    /// PEM client key (`client-key-data`).
    pub client_key_pem: Option<Vec<u8>>,
}

impl fmt::Debug for ClusterCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterCredentials")
            .field("ca_pem_bytes", &self.ca_pem.len())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field(
                "client_certificate",
                &self.client_certificate_pem.as_ref().map(|_| "<set>"),
            )
            .field(
                "client_key",
                &self.client_key_pem.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The kube-proxy extension's inputs. `Debug` redacts the kubeconfig.
#[derive(Clone, PartialEq, Eq)]
pub struct KubeProxyOptions {
    /// Cluster CIDR (upstream `CLUSTER_CIDR`).
    pub cluster_cidr: String,
    /// `kubeVersion` setting ([`KUBE_PROXY_KUBE_VERSION`] by default).
    pub kube_version: String,
    /// The base64 kubeconfig of the protected settings (a secret).
    pub kubeconfig: String,
}

impl fmt::Debug for KubeProxyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeProxyOptions")
            .field("cluster_cidr", &self.cluster_cidr)
            .field("kube_version", &self.kube_version)
            .field("kubeconfig", &"<redacted>")
            .finish()
    }
}

// === impl KubeProxyOptions ===

impl KubeProxyOptions {
    /// kube-proxy for `cluster_cidr`, reaching the API server at `server` with
    /// `credentials`; `kubeVersion` is upstream's constant.
    #[must_use]
    pub fn new(
        cluster_cidr: impl Into<String>,
        server: &str,
        credentials: &ClusterCredentials,
    ) -> Self {
        Self {
            cluster_cidr: cluster_cidr.into(),
            kube_version: KUBE_PROXY_KUBE_VERSION.to_owned(),
            kubeconfig: kube_proxy_kubeconfig(server, credentials),
        }
    }

    /// The extension (`kube-proxy`, version 1.0).
    #[must_use]
    pub fn extension(&self) -> DeploymentExtensionSpec {
        DeploymentExtensionSpec {
            name: "kube-proxy".to_owned(),
            properties: Some(DeploymentExtensionSpecProperties {
                extension_type: "kube-proxy".to_owned(),
                version: EXTENSION_VERSION.to_owned(),
                settings: Some(serde_json::json!({
                    "clusterCidr": self.cluster_cidr,
                    "kubeVersion": self.kube_version,
                })),
                protected_settings: Some(serde_json::json!({ "kubeConfig": self.kubeconfig })),
            }),
        }
    }
}

/// The realtime metrics extension (upstream `ENABLE_REAL_TIME_METRICS=true`): no settings.
#[must_use]
pub fn realtime_metrics_extension() -> DeploymentExtensionSpec {
    DeploymentExtensionSpec {
        name: "vk-realtime-metrics".to_owned(),
        properties: Some(DeploymentExtensionSpecProperties {
            extension_type: "realtime-metrics".to_owned(),
            version: EXTENSION_VERSION.to_owned(),
            settings: None,
            protected_settings: None,
        }),
    }
}

/// The kubeconfig of the kube-proxy extension, base64 of its JSON: one cluster (`server`,
/// the CA), one user (token and/or client certificate), one current context. A `server`
/// without a scheme (upstream's default `10.0.0.1`) gets `https://`, as client-go does.
#[must_use]
pub fn kube_proxy_kubeconfig(server: &str, credentials: &ClusterCredentials) -> String {
    let server = if server.contains("://") {
        server.to_owned()
    } else {
        format!("https://{server}")
    };
    let mut user = serde_json::Map::new();
    if let Some(token) = &credentials.token {
        user.insert("token".to_owned(), token.trim().into());
    }
    if let Some(cert) = &credentials.client_certificate_pem {
        user.insert(
            "client-certificate-data".to_owned(),
            STANDARD.encode(cert).into(),
        );
    }
    if let Some(key) = &credentials.client_key_pem {
        user.insert("client-key-data".to_owned(), STANDARD.encode(key).into());
    }
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": KUBECONFIG_NAME,
            "cluster": {
                "server": server,
                "certificate-authority-data": STANDARD.encode(&credentials.ca_pem),
            },
        }],
        "users": [{ "name": KUBECONFIG_NAME, "user": user }],
        "contexts": [{
            "name": KUBECONFIG_NAME,
            "context": { "cluster": KUBECONFIG_NAME, "user": KUBECONFIG_NAME },
        }],
        "current-context": KUBECONFIG_NAME,
    });
    STANDARD.encode(config.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> ClusterCredentials {
        ClusterCredentials {
            ca_pem: b"-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".to_vec(),
            token: Some("sa-token-value\n".to_owned()),
            client_certificate_pem: None,
            client_key_pem: None,
        }
    }

    fn decode(kubeconfig: &str) -> serde_json::Value {
        serde_json::from_slice(&STANDARD.decode(kubeconfig).unwrap()).unwrap()
    }

    #[test]
    fn the_kubeconfig_should_point_at_the_master_uri_with_the_ca_and_token() {
        let config = decode(&kube_proxy_kubeconfig("10.0.0.1", &credentials()));
        let cluster = &config["clusters"][0]["cluster"];
        assert_eq!(cluster["server"], "https://10.0.0.1");
        assert_eq!(
            STANDARD
                .decode(cluster["certificate-authority-data"].as_str().unwrap())
                .unwrap(),
            credentials().ca_pem
        );
        assert_eq!(config["users"][0]["user"]["token"], "sa-token-value");
        assert_eq!(config["current-context"], "virtual-kubelet");
        assert_eq!(config["contexts"][0]["context"]["user"], "virtual-kubelet");
    }

    #[test]
    fn a_master_uri_with_a_scheme_should_be_kept() {
        let config = decode(&kube_proxy_kubeconfig(
            "https://aks.example:443",
            &credentials(),
        ));
        assert_eq!(
            config["clusters"][0]["cluster"]["server"],
            "https://aks.example:443"
        );
    }

    #[test]
    fn the_kube_proxy_extension_should_carry_upstream_settings() {
        let ext =
            KubeProxyOptions::new(DEFAULT_CLUSTER_CIDR, "10.0.0.1", &credentials()).extension();
        let value = serde_json::to_value(&ext).unwrap();
        assert_eq!(value["name"], "kube-proxy");
        assert_eq!(value["properties"]["extensionType"], "kube-proxy");
        assert_eq!(value["properties"]["version"], "1.0");
        assert_eq!(
            value["properties"]["settings"],
            serde_json::json!({"clusterCidr": "10.240.0.0/16", "kubeVersion": "v1.9.10"})
        );
        assert!(value["properties"]["protectedSettings"]["kubeConfig"].is_string());
    }

    #[test]
    fn debug_should_not_print_the_kubeconfig_or_token() {
        let options = KubeProxyOptions::new(DEFAULT_CLUSTER_CIDR, "10.0.0.1", &credentials());
        let printed = format!("{options:?} {:?} {:?}", credentials(), options.extension());
        assert!(!printed.contains(&options.kubeconfig), "{printed}");
        assert!(!printed.contains("sa-token-value"), "{printed}");
    }

    #[test]
    fn the_realtime_metrics_extension_should_match_the_spec_example() {
        assert_eq!(
            serde_json::to_value(realtime_metrics_extension()).unwrap(),
            serde_json::json!({
                "name": "vk-realtime-metrics",
                "properties": {"extensionType": "realtime-metrics", "version": "1.0"}
            })
        );
    }
}
