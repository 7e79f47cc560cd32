//! The fake cluster's PKI: one CA (rcgen) issuing the API server's serving certificate and
//! the API server's kubelet client certificate, and the rustls configurations using them.
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::kubelet_client::AnyServerCert;

/// Subject CN of the kubelet client certificate.
pub const KUBELET_CLIENT_CN: &str = "kube-apiserver-kubelet-client";
/// Subject O of the kubelet client certificate.
pub const KUBELET_CLIENT_O: &str = "system:masters";

/// Why the PKI could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Key or certificate generation failed.
    #[error("certificate generation failed")]
    Generate(#[source] rcgen::Error),
    /// rustls refused the configuration.
    #[error("tls configuration failed")]
    Config(#[source] rustls::Error),
}

/// A certificate with its private key.
pub(crate) struct Identity {
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    pub key_pem: String,
    key_der: Vec<u8>,
}

impl Identity {
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

/// The fake cluster's CA and the certificates it issued.
pub(crate) struct Pki {
    /// The CA's parameters and key, to sign more certificates.
    ca_params: CertificateParams,
    ca_key: KeyPair,
    /// The CA certificate.
    pub ca: Identity,
    /// The API server's serving certificate (127.0.0.1, ::1, localhost).
    pub server: Identity,
    /// The API server's client certificate toward kubelets.
    pub kubelet_client: Identity,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

impl Pki {
    /// Generate a CA and its two leaf certificates.
    pub fn generate() -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate().map_err(TlsError::Generate)?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(TlsError::Generate)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "fake-kubernetes-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(TlsError::Generate)?;
        let issuer = Issuer::from_params(&ca_params, &ca_key);

        let server_key = KeyPair::generate().map_err(TlsError::Generate)?;
        let mut sp = CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            "kubernetes.default.svc".to_owned(),
        ])
        .map_err(TlsError::Generate)?;
        sp.distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = sp
            .signed_by(&server_key, &issuer)
            .map_err(TlsError::Generate)?;

        let client_key = KeyPair::generate().map_err(TlsError::Generate)?;
        let mut cp = CertificateParams::new(Vec::<String>::new()).map_err(TlsError::Generate)?;
        cp.distinguished_name
            .push(DnType::CommonName, KUBELET_CLIENT_CN);
        cp.distinguished_name
            .push(DnType::OrganizationName, KUBELET_CLIENT_O);
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = cp
            .signed_by(&client_key, &issuer)
            .map_err(TlsError::Generate)?;

        let ident = |cert: rcgen::Certificate, key: &KeyPair| Identity {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        };
        let ca = ident(ca_cert, &ca_key);
        let server = ident(server_cert, &server_key);
        let kubelet_client = ident(client_cert, &client_key);
        drop(issuer);
        Ok(Self {
            ca_params,
            ca_key,
            ca,
            server,
            kubelet_client,
        })
    }

    /// The CA as the issuer of new certificates.
    pub fn ca_issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.ca_params, &self.ca_key)
    }

    /// The API server's rustls configuration (HTTP/2 and HTTP/1.1 by ALPN).
    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.server.cert_der.clone(), self.ca.cert_der.clone()],
                self.server.key(),
            )
            .map_err(TlsError::Config)?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(cfg)
    }

    /// The configuration the proxy uses toward kubelets: the kubelet client certificate,
    /// no verification of the kubelet's serving certificate, HTTP/1.1 only (upgrades).
    pub fn kubelet_client_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let p = provider();
        let mut cfg = rustls::ClientConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert(p)))
            .with_client_auth_cert(
                vec![self.kubelet_client.cert_der.clone()],
                self.kubelet_client.key(),
            )
            .map_err(TlsError::Config)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(cfg)
    }
}
