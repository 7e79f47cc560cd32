//! VNet mode settings of `vk-aci run` (upstream `ACI_SUBNET_NAME`, `ACI_SUBNET_CIDR`,
//! `MASTER_URI`, `CLUSTER_CIDR`, `ENABLE_REAL_TIME_METRICS`): checked here, before anything
//! starts; the subnet itself is checked against ARM when the node binds.
//!
//! The kube-proxy extension's kubeconfig trusts the CA of the kubeconfig the node runs
//! with (else the service account directory's `ca.crt`) and carries a token of kube-proxy's
//! own ServiceAccount (`--kube-proxy-service-account`, in vk-aci's namespace), requested
//! through the TokenRequest API: never vk-aci's own credentials, which can read Secrets.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::sync::Arc;
use vk_aci::arm::network::{Cidr, SubnetRef};

use vk_aci::provider::kube_proxy::{KubeProxyCredentials, KubeProxySource, ServiceAccountTokens};
use vk_aci::virtual_node::SubnetSetup;
use vk_translate::ClusterCredentials;
use vk_translate::extensions::DEFAULT_CLUSTER_CIDR;

use crate::error::BadInput;
use crate::run_args::RunArgs;

/// Upstream's `MASTER_URI` default.
pub(crate) const DEFAULT_MASTER_URI: &str = "10.0.0.1";

/// What VNet mode adds to the node.
#[derive(Debug)]
pub(crate) struct Vnet {
    /// The subnet, checked at bind.
    pub(crate) subnet: SubnetSetup,
    /// The kube-proxy extension.
    pub(crate) kube_proxy: KubeProxySource,
    /// The realtime metrics extension.
    pub(crate) realtime_metrics: bool,
}

fn non_empty(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// VNet mode from the flags, or `None` without a subnet name. `resource_group` and
/// `subscription` are the container groups' (the VNet's defaults); `azure_json` is the
/// VNet name and resource group of AKS's azure.json, used when the flags leave them unset.
pub(crate) fn vnet(
    args: &RunArgs,
    resource_group: &str,
    subscription: &str,
    azure_json: (Option<String>, Option<String>),
) -> Result<Option<Vnet>, BadInput> {
    let cidr = non_empty(args.subnet_cidr.as_ref())
        .map(|text| {
            text.parse::<Cidr>()
                .map_err(|e| BadInput(format!("ACI_SUBNET_CIDR / --subnet-cidr: {e}")))
        })
        .transpose()?;
    let realtime_metrics = parse_bool(
        "ENABLE_REAL_TIME_METRICS / --enable-real-time-metrics",
        args.enable_real_time_metrics.as_deref(),
    )?;
    let cluster_cidr =
        non_empty(args.cluster_cidr.as_ref()).unwrap_or_else(|| DEFAULT_CLUSTER_CIDR.to_owned());
    cluster_cidr
        .parse::<Cidr>()
        .map_err(|e| BadInput(format!("CLUSTER_CIDR / --cluster-cidr: {e}")))?;
    let master_uri =
        non_empty(args.master_uri.as_ref()).unwrap_or_else(|| DEFAULT_MASTER_URI.to_owned());
    check_master_uri(&master_uri)?;

    let Some(subnet) = non_empty(args.subnet_name.as_ref()) else {
        if cidr.is_some() {
            return Err(BadInput(
                "ACI_SUBNET_CIDR needs ACI_SUBNET_NAME (the subnet to check or create)".to_owned(),
            ));
        }
        for (setting, set) in [
            ("MASTER_URI", args.master_uri.is_some()),
            ("CLUSTER_CIDR", args.cluster_cidr.is_some()),
            ("ENABLE_REAL_TIME_METRICS", realtime_metrics),
        ] {
            if set {
                tracing::debug!(setting, "only used in VNet mode (ACI_SUBNET_NAME); ignored");
            }
        }
        return Ok(None);
    };
    let (json_vnet, json_vnet_rg) = azure_json;
    let vnet = non_empty(args.vnet_name.as_ref())
        .or_else(|| non_empty(json_vnet.as_ref()))
        .ok_or_else(|| {
            BadInput(
                "ACI_SUBNET_NAME needs ACI_VNET_NAME (the VNet of the subnet; or vnetName in azure.json)"
                    .to_owned(),
            )
        })?;
    let subnet = SubnetRef {
        subscription_id: non_empty(args.vnet_subscription_id.as_ref())
            .unwrap_or_else(|| subscription.to_owned()),
        resource_group: non_empty(args.vnet_resource_group.as_ref())
            .or_else(|| non_empty(json_vnet_rg.as_ref()))
            .unwrap_or_else(|| resource_group.to_owned()),
        vnet,
        subnet,
    };
    let credentials = kube_proxy_credentials(
        args.kubeconfig.as_deref(),
        &args.service_account_dir,
        &args.kube_proxy_service_account,
        args.kube_proxy_namespace.as_ref(),
    )?;
    Ok(Some(Vnet {
        subnet: SubnetSetup { subnet, cidr },
        kube_proxy: KubeProxySource {
            master_uri,
            cluster_cidr,
            credentials,
        },
        realtime_metrics,
    }))
}

/// Upstream enables on exactly `true`; here any case of true/false, 1/0 or empty, and
/// anything else is an error rather than a silent "off".
fn parse_bool(setting: &str, value: Option<&str>) -> Result<bool, BadInput> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(BadInput(format!(
            "{setting} {other:?}: expected true or false"
        ))),
    }
}

