//! The kubelet serving certificate from a `kubernetes.io/kubelet-serving`
//! CertificateSigningRequest: requested, approved (by the test, kubectl or the fake's
//! auto-approval), served on the kubelet port, renewed and retried after a denial.
use std::net::SocketAddr;
use std::sync::Arc;

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::reflector;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Duration, sleep, timeout};
use tokio_rustls::TlsConnector;
use vk_core::server::certificate_request::request_certificate;
use vk_core::server::{
    Auth, AuthConfig, CsrError, ServerState, ServingCert, ServingCertificate, ServingCsr,
    TlsConfig, router, tls,
};
use vk_testing::{FakeApiServer, MockProvider};
use x509_parser::prelude::{FromDer as _, GeneralName, ParsedExtension, X509Certificate};

const NODE: &str = "vk-csr";
const PATIENCE: Duration = Duration::from_secs(30);

fn csr_config() -> ServingCsr {
    ServingCsr::new(NODE)
        .names(vec![NODE.to_owned()])
        .ips(vec!["127.0.0.1".parse().unwrap()])
}

/// The kubelet API on 127.0.0.1:0 with its certificate from CSRs, and the manager running.
async fn start_kubelet(
    fake: &FakeApiServer,
    csr: ServingCsr,
    backoff: Duration,
) -> (SocketAddr, ServingCertificate) {
    let config = TlsConfig {
        serving: ServingCert::CertificateSigningRequest(csr),
        ..TlsConfig::self_signed(vec![], vec![])
    };
    let serving = ServingCertificate::empty();
    let server_config = config.server_config_with(&serving).unwrap();
    let manager = config
        .certificate_manager(fake.client(), &serving)
        .expect("a csr serving config has a manager")
        .retry_backoff(backoff, backoff);
    tokio::spawn(manager.run(std::future::pending()));

    let (store, _writer) = reflector::store::<Pod>();
    let auth = Auth::new(AuthConfig::default(), None);
    let state = ServerState::new(
        NODE,
        Arc::new(MockProvider::builder().build()),
        Arc::new(store),
        Arc::new(auth),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tls::serve(
        listener,
        server_config,
        config.connection_limits(),
        router(state),
        std::future::pending(),
    ));
    (addr, serving)
}

/// Handshake with the kubelet port trusting only the fake cluster CA; the leaf presented.
async fn served_certificate(addr: SocketAddr, ca_pem: &str) -> std::io::Result<Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await?;
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    Ok(leaf)
}

