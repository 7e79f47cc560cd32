use k8s_pb::api::certificates::v1 as certificates;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message as _;
use serde_json::json;

use super::decoder::{decode_message, go_duration};
use super::encoder::{encode_len, parse_go_duration};
use super::schema::SCHEMA;
use super::*;

/// The envelope around a k8s-pb message, as Go writes it.
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
    [MAGIC, &unknown.encode_to_vec()].concat()
}

fn unwrap_envelope(body: &[u8]) -> Unknown {
    Unknown::decode(body.strip_prefix(MAGIC).unwrap()).unwrap()
}

fn pod_json() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web", "tier": "front"},
            "creationTimestamp": "2025-01-02T03:04:05Z",
            "managedFields": [{"manager": "kubectl", "operation": "Update",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:containers": {}}},
                "time": "2025-01-02T03:04:05Z"}],
        },
        "spec": {
            "containers": [{
                "name": "nginx",
                "image": "nginx:1.27",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}},
                "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5},
                "livenessProbe": {"httpGet": {"path": "/", "port": "http"}},
            }],
            "nodeSelector": {"kubernetes.io/role": "agent"},
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": false,
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
        },
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.7",
            "podIPs": [{"ip": "10.0.0.7"}],
            "startTime": "2025-01-02T03:04:06Z",
        },
    })
}

#[test]
fn a_pod_should_round_trip_through_protobuf() {
    let pod = pod_json();
    let bytes = encode(&pod).unwrap();
    assert!(bytes.starts_with(MAGIC));
    assert_eq!(decode(&bytes).unwrap(), pod);
}

