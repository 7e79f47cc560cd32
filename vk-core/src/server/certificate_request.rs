//! The kubelet serving certificate from the cluster: a `kubernetes.io/kubelet-serving`
//! CertificateSigningRequest, created and watched until it is issued, denied or timed out.
//!
//! This is what a kubelet started with `serverTLSBootstrap: true` does: it generates an
//! ECDSA P-256 key, sends a PKCS#10 request for `CN=system:node:<node>, O=system:nodes`
//! with the node's DNS names and IP addresses as subject alternative names, usages
//! `digital signature` and `server auth` (`key encipherment` only comes with RSA keys), and
//! waits for `status.certificate`. kube-controller-manager signs such requests once they are
//! approved but never approves them itself (it cannot check that the names belong to the
//! node), so an operator or an approver controller has to:
//! `kubectl certificate approve <name>`. [`request_certificate`] logs that command with the
//! request's name.
use std::net::IpAddr;
use std::sync::Arc;

use futures::TryStreamExt as _;
use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestSpec,
};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use tokio::time::{self, Duration};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::api_call::API_CALL_TIMEOUT;

/// The signer of kubelet serving certificates.
pub const KUBELET_SERVING_SIGNER: &str = "kubernetes.io/kubelet-serving";

/// The prefix of the request's generated name (the kubelet's `csr-`).
pub const CSR_NAME_PREFIX: &str = "csr-";

/// The usages a kubelet asks for with an ECDSA key (client-go's
/// `DefaultKubeletServingGetUsages`; RSA keys add `key encipherment`).
pub const KUBELET_SERVING_USAGES: [&str; 2] = ["digital signature", "server auth"];

/// Most bytes of certificate chain accepted from `status.certificate`.
const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;

/// How often a pending request is logged again while it waits for approval.
const PENDING_REMINDER: Duration = Duration::from_secs(60);

/// Why no certificate came from a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    /// Neither a DNS name nor an IP address was given: the signer refuses such requests.
    #[error("the serving certificate request needs at least one dns name or ip address")]
    NoAddresses,
    /// Generating the key or encoding the request failed.
    #[error("generating the serving key and certificate request")]
    Generate(#[source] rcgen::Error),
    /// The API server refused to create the request.
    #[error("creating the certificate signing request")]
    Create(#[source] kube::Error),
    /// The API server did not answer the create call in time.
    #[error("creating the certificate signing request timed out")]
    CreateTimeout,
    /// The request was denied (`kubectl certificate deny`).
    #[error("certificate signing request {name} was denied: {reason}: {message}")]
    Denied {
        /// The request's name.
        name: String,
        /// The condition's reason.
        reason: String,
        /// The condition's message.
        message: String,
    },
    /// The signer could not sign the request.
    #[error("certificate signing request {name} failed: {reason}: {message}")]
    Failed {
        /// The request's name.
        name: String,
        /// The condition's reason.
        reason: String,
        /// The condition's message.
        message: String,
    },
    /// The request was deleted before a certificate was issued.
    #[error("certificate signing request {0} was deleted before it was issued")]
    Deleted(String),
    /// No certificate was issued in time (the request is probably still unapproved).
    #[error(
        "certificate signing request {name} was not issued within {timeout:?}; approve it with `kubectl certificate approve {name}`"
    )]
    Timeout {
        /// The request's name.
        name: String,
        /// How long it waited.
        timeout: Duration,
    },
    /// The issued certificate is unusable (not PEM, too large, or not for the key).
    #[error("certificate signing request {name} issued an unusable certificate: {problem}")]
    BadCertificate {
        /// The request's name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl CsrError {
    /// The request the error is about, once one was created.
    #[must_use]
    pub fn csr_name(&self) -> Option<&str> {
        match self {
            Self::Denied { name, .. }
            | Self::Failed { name, .. }
            | Self::Timeout { name, .. }
            | Self::BadCertificate { name, .. }
            | Self::Deleted(name) => Some(name),
            _ => None,
        }
    }
}

/// Result of requesting a certificate.
pub type Result<T, E = CsrError> = std::result::Result<T, E>;

// === ServingCsr ===