/// The first CertificateSigningRequest whose name is not in `known`, once one exists.
async fn new_csr(
    api: &Api<CertificateSigningRequest>,
    known: &[&str],
) -> CertificateSigningRequest {
    timeout(PATIENCE, async {
        loop {
            let list = api.list(&ListParams::default()).await.unwrap().items;
            if let Some(c) = list
                .into_iter()
                .find(|c| !known.contains(&c.metadata.name.as_deref().unwrap_or_default()))
            {
                return c;
            }
            sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the manager did not create a new certificate signing request")
}

fn name_of(csr: &CertificateSigningRequest) -> String {
    csr.metadata.name.clone().unwrap()
}

async fn set_condition(api: &Api<CertificateSigningRequest>, name: &str, type_: &str) {
    let patch = json!({"status": {"conditions": [{
        "type": type_,
        "status": "True",
        "reason": "ByTest",
        "message": format!("{type_} by the test"),
    }]}});
    api.patch_approval(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Subject CN and the SANs (DNS names and `ip:` addresses) of a DER certificate.
fn subject_and_sans(der: &[u8]) -> (String, String, Vec<String>) {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let issuer = cert.issuer().to_string();
    let mut sans = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            for n in &san.general_names {
                match n {
                    GeneralName::DNSName(d) => sans.push((*d).to_owned()),
                    GeneralName::IPAddress(ip) => sans.push(format!("ip:{ip:?}")),
                    _ => {}
                }
            }
        }
    }
    (cn, issuer, sans)
}

#[tokio::test]
async fn approved_kubelet_serving_csr_should_become_the_served_certificate() {
    let fake = FakeApiServer::start().await;
    let api = Api::<CertificateSigningRequest>::all(fake.client());
    let (addr, serving) = start_kubelet(&fake, csr_config(), Duration::from_secs(1)).await;

    let csr = new_csr(&api, &[]).await;
    let name = name_of(&csr);
    assert!(name.starts_with("csr-"), "{name}");
    assert_eq!(csr.spec.signer_name, "kubernetes.io/kubelet-serving");
    assert_eq!(
        csr.spec.usages.as_deref().unwrap(),
        ["digital signature", "server auth"]
    );
    assert_eq!(csr.spec.username.as_deref(), Some("kubernetes-admin"));
    let (_, pem) = x509_parser::pem::parse_x509_pem(&csr.spec.request.0).unwrap();
    let (_, req) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&pem.contents)
            .unwrap();
    assert_eq!(
        req.certification_request_info.subject.to_string(),
        format!("O=system:nodes, CN=system:node:{NODE}")
    );

    // Pending: no certificate to present, the handshake fails.
    assert!(served_certificate(addr, &fake.ca_pem()).await.is_err());

    set_condition(&api, &name, "Approved").await;
    timeout(PATIENCE, serving.ready())
        .await
        .expect("the approved request was not issued and served");
    let leaf = served_certificate(addr, &fake.ca_pem())
        .await
        .expect("the served certificate chains to the cluster CA");
    let (cn, issuer, sans) = subject_and_sans(&leaf);
    assert_eq!(cn, format!("system:node:{NODE}"));
    assert_eq!(issuer, "CN=fake-kubernetes-ca");
    assert_eq!(sans, [NODE.to_owned(), "ip:[127, 0, 0, 1]".to_owned()]);
    let issued = api.get(&name).await.unwrap();
    assert!(issued.status.unwrap().certificate.is_some());
}

#[tokio::test]
async fn short_lived_serving_certificate_should_be_renewed_with_a_new_csr() {
    let fake = FakeApiServer::builder()
        .csr_signing_duration(Duration::from_secs(4))
        .start()
        .await
        .unwrap();
    fake.knobs().auto_approve_csrs(true);
    let api = Api::<CertificateSigningRequest>::all(fake.client());
    let (addr, serving) = start_kubelet(&fake, csr_config(), Duration::from_secs(1)).await;

    timeout(PATIENCE, serving.ready())
        .await
        .expect("the auto-approved request was not served");
    let first = served_certificate(addr, &fake.ca_pem()).await.unwrap();
    let first_csr = name_of(&new_csr(&api, &[]).await);

    // Renewal comes at 70-90 % of the lifetime: a second request, then a new certificate.
    let second_csr = new_csr(&api, &[&first_csr]).await;
    let renewed = timeout(PATIENCE, async {
        loop {
            let now = served_certificate(addr, &fake.ca_pem()).await.unwrap();
            if now != first {
                return now;
            }
            sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the renewed certificate was never served");
    let (cn, _, sans) = subject_and_sans(&renewed);
    assert_eq!(cn, format!("system:node:{NODE}"));
    assert!(sans.contains(&NODE.to_owned()));
    assert!(
        api.get(&name_of(&second_csr))
            .await
            .unwrap()
            .status
            .unwrap()
            .certificate
            .is_some()
    );
}

#[tokio::test]
async fn denied_csr_should_be_a_clear_error_and_retried_with_a_new_request() {
    let fake = FakeApiServer::start().await;
    let api = Api::<CertificateSigningRequest>::all(fake.client());

    // One request on its own: the denial is the error, with the name and reason.
    let client = fake.client();
    let one = tokio::spawn(async move { request_certificate(&client, &csr_config()).await });
    let first = name_of(&new_csr(&api, &[]).await);
    set_condition(&api, &first, "Denied").await;
    let err = timeout(PATIENCE, one).await.unwrap().unwrap().unwrap_err();
    assert!(matches!(err, CsrError::Denied { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("certificate signing request {first} was denied: ByTest: Denied by the test")
    );

    // The manager retries a denied request with a new one, and serves once that is issued.
    let (addr, serving) = start_kubelet(&fake, csr_config(), Duration::from_millis(200)).await;
    let second = name_of(&new_csr(&api, &[&first]).await);
    set_condition(&api, &second, "Denied").await;
    let third = name_of(&new_csr(&api, &[&first, &second]).await);
    assert!(serving.current().is_none());
    set_condition(&api, &third, "Approved").await;
    timeout(PATIENCE, serving.ready())
        .await
        .expect("the retried request was not served");
    served_certificate(addr, &fake.ca_pem()).await.unwrap();

    // The operator sees it all on the Node: what to approve, the denial, the issue.
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(fake.client(), "default");
    let seen = timeout(PATIENCE, async {
        loop {
            let list = events.list(&ListParams::default()).await.unwrap().items;
            let notes: Vec<(String, String)> = list
                .iter()
                .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(NODE))
                .map(|e| {
                    (
                        e.reason.clone().unwrap_or_default(),
                        e.note.clone().unwrap_or_default(),
                    )
                })
                .collect();
            if notes.iter().any(|(r, _)| r == "ServingCertificateIssued") {
                return notes;
            }
            sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("no ServingCertificateIssued event");
    assert!(
        seen.iter().any(|(r, n)| r == "ServingCertificateRequested"
            && n.contains(&format!("kubectl certificate approve {third}"))),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(r, n)| r == "ServingCertificateRequestFailed"
                && n.contains(&format!("{second} was denied"))),
        "{seen:?}"
    );
}

#[tokio::test]
async fn kubectl_certificate_approve_should_issue_the_serving_certificate() {
    let fake = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).unwrap();
    let api = Api::<CertificateSigningRequest>::all(fake.client());
    let (addr, serving) = start_kubelet(&fake, csr_config(), Duration::from_secs(1)).await;
    let name = name_of(&new_csr(&api, &[]).await);

    let (ok, out, err) = kubectl("1.33", &kubeconfig, &["get", "csr"]).await;
    assert!(ok, "{err}");
    assert!(out.contains(&name) && out.contains("Pending"), "{out}");

    let (ok, out, err) = kubectl("1.33", &kubeconfig, &["certificate", "approve", &name]).await;
    assert!(ok, "{err}");
    assert!(out.contains("approved"), "{out}");
    timeout(PATIENCE, serving.ready())
        .await
        .expect("the kubectl-approved request was not served");
    served_certificate(addr, &fake.ca_pem()).await.unwrap();

    let (ok, out, err) = kubectl("1.33", &kubeconfig, &["get", "csr", &name]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("Approved,Issued") && out.contains("kubernetes.io/kubelet-serving"),
        "{out}"
    );
}

#[tokio::test]
async fn fake_signer_should_fail_a_request_that_is_not_for_a_node() {
    let fake = FakeApiServer::start().await;
    let api = Api::<CertificateSigningRequest>::all(fake.client());
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["web".to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "web");
    let pem = params.serialize_request(&key).unwrap().pem().unwrap();
    let mut csr: CertificateSigningRequest = serde_json::from_value(json!({
        "metadata": {"name": "not-a-node"},
        "spec": {
            "request": k8s_openapi::ByteString(pem.into_bytes()),
            "signerName": "kubernetes.io/kubelet-serving",
            "usages": ["digital signature", "server auth"],
        },
    }))
    .unwrap();
    api.create(&Default::default(), &csr).await.unwrap();
    set_condition(&api, "not-a-node", "Approved").await;
    let failed = timeout(PATIENCE, async {
        loop {
            let c = api.get("not-a-node").await.unwrap();
            let conditions = c.status.and_then(|s| s.conditions).unwrap_or_default();
            if let Some(f) = conditions.into_iter().find(|c| c.type_ == "Failed") {
                return f;
            }
            sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the signer never failed the request");
    assert_eq!(failed.reason.as_deref(), Some("SignerValidationFailure"));
    assert!(failed.message.unwrap().contains("system:nodes"));

    // Lifetimes under ten minutes are refused at creation, as by a real API server.
    csr.metadata.name = Some("too-short".into());
    csr.spec.expiration_seconds = Some(60);
    let err = api.create(&Default::default(), &csr).await.unwrap_err();
    assert!(err.to_string().contains("600 seconds"), "{err}");
}

#[tokio::test]
async fn kubectl_certificate_deny_should_make_the_manager_ask_again() {
    let fake = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).unwrap();
    let api = Api::<CertificateSigningRequest>::all(fake.client());
    let (_addr, serving) = start_kubelet(&fake, csr_config(), Duration::from_millis(200)).await;
    let first = name_of(&new_csr(&api, &[]).await);

    let (ok, _, err) = kubectl("1.27", &kubeconfig, &["certificate", "deny", &first]).await;
    assert!(ok, "{err}");
    let denied = api
        .get(&first)
        .await
        .unwrap()
        .status
        .unwrap()
        .conditions
        .unwrap();
    assert_eq!(denied[0].type_, "Denied");
    assert_eq!(denied[0].reason.as_deref(), Some("KubectlDeny"));

    let second = name_of(&new_csr(&api, &[&first]).await);
    assert!(serving.current().is_none());
    set_condition(&api, &second, "Approved").await;
    timeout(PATIENCE, serving.ready())
        .await
        .expect("the second request was not served");
}

/// Real kubectl `version` against `kubeconfig`: (success, stdout, stderr).
async fn kubectl(
    version: &str,
    kubeconfig: &std::path::Path,
    args: &[&str],
) -> (bool, String, String) {
    let out = vk_testing::kubectl::Kubectl::new(version, kubeconfig)
        .run(args)
        .await;
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