/// `MASTER_URI` is a host (upstream's `10.0.0.1`) or an `https://` URL.
fn check_master_uri(master_uri: &str) -> Result<(), BadInput> {
    let full = if master_uri.contains("://") {
        master_uri.to_owned()
    } else {
        format!("https://{master_uri}")
    };
    match url::Url::parse(&full) {
        Ok(url) if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(BadInput(format!(
            "MASTER_URI / --master-uri {master_uri:?}: expected a host or https:// URL of the API server"
        ))),
    }
}

/// A token of kube-proxy's ServiceAccount `account` (in `namespace`, else vk-aci's own from
/// the service account directory), requested when groups need it, for the API server whose
/// CA the kubeconfig names (else the service account directory's `ca.crt`).
fn kube_proxy_credentials(
    kubeconfig: Option<&Path>,
    service_account_dir: &Path,
    account: &str,
    namespace: Option<&String>,
) -> Result<KubeProxyCredentials, BadInput> {
    let account = account.trim();
    if account.is_empty() {
        return Err(BadInput(
            "KUBE_PROXY_SERVICE_ACCOUNT / --kube-proxy-service-account: empty".to_owned(),
        ));
    }
    let from_kubeconfig = match kubeconfig {
        Some(path) => kubeconfig_credentials(path)?.map(|c| c.ca_pem),
        None => None,
    };
    let ca_pem = match from_kubeconfig {
        Some(ca) => ca,
        None => {
            let path = service_account_dir.join("ca.crt");
            std::fs::read(&path).map_err(|e| {
                BadInput(format!(
                    "VNet mode: the kube-proxy extension needs the API server's CA: the kubeconfig names none and {} cannot be read ({e}); set VK_SERVICE_ACCOUNT_DIR or run in the cluster",
                    path.display()
                ))
            })?
        }
    };
    let namespace = match non_empty(namespace) {
        Some(namespace) => namespace,
        None => {
            let path = service_account_dir.join("namespace");
            std::fs::read_to_string(&path)
                .ok()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    BadInput(format!(
                        "VNet mode: the namespace of kube-proxy's service account {account:?} is unknown: {} cannot be read; set KUBE_PROXY_NAMESPACE / --kube-proxy-namespace",
                        path.display()
                    ))
                })?
        }
    };
    Ok(KubeProxyCredentials::TokenRequest(Arc::new(
        ServiceAccountTokens::connect_later(
            kubeconfig.map(Path::to_owned),
            &namespace,
            account,
            ca_pem,
        ),
    )))
}

