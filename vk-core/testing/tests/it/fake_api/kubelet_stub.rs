//! A tiny HTTPS kubelet for proxy tests: requires a client certificate from the fake
//! cluster CA, answers `/containerLogs`, `/stats/summary`, and echoes upgraded `/exec`.
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, PostParams};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use vk_testing::FakeApiServer;

/// What the test kubelet saw: request target and whether the client certificate was the
/// API server's kubelet client certificate.
#[derive(Clone, Default)]
pub(crate) struct Seen(pub(crate) Arc<Mutex<Vec<(String, bool)>>>);

/// A tiny HTTPS kubelet answering `/containerLogs` and requiring a client certificate from
/// the fake cluster CA.
pub(crate) async fn test_kubelet(server: &FakeApiServer) -> (u16, Seen) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca_pem = server.kubelet_client_ca_pem();
    let ca = rustls_pemfile::certs(&mut ca_pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    roots.add(ca).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Seen::default();
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let record = record.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let cn_ok = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .is_some_and(|c| {
                        c.windows(b"kube-apiserver-kubelet-client".len())
                            .any(|w| w == b"kube-apiserver-kubelet-client")
                    });
                let svc = service_fn(move |req| answer(req, record.clone(), cn_ok));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (port, seen)
}

type StubBody = UnsyncBoxBody<Bytes, std::convert::Infallible>;

fn full(b: impl Into<Bytes>) -> StubBody {
    Full::new(b.into()).boxed_unsync()
}

async fn answer(
    mut req: http::Request<hyper::body::Incoming>,
    record: Seen,
    cn_ok: bool,
) -> Result<http::Response<StubBody>, std::convert::Infallible> {
    let target = req.uri().to_string();
    record.0.lock().unwrap().push((target.clone(), cn_ok));
    if target.starts_with("/exec/") {
        // Echo the upgraded connection, answering with the protocol offered first.
        let proto = req.headers().get("x-stream-protocol-version").cloned();
        let upgrade = req.headers().get("upgrade").cloned();
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(up) = on.await else { return };
            let (mut r, mut w) = tokio::io::split(TokioIo::new(up));
            let _ = tokio::io::copy(&mut r, &mut w).await;
        });
        let mut resp = http::Response::new(full(Bytes::new()));
        *resp.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
        let h = resp.headers_mut();
        h.insert("connection", http::HeaderValue::from_static("Upgrade"));
        if let Some(u) = upgrade {
            h.insert("upgrade", u);
        }
        if let Some(p) = proto {
            h.insert("x-stream-protocol-version", p);
        }
        return Ok(resp);
    }
    if target.starts_with("/containerLogs/default/web/c") && target.contains("follow=true") {
        // One line now, then nothing until the client goes away: only a streaming proxy
        // lets the client see the first line.
        let (tx, rx) = tokio::sync::mpsc::channel::<
            Result<hyper::body::Frame<Bytes>, std::convert::Infallible>,
        >(1);
        tokio::spawn(async move {
            let _ = tx
                .send(Ok(hyper::body::Frame::data(Bytes::from("following\n"))))
                .await;
            tx.closed().await;
        });
        let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)).boxed_unsync();
        return Ok(http::Response::new(body));
    }
    let (status, body) = if target.starts_with("/containerLogs/default/web/c") {
        (200, "hello from the kubelet\nsecond line\n")
    } else if target == "/stats/summary" {
        (200, r#"{"node":{"nodeName":"vk"},"pods":[]}"#)
    } else {
        (404, "not found\n")
    };
    let mut resp = http::Response::new(full(body));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
    Ok(resp)
}

/// Register node `name` whose kubelet listens on 127.0.0.1:`port`.
pub(crate) async fn create_node(server: &FakeApiServer, name: &str, port: u16) {
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"type": "virtual-kubelet"}},
    }))
    .unwrap();
    let nodes: Api<Node> = Api::all(server.client());
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "conditions": [{"type": "Ready", "status": "True"}],
        "nodeInfo": {"kubeletVersion": "v1.33.0-vk", "osImage": "mock", "kernelVersion": "n/a",
                     "containerRuntimeVersion": "mock://1", "architecture": "amd64", "bootID": "",
                     "machineID": "", "kubeProxyVersion": "", "operatingSystem": "linux", "systemUUID": ""},
    }});
    nodes
        .patch_status(name, &Default::default(), &kube::api::Patch::Merge(status))
        .await
        .unwrap();
}