/// What the serving certificate is requested for, and how long to wait for it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServingCsr {
    /// The node's name: the subject is `CN=system:node:<node_name>, O=system:nodes`.
    pub node_name: String,
    /// DNS names (the node's hostname).
    pub names: Vec<String>,
    /// IP addresses (the node's InternalIP).
    pub ips: Vec<IpAddr>,
    /// Requested lifetime (`spec.expirationSeconds`, at least 10 minutes); `None` takes
    /// the signer's default (kube-controller-manager `--cluster-signing-duration`, one
    /// year), as the kubelet does.
    pub expiration: Option<Duration>,
    /// How long one request waits to be approved and issued before a new one is made
    /// (the kubelet's certificate manager waits 15 minutes).
    pub approval_timeout: Duration,
}

impl ServingCsr {
    /// A request for node `node_name` with no names or addresses yet, the signer's
    /// default lifetime and the kubelet's 15-minute wait.
    #[must_use]
    pub fn new(node_name: impl Into<String>) -> Self {
        Self {
            node_name: node_name.into(),
            names: Vec::new(),
            ips: Vec::new(),
            expiration: None,
            approval_timeout: Duration::from_secs(15 * 60),
        }
    }

    /// DNS names for the certificate.
    #[must_use]
    pub fn names(mut self, names: Vec<String>) -> Self {
        self.names = names;
        self
    }

    /// IP addresses for the certificate.
    #[must_use]
    pub fn ips(mut self, ips: Vec<IpAddr>) -> Self {
        self.ips = ips;
        self
    }

    /// Ask the signer for this lifetime (`spec.expirationSeconds`).
    #[must_use]
    pub fn expiration(mut self, lifetime: Duration) -> Self {
        self.expiration = Some(lifetime);
        self
    }

    /// How long one request waits for its certificate.
    #[must_use]
    pub fn approval_timeout(mut self, timeout: Duration) -> Self {
        self.approval_timeout = timeout;
        self
    }

    /// The subject common name, `system:node:<node>`.
    #[must_use]
    pub fn common_name(&self) -> String {
        format!("system:node:{}", self.node_name)
    }
}

/// A private key and the PEM PKCS#10 request for it.
pub(crate) struct KeyAndRequest {
    pub key: KeyPair,
    pub request_pem: String,
}

/// Generate an ECDSA P-256 key and a request for `csr`'s subject and names.
pub(crate) fn build_request(csr: &ServingCsr) -> Result<KeyAndRequest> {
    if csr.names.is_empty() && csr.ips.is_empty() {
        return Err(CsrError::NoAddresses);
    }
    let key = KeyPair::generate().map_err(CsrError::Generate)?;
    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::OrganizationName, "system:nodes");
    subject.push(DnType::CommonName, csr.common_name());
    params.distinguished_name = subject;
    for name in &csr.names {
        let name = name.clone().try_into().map_err(CsrError::Generate)?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    params
        .subject_alt_names
        .extend(csr.ips.iter().copied().map(SanType::IpAddress));
    let request_pem = params
        .serialize_request(&key)
        .and_then(|r| r.pem())
        .map_err(CsrError::Generate)?;
    Ok(KeyAndRequest { key, request_pem })
}

/// The CertificateSigningRequest object for `request_pem`.
pub(crate) fn csr_object(csr: &ServingCsr, request_pem: &str) -> CertificateSigningRequest {
    CertificateSigningRequest {
        metadata: ObjectMeta {
            generate_name: Some(CSR_NAME_PREFIX.to_owned()),
            ..ObjectMeta::default()
        },
        spec: CertificateSigningRequestSpec {
            request: ByteString(request_pem.as_bytes().to_vec()),
            signer_name: KUBELET_SERVING_SIGNER.to_owned(),
            usages: Some(
                KUBELET_SERVING_USAGES
                    .iter()
                    .map(|u| (*u).to_owned())
                    .collect(),
            ),
            expiration_seconds: csr
                .expiration
                .map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX)),
            ..CertificateSigningRequestSpec::default()
        },
        status: None,
    }
}

// === IssuedCertificate ===

/// A certificate the cluster issued for the serving key, ready for rustls.
#[derive(Clone, Debug)]
pub struct IssuedCertificate {
    /// The chain and its key.
    pub key: Arc<CertifiedKey>,
    /// Start of the leaf certificate's validity.
    pub not_before: Timestamp,
    /// End of the leaf certificate's validity.
    pub not_after: Timestamp,
    /// The request it came from.
    pub csr_name: String,
}