#[test]
fn encoded_pods_should_read_as_k8s_pb_pods() {
    let bytes = encode(&pod_json()).unwrap();
    let unknown = unwrap_envelope(&bytes);
    let tm = unknown.type_meta.unwrap();
    assert_eq!(
        (tm.api_version.as_deref(), tm.kind.as_deref()),
        (Some("v1"), Some("Pod"))
    );
    let pod = core::Pod::decode(unknown.raw.unwrap().as_slice()).unwrap();
    let meta = pod.metadata.unwrap();
    assert_eq!(meta.name.as_deref(), Some("web"));
    assert_eq!(meta.labels["tier"], "front");
    assert_eq!(
        meta.creation_timestamp.unwrap().seconds,
        Some(1_735_787_045)
    );
    let fields = meta.managed_fields[0]
        .fields_v1
        .clone()
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&fields).unwrap(),
        json!({"f:spec": {"f:containers": {}}})
    );
    let spec = pod.spec.unwrap();
    let c = &spec.containers[0];
    assert_eq!(c.image.as_deref(), Some("nginx:1.27"));
    assert_eq!(c.ports[0].container_port, Some(80));
    let cpu = &c.resources.as_ref().unwrap().requests["cpu"];
    assert_eq!(cpu.string.as_deref(), Some("250m"));
    let port = |p: &Option<core::Probe>| {
        p.as_ref()
            .unwrap()
            .handler
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .port
            .clone()
            .unwrap()
    };
    let int = port(&c.readiness_probe);
    assert_eq!((int.r#type, int.int_val), (Some(0), Some(80)));
    let named = port(&c.liveness_probe);
    assert_eq!(
        (named.r#type, named.str_val.as_deref()),
        (Some(1), Some("http"))
    );
    assert_eq!(spec.termination_grace_period_seconds, Some(0));
    assert_eq!(spec.automount_service_account_token, Some(false));
    let status = pod.status.unwrap();
    assert_eq!(status.pod_ips[0].ip.as_deref(), Some("10.0.0.7"));
}

#[test]
fn k8s_pb_messages_should_decode_to_the_json_the_api_server_serves() {
    let secret = core::Secret {
        metadata: Some(meta::ObjectMeta {
            name: Some("creds".into()),
            generate_name: Some(String::new()),
            namespace: Some(String::new()),
            generation: Some(0),
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        data: [("password".to_owned(), b"hunter2".to_vec())].into(),
        r#type: Some("Opaque".into()),
        ..Default::default()
    };
    let v = decode(&envelope("v1", "Secret", secret.encode_to_vec())).unwrap();
    // Empty strings and zero times are what Go leaves out of JSON.
    assert_eq!(
        v,
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "generation": 0},
            "data": {"password": "aHVudGVyMg=="},
            "type": "Opaque",
        })
    );

    let port = core::ServicePort {
        port: Some(80),
        target_port: Some(IntOrString {
            r#type: Some(1),
            int_val: Some(0),
            str_val: Some("http".into()),
        }),
        ..Default::default()
    };
    let svc = core::Service {
        spec: Some(core::ServiceSpec {
            ports: vec![port],
            cluster_ips: vec!["10.96.0.10".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let v = decode(&envelope("v1", "Service", svc.encode_to_vec())).unwrap();
    assert_eq!(v["spec"]["ports"][0]["targetPort"], "http");
    assert_eq!(v["spec"]["clusterIPs"][0], "10.96.0.10");
}

#[test]
fn a_csr_approval_should_decode_to_its_conditions() {
    let csr = certificates::CertificateSigningRequest {
        metadata: Some(meta::ObjectMeta {
            name: Some("csr-abc".into()),
            resource_version: Some("42".into()),
            ..Default::default()
        }),
        status: Some(certificates::CertificateSigningRequestStatus {
            conditions: vec![certificates::CertificateSigningRequestCondition {
                r#type: Some("Approved".into()),
                status: Some("True".into()),
                reason: Some("KubectlApprove".into()),
                message: Some("This CSR was approved by kubectl certificate approve.".into()),
                last_update_time: Some(meta::Time {
                    seconds: Some(1_700_000_000),
                    nanos: Some(0),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let body = envelope(
        "certificates.k8s.io/v1",
        "CertificateSigningRequest",
        csr.encode_to_vec(),
    );
    let v = decode(&body).unwrap();
    assert_eq!(v["metadata"]["resourceVersion"], "42");
    let c = &v["status"]["conditions"][0];
    assert_eq!(c["type"], "Approved");
    assert_eq!(c["status"], "True");
    assert_eq!(c["lastUpdateTime"], "2023-11-14T22:13:20Z");
}

#[test]
fn status_and_delete_options_should_be_found_from_any_group() {
    let status = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
        "message": "pods \"x\" not found", "reason": "NotFound", "code": 404,
        "details": {"name": "x", "kind": "pods"}, "metadata": {}});
    let bytes = encode(&status).unwrap();
    let s = meta::Status::decode(unwrap_envelope(&bytes).raw.unwrap().as_slice()).unwrap();
    assert_eq!(s.code, Some(404));
    assert_eq!(decode(&bytes).unwrap(), status);

    let opts = meta::DeleteOptions {
        grace_period_seconds: Some(0),
        propagation_policy: Some("Foreground".into()),
        ..Default::default()
    };
    let v = decode(&envelope(
        "meta.k8s.io/v1",
        "DeleteOptions",
        opts.encode_to_vec(),
    ))
    .unwrap();
    assert_eq!(v["gracePeriodSeconds"], 0);
    assert_eq!(v["propagationPolicy"], "Foreground");
}

#[test]
fn packed_and_unpacked_repeated_integers_should_both_decode() {
    // HTTPGetAction is not it; ContainerStateTerminated has no lists. Use a ServiceSpec's
    // ports' numbers through a hand-built Capabilities-free message: SELinux has none
    // either, so check the generic path on a k8s-pb message with repeated int64.
    let ctx = core::PodSecurityContext {
        supplemental_groups: vec![1000, 2000],
        ..Default::default()
    };
    let mut unpacked = Vec::new();
    ctx.encode(&mut unpacked).unwrap();
    let msg = SCHEMA.message("api.core.v1.PodSecurityContext").unwrap();
    let v = decode_message(&unpacked, msg, 0).unwrap();
    assert_eq!(v["supplementalGroups"], json!([1000, 2000]));
    let mut packed = Vec::new();
    let number = msg
        .fields
        .iter()
        .find(|f| f.json == "supplementalGroups")
        .unwrap()
        .number;
    encode_len(number, &[0xe8, 0x07, 0xd0, 0x0f], &mut packed);
    assert_eq!(decode_message(&packed, msg, 0).unwrap(), v);
}

#[test]
fn garbage_should_be_refused_without_panicking() {
    assert_eq!(decode(b"{}"), Err(Error::Magic));
    assert!(matches!(decode(b"k8s\0\xff\xff"), Err(Error::Malformed(_))));
    let unknown_kind = envelope("widgets.example.com/v1", "Widget", Vec::new());
    assert!(matches!(
        decode(&unknown_kind),
        Err(Error::UnknownKind { .. })
    ));
    // A length past the end, a wrong wire type, deep nesting.
    assert!(decode(&envelope("v1", "Pod", vec![0x0a, 0x05, 0x01])).is_err());
    assert!(decode(&envelope("v1", "Pod", vec![0x08, 0x01])).is_err());
    let mut deep = Vec::new();
    for _ in 0..200 {
        let mut outer = Vec::new();
        encode_len(1, &deep, &mut outer); // ObjectMeta... nested as field 1 of itself
        deep = outer;
    }
    let _ = decode(&envelope("v1", "Pod", deep));
}

#[test]
fn accept_headers_should_pick_protobuf_only_when_it_comes_first() {
    assert!(accepts_protobuf_first(
        "application/vnd.kubernetes.protobuf,application/json"
    ));
    assert!(!accepts_protobuf_first(
        "application/json,application/vnd.kubernetes.protobuf"
    ));
    assert!(!accepts_protobuf_first(
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    ));
    assert!(!accepts_protobuf_first("*/*"));
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
    assert!(!is_protobuf("application/json"));
}

#[test]
fn go_durations_should_print_and_parse_as_go_does() {
    for (nanos, s) in [
        (0, "0s"),
        (1_500_000_000, "1.5s"),
        (3_723_000_000_000, "1h2m3s"),
        (60_000_000_000, "1m0s"),
    ] {
        assert_eq!(go_duration(nanos), s);
        assert_eq!(parse_go_duration(s), Some(nanos));
    }
    assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
    assert_eq!(parse_go_duration("9999999999999h"), None);
}
