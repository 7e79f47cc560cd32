//! VNet mode settings of `vk-aci run` (upstream `ACI_SUBNET_NAME`, `ACI_SUBNET_CIDR`,
//! `MASTER_URI`, `CLUSTER_CIDR`, `ENABLE_REAL_TIME_METRICS`): checked here, before anything
//! starts; the subnet itself is checked against ARM when the node binds.
//!
//! The kube-proxy extension's kubeconfig gets its credentials like upstream's: from the
//! kubeconfig the node runs with when it names a CA and a token or client certificate,
//! else from the service account directory, whose token is read again for every group.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use vk_aci::arm::network::{Cidr, SubnetRef};
use vk_aci::provider::kube_proxy::{KubeProxyCredentials, KubeProxySource, read_service_account};
use vk_aci::virtual_node::SubnetSetup;
use vk_core::error_chain;
use vk_translate::ClusterCredentials;
use vk_translate::extensions::DEFAULT_CLUSTER_CIDR;

use crate::cli::RunArgs;
use crate::error::BadInput;

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
    let credentials =
        kube_proxy_credentials(args.kubeconfig.as_deref(), &args.service_account_dir)?;
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

/// The kubeconfig's credentials when it has them, else the service account directory's
/// (checked readable now; read again for every group).
fn kube_proxy_credentials(
    kubeconfig: Option<&Path>,
    service_account_dir: &Path,
) -> Result<KubeProxyCredentials, BadInput> {
    if let Some(path) = kubeconfig
        && let Some(credentials) = kubeconfig_credentials(path)?
    {
        return Ok(KubeProxyCredentials::Fixed(credentials));
    }
    read_service_account(service_account_dir).map_err(|e| {
        BadInput(format!(
            "VNet mode: the kube-proxy extension needs API server credentials: the kubeconfig has no CA with a token or client certificate, and the service account cannot be read ({}); set VK_SERVICE_ACCOUNT_DIR or run in the cluster",
            error_chain(&e)
        ))
    })?;
    Ok(KubeProxyCredentials::ServiceAccount(
        service_account_dir.to_owned(),
    ))
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
    fn without_kubeconfig_credentials_the_service_account_should_be_required() {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        std::fs::write(
            &kubeconfig,
            "clusters:\n- name: c\n  cluster: {server: 'https://x'}\nusers:\n- name: u\n  user: {exec: {command: az}}\n",
        )
        .unwrap();
        let err = kube_proxy_credentials(Some(&kubeconfig), &dir.path().join("sa")).unwrap_err();
        assert!(err.0.contains("VK_SERVICE_ACCOUNT_DIR"), "{err}");
        std::fs::create_dir(dir.path().join("sa")).unwrap();
        std::fs::write(dir.path().join("sa/ca.crt"), "CA").unwrap();
        std::fs::write(dir.path().join("sa/token"), "tok").unwrap();
        let found = kube_proxy_credentials(Some(&kubeconfig), &dir.path().join("sa")).unwrap();
        assert!(matches!(found, KubeProxyCredentials::ServiceAccount(_)));
    }
}