/// Pair the PEM chain from `status.certificate` with `key`.
pub(crate) fn issued(name: &str, pem: &[u8], key: &KeyPair) -> Result<IssuedCertificate> {
    let bad = |problem: String| CsrError::BadCertificate {
        name: name.to_owned(),
        problem,
    };
    if pem.len() > MAX_CERTIFICATE_BYTES {
        return Err(bad(format!("larger than {MAX_CERTIFICATE_BYTES} bytes")));
    }
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("not pem: {e}")))?;
    let leaf = chain
        .first()
        .ok_or_else(|| bad("no certificate in the pem data".to_owned()))?;
    let (_, parsed) =
        X509Certificate::from_der(leaf).map_err(|e| bad(format!("not x.509: {e}")))?;
    let validity = parsed.validity();
    let at = |t: x509_parser::time::ASN1Time| {
        Timestamp::from_second(t.timestamp()).map_err(|e| bad(format!("validity: {e}")))
    };
    let (not_before, not_after) = (at(validity.not_before)?, at(validity.not_after)?);
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let certified = CertifiedKey::from_der(chain, private, &provider)
        .map_err(|e| bad(format!("does not match the key: {e}")))?;
    Ok(IssuedCertificate {
        key: Arc::new(certified),
        not_before,
        not_after,
        csr_name: name.to_owned(),
    })
}

/// What a request's status says.
enum Outcome {
    Pending,
    Issued(Vec<u8>),
    Denied(String, String),
    Failed(String, String),
}

fn outcome(csr: &CertificateSigningRequest) -> Outcome {
    let Some(status) = &csr.status else {
        return Outcome::Pending;
    };
    for c in status.conditions.iter().flatten() {
        let reason = c.reason.clone().unwrap_or_default();
        let message = c.message.clone().unwrap_or_default();
        match c.type_.as_str() {
            "Denied" if c.status == "True" => return Outcome::Denied(reason, message),
            "Failed" if c.status == "True" => return Outcome::Failed(reason, message),
            _ => {}
        }
    }
    match &status.certificate {
        Some(cert) if !cert.0.is_empty() => Outcome::Issued(cert.0.clone()),
        _ => Outcome::Pending,
    }
}

// === request_certificate ===

/// Create a kubelet-serving request for `csr` and wait (up to `csr.approval_timeout`)
/// until it is issued, denied or failed. The request's name is logged with the command
/// that approves it.
///
/// # Errors
/// The request could not be made, was denied, failed, deleted or not issued in time, or
/// the issued certificate does not fit the key.
pub async fn request_certificate(
    client: &kube::Client,
    csr: &ServingCsr,
) -> Result<IssuedCertificate> {
    request_certificate_with(client, csr, |_| async {}).await
}

/// [`request_certificate`], calling `created` with the request's name once it exists.
pub(crate) async fn request_certificate_with<F, Fut>(
    client: &kube::Client,
    csr: &ServingCsr,
    on_created: F,
) -> Result<IssuedCertificate>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let KeyAndRequest { key, request_pem } = build_request(csr)?;
    let api = kube::Api::<CertificateSigningRequest>::all(client.clone());
    let created = time::timeout(
        API_CALL_TIMEOUT,
        api.create(&PostParams::default(), &csr_object(csr, &request_pem)),
    )
    .await
    .map_err(|_| CsrError::CreateTimeout)?
    .map_err(CsrError::Create)?;
    let name = created.metadata.name.clone().unwrap_or_default();
    tracing::warn!(
        csr = %name,
        node = %csr.node_name,
        "requested the kubelet serving certificate; kubelet-serving requests are not approved automatically: run `kubectl certificate approve {name}`"
    );
    on_created(name.clone()).await;
    let wait = wait_for_certificate(&api, &name, &csr.node_name);
    let pem = match time::timeout(csr.approval_timeout, wait).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(CsrError::Timeout {
                name,
                timeout: csr.approval_timeout,
            });
        }
    };
    let issued = issued(&name, &pem, &key)?;
    tracing::info!(csr = %name, not_after = %issued.not_after, "kubelet serving certificate issued");
    Ok(issued)
}

