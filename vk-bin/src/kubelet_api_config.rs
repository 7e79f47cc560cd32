//! `vk-aci run`'s kubelet API settings: the serving certificate (files, a CSR to the
//! cluster, or self-signed), which client certificates to trust, and how bearer tokens and
//! requests are authenticated and authorized.

use std::path::Path;

use tokio::time::Duration;
use vk_aci::virtual_node::VirtualNodeConfig;
use vk_core::error_chain;
use vk_core::server::{AuthConfig, AuthorizationMode, ServingCert, ServingCsr};

use crate::error::BadInput;
use crate::flag_values::{parse_duration, read_file};
use crate::run_args::RunArgs;

/// Fill `config.tls` and `config.auth` from `args`, and fail now on unusable TLS material
/// rather than after the lease.
pub(crate) fn apply(args: &RunArgs, config: &mut VirtualNodeConfig) -> Result<(), BadInput> {
    match (&args.tls_cert_file, &args.tls_key_file) {
        (Some(cert), Some(key)) => {
            read_file("APISERVER_CERT_LOCATION", cert)?;
            read_file("APISERVER_KEY_LOCATION", key)?;
            config.tls.serving = ServingCert::Files {
                cert: cert.clone(),
                key: key.clone(),
            };
        }
        (None, None) => {}
        _ => {
            return Err(BadInput(
                "APISERVER_CERT_LOCATION and APISERVER_KEY_LOCATION go together".to_owned(),
            ));
        }
    }
    if args.rotate_server_certificates {
        if args.tls_cert_file.is_some() {
            return Err(BadInput(
                "--rotate-server-certificates and --tls-cert-file exclude each other".to_owned(),
            ));
        }
        // Names and InternalIP are filled in from the node when the listener is bound.
        config.tls.serving =
            ServingCert::CertificateSigningRequest(ServingCsr::new(args.nodename.clone()));
    }
    // Without a CA flag, trust the cluster CA of the service account (it signs the API
    // server's kubelet client certificate on kubeadm and AKS clusters).
    let in_cluster_ca = Path::new("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
    let ca = match &args.client_verify_ca {
        Some(path) if !path.as_os_str().is_empty() => Some(read_file("--client-verify-ca", path)?),
        _ if in_cluster_ca.exists() => std::fs::read(in_cluster_ca).ok(),
        _ => None,
    };
    if let Some(ca) = ca
        && !args.no_verify_clients
    {
        config.tls = config.tls.clone().client_ca(ca);
    }
    let ttl = |flag: &str, text: &str, default: Duration| {
        parse_duration(flag, text).map(|d| if d.is_zero() { default } else { d })
    };
    let defaults = AuthConfig::default();
    if !args.authentication_token_webhook {
        tracing::warn!(
            "--authentication-token-webhook=false: every client certificate the CA signed (every node's included) may exec into every pod on this node, and bearer tokens are refused"
        );
    }
    config.auth = AuthConfig {
        token_webhook: args.authentication_token_webhook,
        token_cache_ttl: ttl(
            "authentication-token-webhook-cache-ttl",
            &args.authentication_token_webhook_cache_ttl,
            defaults.token_cache_ttl,
        )?,
        authorization: if args.authentication_token_webhook {
            AuthorizationMode::Webhook
        } else {
            AuthorizationMode::AlwaysAllow
        },
        authorized_ttl: ttl(
            "authorization-webhook-cache-authorized-ttl",
            &args.authorization_webhook_cache_authorized_ttl,
            defaults.authorized_ttl,
        )?,
        unauthorized_ttl: ttl(
            "authorization-webhook-cache-unauthorized-ttl",
            &args.authorization_webhook_cache_unauthorized_ttl,
            defaults.unauthorized_ttl,
        )?,
        ..defaults
    };
    // Fail now on unusable TLS material rather than after the lease.
    let mut probe = config.tls.clone();
    if let ServingCert::SelfSigned { names, .. } = &mut probe.serving {
        names.push(args.nodename.clone());
    }
    probe
        .server_config()
        .map_err(|e| BadInput(format!("kubelet api tls: {}", error_chain(&e))))?;

    Ok(())
}
