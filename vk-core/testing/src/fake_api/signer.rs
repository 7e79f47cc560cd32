//! The `kubernetes.io/kubelet-serving` signer, as kube-controller-manager runs it: an
//! approved request is checked like the real signer checks it and signed by the fake
//! cluster CA; `status.certificate` gets the PEM chain. With the `auto_approve_csrs` knob
//! on, pending kubelet-serving requests are approved first (a real cluster never does
//! that by itself).
//!
//! Simplifications: requests of other signers stay pending; EC (P-256, P-384) and Ed25519
//! keys only (an RSA request fails); the request's own signature is not verified;
//! `notBefore` is backdated one second rather than kube-controller-manager's five minutes,
//! so short signing durations (builder `csr_signing_duration`) give short lifetimes.
use std::sync::Arc;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose,
    PublicKeyData, SanType, SignatureAlgorithm,
};
use serde_json::{Value, json};
use tokio::time::Duration;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer as _;

use super::resources::ids;
use super::state::State;
use super::store::{Filter, ObjKey, WatchFrom};
use super::tls::Pki;

/// The signer this fake runs.
const KUBELET_SERVING: &str = "kubernetes.io/kubelet-serving";

/// Start the signer; it stops with the server.
pub(crate) fn spawn(st: Arc<State>, pki: Arc<Pki>, duration: Duration) {
    tokio::spawn(async move {
        let Ok(mut w) = st.store.watch(
            ids::certificate_signing_requests(),
            Filter::default(),
            WatchFrom::Now,
        ) else {
            return;
        };
        loop {
            reconcile(&st, &pki, duration);
            tokio::select! {
                m = w.rx.recv() => if m.is_none() { break },
                () = st.stop.cancelled() => break,
            }
            while w.rx.try_recv().is_ok() {}
        }
        st.store.unwatch(w.id);
    });
}

fn reconcile(st: &State, pki: &Pki, duration: Duration) {
    let res = ids::certificate_signing_requests();
    let (items, ..) = st.store.list(res, &Filter::default(), None, None);
    let auto_approve = st.knobs.auto_approve_csrs();
    for csr in items {
        if csr.pointer("/spec/signerName").and_then(Value::as_str) != Some(KUBELET_SERVING) {
            continue;
        }
        let has = |t: &str| condition(&csr, t);
        let issued = csr
            .pointer("/status/certificate")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty());
        if issued || has("Denied") || has("Failed") {
            continue;
        }
        let name = csr["metadata"]["name"].as_str().unwrap_or_default();
        let key = ObjKey::new(res, "", name);
        if !has("Approved") {
            if auto_approve {
                let _ = st.store.modify(&key, |cur| {
                    let mut new = cur.clone();
                    push_condition(
                        &mut new,
                        "Approved",
                        "AutoApproved",
                        "approved by the fake API server's auto_approve_csrs knob",
                        &st.store.now_string(),
                    );
                    Ok(new)
                });
            }
            continue;
        }
        let outcome = sign(st, pki, &csr, duration);
        let _ = st.store.modify(&key, |cur| {
            let mut new = cur.clone();
            match &outcome {
                Ok(pem) => {
                    new["status"]["certificate"] = json!(base64_encode(pem.as_bytes()));
                }
                Err(problem) => push_condition(
                    &mut new,
                    "Failed",
                    "SignerValidationFailure",
                    problem,
                    &st.store.now_string(),
                ),
            }
            Ok(new)
        });
    }
}

fn condition(csr: &Value, type_: &str) -> bool {
    csr.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == type_ && c["status"] == "True")
        })
}