/// CA and user credentials of the kubeconfig's current context (else its first cluster
/// and user); `None` when it has no CA or no token/client certificate.
fn kubeconfig_credentials(path: &Path) -> Result<Option<ClusterCredentials>, BadInput> {
    let bad = |what: String| BadInput(format!("KUBECONFIG {}: {what}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let doc: serde_json::Value = serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let base = path.parent().map(Path::to_owned).unwrap_or_default();
    let current = doc["current-context"].as_str().and_then(|name| {
        doc["contexts"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| &c["context"])
    });
    let named = |list: &str, inner: &str, name: Option<&str>| {
        let items = doc[list].as_array()?;
        let item = match name {
            Some(name) => items.iter().find(|i| i["name"] == name)?,
            None => items.first()?,
        };
        Some(item[inner].clone())
    };
    let cluster = named(
        "clusters",
        "cluster",
        current.and_then(|c| c["cluster"].as_str()),
    );
    let user = named("users", "user", current.and_then(|c| c["user"].as_str()));
    let (Some(cluster), Some(user)) = (cluster, user) else {
        return Ok(None);
    };
    let data = |value: &serde_json::Value, data_key: &str, file_key: &str| {
        read_data(value, data_key, file_key, &base).map_err(bad)
    };
    let Some(ca_pem) = data(
        &cluster,
        "certificate-authority-data",
        "certificate-authority",
    )?
    else {
        return Ok(None);
    };
    let token = match (user["token"].as_str(), user["tokenFile"].as_str()) {
        (Some(token), _) => Some(token.to_owned()),
        (None, Some(file)) => Some(
            std::fs::read_to_string(base.join(file))
                .map_err(|e| bad(format!("tokenFile {file}: {e}")))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    let client_certificate_pem = data(&user, "client-certificate-data", "client-certificate")?;
    let client_key_pem = data(&user, "client-key-data", "client-key")?;
    if token.is_none() && (client_certificate_pem.is_none() || client_key_pem.is_none()) {
        return Ok(None);
    }
    Ok(Some(ClusterCredentials {
        ca_pem,
        token,
        client_certificate_pem,
        client_key_pem,
    }))
}

/// `<x>-data` (base64) or the file `<x>` (relative to the kubeconfig), if either is set.
fn read_data(
    value: &serde_json::Value,
    data_key: &str,
    file_key: &str,
    base: &Path,
) -> Result<Option<Vec<u8>>, String> {
    if let Some(data) = value[data_key].as_str() {
        return STANDARD
            .decode(data.trim())
            .map(Some)
            .map_err(|e| format!("{data_key}: {e}"));
    }
    if let Some(file) = value[file_key].as_str() {
        let path: PathBuf = base.join(file);
        return std::fs::read(&path)
            .map(Some)
            .map_err(|e| format!("{file_key} {}: {e}", path.display()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_should_be_strict() {
        assert!(!parse_bool("X", None).unwrap());
        assert!(!parse_bool("X", Some("")).unwrap());
        assert!(parse_bool("X", Some("TRUE")).unwrap());
        assert!(!parse_bool("X", Some("false")).unwrap());
        let err = parse_bool("ENABLE_REAL_TIME_METRICS", Some("yes please")).unwrap_err();
        assert!(err.0.contains("ENABLE_REAL_TIME_METRICS"), "{err}");
    }

    #[test]
    fn master_uris_should_be_hosts_or_urls() {
        check_master_uri("10.0.0.1").unwrap();
        check_master_uri("https://aks.hcp.westus.azmk8s.io:443").unwrap();
        assert!(check_master_uri("https://").is_err());
        assert!(check_master_uri("not a host").is_err());
    }

    #[test]
    fn the_kubeconfig_current_context_should_give_the_credentials() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "CA-FILE").unwrap();
        let kubeconfig = dir.path().join("config");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: b\n\
                 clusters:\n- name: one\n  cluster: {{server: 'https://one', certificate-authority-data: {}}}\n\
                 - name: two\n  cluster: {{server: 'https://two', certificate-authority: ca.pem}}\n\
                 users:\n- name: u1\n  user: {{token: first}}\n- name: u2\n  user: {{token: second}}\n\
                 contexts:\n- name: a\n  context: {{cluster: one, user: u1}}\n- name: b\n  context: {{cluster: two, user: u2}}\n",
                STANDARD.encode("CA-DATA")
            ),
        )
        .unwrap();
        let credentials = kubeconfig_credentials(&kubeconfig).unwrap().unwrap();
        assert_eq!(credentials.ca_pem, b"CA-FILE");
        assert_eq!(credentials.token.as_deref(), Some("second"));
    }

    #[test]
    fn kube_proxy_should_get_its_own_service_account_in_vk_acis_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        std::fs::write(
            &kubeconfig,
            "clusters:\n- name: c\n  cluster: {server: 'https://x'}\nusers:\n- name: u\n  user: {exec: {command: az}}\n",
        )
        .unwrap();
        let sa = dir.path().join("sa");
        let err =
            kube_proxy_credentials(Some(&kubeconfig), &sa, "vk-aci-kube-proxy", None).unwrap_err();
        assert!(err.0.contains("VK_SERVICE_ACCOUNT_DIR"), "{err}");
        std::fs::create_dir(&sa).unwrap();
        std::fs::write(sa.join("ca.crt"), "CA").unwrap();
        let err =
            kube_proxy_credentials(Some(&kubeconfig), &sa, "vk-aci-kube-proxy", None).unwrap_err();
        assert!(err.0.contains("KUBE_PROXY_NAMESPACE"), "{err}");
        std::fs::write(sa.join("namespace"), "vk-system\n").unwrap();
        let found =
            kube_proxy_credentials(Some(&kubeconfig), &sa, "vk-aci-kube-proxy", None).unwrap();
        let KubeProxyCredentials::TokenRequest(tokens) = found else {
            panic!("a requested token, never vk-aci's own");
        };
        assert_eq!(tokens.service_account(), "vk-system/vk-aci-kube-proxy");
        let flag = "other".to_owned();
        let found = kube_proxy_credentials(None, &sa, "kp", Some(&flag)).unwrap();
        let KubeProxyCredentials::TokenRequest(tokens) = found else {
            panic!("a requested token");
        };
        assert_eq!(tokens.service_account(), "other/kp");
    }
}
