//! Kubernetes protobuf over the wire, as kubectl 1.33 speaks it: a protobuf body in, a
//! protobuf answer out when `Accept` asks for it first, JSON otherwise; the messages are
//! k8s-pb's (kube-rs's generated Kubernetes types).
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vk_testing::FakeApiServer;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    [b"k8s\0".as_slice(), &unknown.encode_to_vec()].concat()
}

/// One HTTP/1.1 exchange: (status, content type, body).
async fn exchange(
    api: &FakeApiServer,
    method: &str,
    path: &str,
    accept: &str,
    body: Option<&[u8]>,
) -> (u16, String, Vec<u8>) {
    let mut tcp = TcpStream::connect(api.addr()).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: fake\r\nAccept: {accept}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n",
        api.admin_token()
    );
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: {PROTOBUF}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    if let Some(b) = body {
        tcp.write_all(b).await.unwrap();
    }
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_owned();
    (status, content_type, raw[split + 4..].to_vec())
}

fn unwrap(body: &[u8]) -> (String, Vec<u8>) {
    let unknown = Unknown::decode(body.strip_prefix(b"k8s\0").unwrap()).unwrap();
    (
        unknown.type_meta.unwrap().kind.unwrap(),
        unknown.raw.unwrap(),
    )
}

#[tokio::test]
async fn a_protobuf_namespace_should_be_created_and_answered_in_protobuf() {
    let api = FakeApiServer::start().await;
    let ns = core::Namespace {
        metadata: Some(meta::ObjectMeta {
            name: Some("virtualnode".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let body = envelope("v1", "Namespace", ns.encode_to_vec());
    let accept = format!("{PROTOBUF},application/json");
    let (status, ct, answer) =
        exchange(&api, "POST", "/api/v1/namespaces", &accept, Some(&body)).await;
    assert_eq!((status, ct.as_str()), (201, PROTOBUF));
    let (kind, raw) = unwrap(&answer);
    assert_eq!(kind, "Namespace");
    let created = core::Namespace::decode(raw.as_slice()).unwrap();
    let meta = created.metadata.unwrap();
    assert_eq!(meta.name.as_deref(), Some("virtualnode"));
    assert!(meta.uid.is_some_and(|u| !u.is_empty()));
    assert!(meta.creation_timestamp.and_then(|t| t.seconds).unwrap() > 0);
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Active"));

    // JSON first: JSON back.
    let (status, ct, answer) = exchange(
        &api,
        "GET",
        "/api/v1/namespaces/virtualnode",
        "application/json, */*",
        None,
    )
    .await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(v["metadata"]["name"], "virtualnode");

    // Errors are protobuf Status objects.
    let (status, ct, answer) =
        exchange(&api, "POST", "/api/v1/namespaces", &accept, Some(&body)).await;
    assert_eq!((status, ct.as_str()), (409, PROTOBUF));
    let (kind, raw) = unwrap(&answer);
    assert_eq!(kind, "Status");
    let s = meta::Status::decode(raw.as_slice()).unwrap();
    assert_eq!(s.reason.as_deref(), Some("AlreadyExists"));
    assert_eq!(s.code, Some(409));

    // Lists too.
    let (status, ct, answer) = exchange(&api, "GET", "/api/v1/namespaces", &accept, None).await;
    assert_eq!((status, ct.as_str()), (200, PROTOBUF));
    let (kind, raw) = unwrap(&answer);
    assert_eq!(kind, "NamespaceList");
    let list = core::NamespaceList::decode(raw.as_slice()).unwrap();
    assert!(list.items.len() >= 5);
}

#[tokio::test]
async fn a_protobuf_body_of_an_unknown_kind_should_be_unsupported_and_garbage_a_bad_request() {
    let api = FakeApiServer::start().await;
    let accept = "application/json";
    let widget = envelope("example.com/v1", "Widget", Vec::new());
    let (status, ..) = exchange(&api, "POST", "/api/v1/namespaces", accept, Some(&widget)).await;
    assert_eq!(status, 415);
    let (status, _, answer) = exchange(
        &api,
        "POST",
        "/api/v1/namespaces",
        accept,
        Some(b"k8s\0\x0a\xff"),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&answer));
}