fn push_condition(csr: &mut Value, type_: &str, reason: &str, message: &str, now: &str) {
    if !csr["status"].is_object() {
        csr["status"] = json!({});
    }
    if !csr["status"]["conditions"].is_array() {
        csr["status"]["conditions"] = json!([]);
    }
    if let Some(cs) = csr["status"]["conditions"].as_array_mut() {
        cs.push(json!({
            "type": type_,
            "status": "True",
            "reason": reason,
            "message": message,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        }));
    }
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn base64_decode(data: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

/// The request's public key, as rcgen signs it.
struct RequestKey {
    alg: &'static SignatureAlgorithm,
    raw: Vec<u8>,
}

impl PublicKeyData for RequestKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

/// Check the request as kube-controller-manager's kubelet-serving signer does, then sign
/// it. `Err` carries the Failed condition's message.
fn sign(st: &State, pki: &Pki, csr: &Value, duration: Duration) -> Result<String, String> {
    let request = csr
        .pointer("/spec/request")
        .and_then(Value::as_str)
        .and_then(base64_decode)
        .ok_or("spec.request is not base64")?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&request)
        .map_err(|e| format!("spec.request is not a PEM certificate request: {e}"))?;
    let (_, req) = X509CertificationRequest::from_der(&pem.contents)
        .map_err(|e| format!("spec.request is not a PKCS#10 request: {e}"))?;
    let info = &req.certification_request_info;

    let text = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.filter_map(|a| a.as_str().ok().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    let orgs = text(&mut info.subject.iter_organization());
    let cns = text(&mut info.subject.iter_common_name());
    if orgs != ["system:nodes"] {
        return Err("subject organization is not system:nodes".into());
    }
    let cn = match cns.as_slice() {
        [cn] if cn.starts_with("system:node:") => cn.clone(),
        _ => return Err("subject common name does not begin with system:node:".into()),
    };
    let mut sans = Vec::new();
    for ext in req.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for n in &san.general_names {
                match n {
                    GeneralName::DNSName(d) => sans.push(SanType::DnsName(
                        (*d).to_owned().try_into().map_err(|e| format!("{e}"))?,
                    )),
                    GeneralName::IPAddress(ip) => sans.push(SanType::IpAddress(ip_of(ip)?)),
                    _ => return Err("only DNS and IP subjectAltNames are allowed".into()),
                }
            }
        }
    }
    if sans.is_empty() {
        return Err("DNS or IP subjectAltName is required".into());
    }
    let mut usages: Vec<&str> = csr
        .pointer("/spec/usages")
        .and_then(Value::as_array)
        .map(|u| u.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    usages.sort_unstable();
    let allowed: [&[&str]; 2] = [
        &["digital signature", "server auth"],
        &["digital signature", "key encipherment", "server auth"],
    ];
    if !allowed.contains(&usages.as_slice()) {
        return Err(format!(
            "usages did not match [digital signature key encipherment server auth]: {usages:?}"
        ));
    }

    let key = request_key(&req)?;
    let requested = csr
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_u64)
        .map_or(duration, Duration::from_secs);
    let lifetime = requested.min(duration);
    let now = std::time::SystemTime::from(st.clock.now());
    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::OrganizationName, "system:nodes");
    subject.push(DnType::CommonName, cn);
    params.distinguished_name = subject;
    params.subject_alt_names = sans;
    params.not_before = (now - Duration::from_secs(1)).into();
    params.not_after = (now + lifetime).into();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if usages.contains(&"key encipherment") {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &pki.ca_issuer())
        .map_err(|e| format!("signing failed: {e}"))?;
    Ok(cert.pem())
}

fn ip_of(bytes: &[u8]) -> Result<std::net::IpAddr, String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(std::net::IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes)
        .map(std::net::IpAddr::from)
        .map_err(|_| "an IP subjectAltName has a bad length".to_owned())
}

fn request_key(req: &X509CertificationRequest<'_>) -> Result<RequestKey, String> {
    let spki = &req.certification_request_info.subject_pki;
    let param = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok());
    let alg = if spki.algorithm.algorithm == OID_SIG_ED25519 {
        &rcgen::PKCS_ED25519
    } else if spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY
        && param.as_ref() == Some(&OID_EC_P256)
    {
        &rcgen::PKCS_ECDSA_P256_SHA256
    } else if spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY
        && param.as_ref() == Some(&OID_NIST_EC_P384)
    {
        &rcgen::PKCS_ECDSA_P384_SHA384
    } else {
        return Err("the fake signer supports EC P-256, P-384 and Ed25519 keys only".into());
    };
    Ok(RequestKey {
        alg,
        raw: spki.subject_public_key.data.to_vec(),
    })
}