/// Watch request `name` until it has a certificate (returned as PEM) or a final condition.
async fn wait_for_certificate(
    api: &kube::Api<CertificateSigningRequest>,
    name: &str,
    node: &str,
) -> Result<Vec<u8>> {
    let stream = watcher::watch_object(api.clone(), name).default_backoff();
    tokio::pin!(stream);
    let mut reminder = time::interval_at(time::Instant::now() + PENDING_REMINDER, PENDING_REMINDER);
    loop {
        let event = tokio::select! {
            e = stream.try_next() => e,
            _ = reminder.tick() => {
                tracing::warn!(csr = %name, node = %node, "the kubelet serving certificate request is still pending: run `kubectl certificate approve {name}`");
                continue;
            }
        };
        match event {
            Ok(Some(Some(obj))) => match outcome(&obj) {
                Outcome::Pending => {}
                Outcome::Issued(pem) => return Ok(pem),
                Outcome::Denied(reason, message) => {
                    return Err(CsrError::Denied {
                        name: name.to_owned(),
                        reason,
                        message,
                    });
                }
                Outcome::Failed(reason, message) => {
                    return Err(CsrError::Failed {
                        name: name.to_owned(),
                        reason,
                        message,
                    });
                }
            },
            Ok(Some(None)) | Ok(None) => return Err(CsrError::Deleted(name.to_owned())),
            Err(e) => log_watch_error(name, &e),
        }
    }
}

fn log_watch_error(name: &str, e: &watcher::Error) {
    tracing::debug!(csr = %name, error = %e, "watching the certificate signing request failed; retrying");
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::certification_request::X509CertificationRequest;
    use x509_parser::extensions::{GeneralName, ParsedExtension};

    fn request() -> ServingCsr {
        ServingCsr::new("vk-aci")
            .names(vec!["vk-aci".into()])
            .ips(vec!["10.0.0.7".parse().unwrap()])
    }

    #[test]
    fn request_should_carry_the_node_subject_and_its_names() {
        let built = build_request(&request()).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(built.request_pem.as_bytes()).unwrap();
        assert_eq!(pem.label, "CERTIFICATE REQUEST");
        let (_, req) = X509CertificationRequest::from_der(&pem.contents).unwrap();
        let info = &req.certification_request_info;
        let cn: Vec<_> = info
            .subject
            .iter_common_name()
            .map(|a| a.as_str().unwrap())
            .collect();
        let o: Vec<_> = info
            .subject
            .iter_organization()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(cn, ["system:node:vk-aci"]);
        assert_eq!(o, ["system:nodes"]);
        let mut sans = Vec::new();
        for ext in req.requested_extensions().into_iter().flatten() {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for n in &san.general_names {
                    sans.push(match n {
                        GeneralName::DNSName(d) => (*d).to_owned(),
                        GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
                        other => format!("{other:?}"),
                    });
                }
            }
        }
        assert_eq!(sans, ["vk-aci", "ip:[10, 0, 0, 7]"]);
    }

    #[test]
    fn request_without_names_or_addresses_should_be_refused() {
        let err = build_request(&ServingCsr::new("vk")).err().unwrap();
        assert!(matches!(err, CsrError::NoAddresses));
    }

    #[test]
    fn csr_object_should_ask_the_kubelet_serving_signer() {
        let csr = request().expiration(Duration::from_secs(3600));
        let obj = csr_object(&csr, "PEM");
        assert_eq!(obj.metadata.generate_name.as_deref(), Some("csr-"));
        assert_eq!(obj.spec.signer_name, "kubernetes.io/kubelet-serving");
        assert_eq!(
            obj.spec.usages.as_deref().unwrap(),
            ["digital signature", "server auth"]
        );
        assert_eq!(obj.spec.expiration_seconds, Some(3600));
        assert_eq!(obj.spec.request.0, b"PEM");
    }

    #[test]
    fn issued_certificate_for_another_key_should_be_refused() {
        let built = build_request(&request()).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["x".to_owned()]).unwrap();
        let err = issued("csr-x", other.cert.pem().as_bytes(), &built.key).unwrap_err();
        assert!(err.to_string().contains("does not match the key"), "{err}");
        let err = issued("csr-x", b"not pem", &built.key).unwrap_err();
        assert!(matches!(err, CsrError::BadCertificate { .. }), "{err}");
    }
}
