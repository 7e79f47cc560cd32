//! Targeted cases of the Pod -> ContainerGroup translation the fixtures cannot express:
//! tokens passed in by the runtime, ACI's count limits, tags read back, redaction.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vk_translate::{
    FieldErrorKind, NodeOptions, ReferencedObjects, TranslateError, pod_key_from_tags,
    redact_secrets, translate_pod,
};

fn container(name: &str) -> k8s::Container {
    k8s::Container {
        name: name.to_owned(),
        image: Some("nginx:1.27".to_owned()),
        ..k8s::Container::default()
    }
}

fn pod(containers: Vec<k8s::Container>, volumes: Vec<k8s::Volume>) -> k8s::Pod {
    k8s::Pod {
        metadata: ObjectMeta {
            name: Some("web".to_owned()),
            namespace: Some("shop".to_owned()),
            uid: Some("uid-1".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(k8s::PodSpec {
            containers,
            volumes: Some(volumes),
            ..k8s::PodSpec::default()
        }),
        status: None,
    }
}

fn empty_dir(name: &str) -> k8s::Volume {
    k8s::Volume {
        name: name.to_owned(),
        empty_dir: Some(k8s::EmptyDirVolumeSource::default()),
        ..k8s::Volume::default()
    }
}

#[test]
fn service_account_token_passed_in_should_fill_the_projected_volume() {
    let volume = k8s::Volume {
        name: "kube-api-access-abc".to_owned(),
        projected: Some(k8s::ProjectedVolumeSource {
            sources: Some(vec![
                k8s::VolumeProjection {
                    service_account_token: Some(k8s::ServiceAccountTokenProjection {
                        path: "token".to_owned(),
                        ..k8s::ServiceAccountTokenProjection::default()
                    }),
                    ..k8s::VolumeProjection::default()
                },
                k8s::VolumeProjection {
                    downward_api: Some(k8s::DownwardAPIProjection {
                        items: Some(vec![k8s::DownwardAPIVolumeFile {
                            path: "namespace".to_owned(),
                            field_ref: Some(k8s::ObjectFieldSelector {
                                field_path: "metadata.namespace".to_owned(),
                                api_version: None,
                            }),
                            ..k8s::DownwardAPIVolumeFile::default()
                        }]),
                    }),
                    ..k8s::VolumeProjection::default()
                },
            ]),
            ..k8s::ProjectedVolumeSource::default()
        }),
        ..k8s::Volume::default()
    };
    let objects = ReferencedObjects {
        service_account_tokens: BTreeMap::from([(
            "kube-api-access-abc/token".to_owned(),
            "eyJhbGciOi.token".to_owned(),
        )]),
        ..ReferencedObjects::default()
    };
    let t = translate_pod(
        &pod(vec![container("web")], vec![volume]),
        &objects,
        &NodeOptions::default(),
    )
    .unwrap();
    let files = t.container_group.properties.volumes[0]
        .secret
        .clone()
        .unwrap();
    let decode = |k: &str| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(&files[k])
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(decode("token"), "eyJhbGciOi.token");
    assert_eq!(decode("namespace"), "shop");
}

#[test]
fn more_than_sixty_containers_should_not_run() {
    let containers = (0..61).map(|i| container(&format!("c{i}"))).collect();
    let err = translate_pod(
        &pod(containers, vec![]),
        &ReferencedObjects::default(),
        &NodeOptions::default(),
    )
    .unwrap_err();
    let errors = err.field_errors();
    assert!(
        errors
            .iter()
            .any(|e| e.field == "spec.containers" && e.kind == FieldErrorKind::OverLimit),
        "{err}"
    );
}

#[test]
fn more_than_twenty_volumes_should_not_run() {
    let volumes = (0..21).map(|i| empty_dir(&format!("v{i}"))).collect();
    let err = translate_pod(
        &pod(vec![container("web")], volumes),
        &ReferencedObjects::default(),
        &NodeOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.field_errors().iter().any(|e| e.field == "spec.volumes"),
        "{err}"
    );
    assert_eq!(err.reason(), "ProviderFailed");
}

#[test]
fn pod_without_spec_should_be_an_error() {
    let mut p = pod(vec![], vec![]);
    p.spec = None;
    let err =
        translate_pod(&p, &ReferencedObjects::default(), &NodeOptions::default()).unwrap_err();
    assert!(matches!(err, TranslateError::MissingSpec));
}

#[test]
fn tags_should_give_back_the_pod_for_adoption() {
    let node = NodeOptions::default()
        .node_name("vn-1")
        .cluster_name("aks-1");
    let t = translate_pod(
        &pod(vec![container("web")], vec![]),
        &ReferencedObjects::default(),
        &node,
    )
    .unwrap();
    let tagged = pod_key_from_tags(&t.container_group.tags).unwrap();
    assert_eq!(tagged.namespace, "shop");
    assert_eq!(tagged.name, "web");
    assert_eq!(tagged.uid.as_deref(), Some("uid-1"));
    assert_eq!(tagged.node_name.as_deref(), Some("vn-1"));
    assert_eq!(tagged.cluster_name.as_deref(), Some("aks-1"));
    assert_eq!(t.name, "shop-web");
}

#[test]
fn redaction_should_hide_every_secret_value() {
    let secret = k8s::Secret {
        metadata: ObjectMeta {
            name: Some("s".to_owned()),
            ..ObjectMeta::default()
        },
        string_data: Some(BTreeMap::from([
            ("password".to_owned(), "pw-value-1".to_owned()),
            (
                ".dockerconfigjson".to_owned(),
                r#"{"auths":{"r.example":{"username":"u","password":"pw-value-2"}}}"#.to_owned(),
            ),
            ("azurestorageaccountname".to_owned(), "acct".to_owned()),
            ("azurestorageaccountkey".to_owned(), "pw-value-3".to_owned()),
        ])),
        type_: Some("kubernetes.io/dockerconfigjson".to_owned()),
        ..k8s::Secret::default()
    };
    let mut c = container("web");
    c.env = Some(vec![k8s::EnvVar {
        name: "P".to_owned(),
        value_from: Some(k8s::EnvVarSource {
            secret_key_ref: Some(k8s::SecretKeySelector {
                name: "s".to_owned(),
                key: "password".to_owned(),
                optional: None,
            }),
            ..k8s::EnvVarSource::default()
        }),
        value: None,
    }]);
    let volumes = vec![
        k8s::Volume {
            name: "files".to_owned(),
            secret: Some(k8s::SecretVolumeSource {
                secret_name: Some("s".to_owned()),
                ..k8s::SecretVolumeSource::default()
            }),
            ..k8s::Volume::default()
        },
        k8s::Volume {
            name: "share".to_owned(),
            azure_file: Some(k8s::AzureFileVolumeSource {
                secret_name: "s".to_owned(),
                share_name: "data".to_owned(),
                read_only: None,
            }),
            ..k8s::Volume::default()
        },
    ];
    let mut p = pod(vec![c], volumes);
    p.spec.as_mut().unwrap().image_pull_secrets = Some(vec![k8s::LocalObjectReference {
        name: "s".to_owned(),
    }]);
    let objects = ReferencedObjects {
        secrets: BTreeMap::from([("s".to_owned(), secret)]),
        ..ReferencedObjects::default()
    };
    let node = NodeOptions::default().log_analytics("ws", "pw-value-4");
    let mut group = translate_pod(&p, &objects, &node).unwrap().container_group;
    let before = serde_json::to_string(&group).unwrap();
    for secret in ["pw-value-1", "pw-value-2", "pw-value-3", "pw-value-4"] {
        assert!(before.contains(secret), "{secret} not in the translation");
    }
    redact_secrets(&mut group);
    let after = serde_json::to_string(&group).unwrap();
    for secret in ["pw-value-1", "pw-value-2", "pw-value-3", "pw-value-4"] {
        assert!(!after.contains(secret), "{secret} in {after}");
    }
    let base64_of_secret = base64::engine::general_purpose::STANDARD.encode("pw-value-1");
    assert!(!after.contains(&base64_of_secret));
    assert!(!format!("{group:?}").contains("pw-value"));
}

#[test]
fn translation_should_be_deterministic() {
    let p = pod(vec![container("a"), container("b")], vec![empty_dir("x")]);
    let node = NodeOptions::default();
    let one = translate_pod(&p, &ReferencedObjects::default(), &node).unwrap();
    let two = translate_pod(&p, &ReferencedObjects::default(), &node).unwrap();
    assert_eq!(one.container_group, two.container_group);
    assert_eq!(one.warnings, two.warnings);
}

// === Azure Files claims ===

fn claim_volume(claim: &str) -> k8s::Volume {
    k8s::Volume {
        name: "data".to_owned(),
        persistent_volume_claim: Some(k8s::PersistentVolumeClaimVolumeSource {
            claim_name: claim.to_owned(),
            read_only: None,
        }),
        ..k8s::Volume::default()
    }
}

fn bound_claim(volume: &str) -> k8s::PersistentVolumeClaim {
    k8s::PersistentVolumeClaim {
        spec: Some(k8s::PersistentVolumeClaimSpec {
            volume_name: Some(volume.to_owned()),
            ..k8s::PersistentVolumeClaimSpec::default()
        }),
        status: Some(k8s::PersistentVolumeClaimStatus {
            phase: Some("Bound".to_owned()),
            ..k8s::PersistentVolumeClaimStatus::default()
        }),
        ..k8s::PersistentVolumeClaim::default()
    }
}

fn csi_files_volume() -> k8s::PersistentVolume {
    k8s::PersistentVolume {
        spec: Some(k8s::PersistentVolumeSpec {
            access_modes: Some(vec!["ReadWriteMany".to_owned()]),
            csi: Some(k8s::CSIPersistentVolumeSource {
                driver: "file.csi.azure.com".to_owned(),
                volume_handle: "rg#acct#share".to_owned(),
                node_stage_secret_ref: Some(k8s::SecretReference {
                    name: Some("files".to_owned()),
                    namespace: Some("storage".to_owned()),
                }),
                ..k8s::CSIPersistentVolumeSource::default()
            }),
            ..k8s::PersistentVolumeSpec::default()
        }),
        ..k8s::PersistentVolume::default()
    }
}

#[test]
fn claim_helpers_should_name_what_the_runtime_resolves() {
    let p = pod(vec![container("web")], vec![claim_volume("data")]);
    assert_eq!(
        vk_translate::claims::claim_names(&p),
        ["data".to_owned()].into()
    );
    assert_eq!(
        vk_translate::claims::volume_secret(&csi_files_volume(), "shop"),
        Some(("storage".to_owned(), "files".to_owned()))
    );
    let mut default_named = csi_files_volume();
    default_named
        .spec
        .as_mut()
        .unwrap()
        .csi
        .as_mut()
        .unwrap()
        .node_stage_secret_ref = None;
    assert_eq!(
        vk_translate::claims::volume_secret(&default_named, "shop"),
        Some((
            "shop".to_owned(),
            "azure-storage-account-acct-secret".to_owned()
        ))
    );
}

#[test]
fn bound_azure_files_claim_should_mount_with_the_key_of_another_namespace_kept_secret() {
    let key = "a-storage-key-value";
    let objects = ReferencedObjects {
        persistent_volume_claims: BTreeMap::from([("data".to_owned(), bound_claim("pv-1"))]),
        persistent_volumes: BTreeMap::from([("pv-1".to_owned(), csi_files_volume())]),
        volume_secrets: BTreeMap::from([(
            vk_translate::claims::volume_secret_key("storage", "files"),
            k8s::Secret {
                string_data: Some(BTreeMap::from([(
                    "azurestorageaccountkey".to_owned(),
                    key.to_owned(),
                )])),
                ..k8s::Secret::default()
            },
        )]),
        ..ReferencedObjects::default()
    };
    let t = translate_pod(
        &pod(vec![container("web")], vec![claim_volume("data")]),
        &objects,
        &NodeOptions::default(),
    )
    .unwrap();
    let file = t.container_group.properties.volumes[0]
        .azure_file
        .clone()
        .unwrap();
    assert_eq!(
        (file.share_name.as_str(), file.storage_account_name.as_str()),
        ("share", "acct")
    );
    assert_eq!(file.storage_account_key.as_deref(), Some(key));
    assert!(!format!("{t:?}").contains(key), "Debug shows the key");
    let mut group = t.container_group;
    redact_secrets(&mut group);
    assert!(!serde_json::to_string(&group).unwrap().contains(key));
}

#[test]
fn unbound_claim_should_wait_and_a_missing_volume_should_not() {
    let unbound = k8s::PersistentVolumeClaim::default();
    let objects = ReferencedObjects {
        persistent_volume_claims: BTreeMap::from([("data".to_owned(), unbound)]),
        ..ReferencedObjects::default()
    };
    let p = pod(vec![container("web")], vec![claim_volume("data")]);
    let err = translate_pod(&p, &objects, &NodeOptions::default()).unwrap_err();
    assert!(err.is_waiting(), "{err}");
    assert_eq!(err.reason(), "PersistentVolumeClaimNotBound");

    let objects = ReferencedObjects {
        persistent_volume_claims: BTreeMap::from([("data".to_owned(), bound_claim("gone"))]),
        ..ReferencedObjects::default()
    };
    let err = translate_pod(&p, &objects, &NodeOptions::default()).unwrap_err();
    assert!(!err.is_waiting());
    assert!(
        err.to_string().contains("persistentvolume \"gone\""),
        "{err}"
    );
}

#[test]
fn an_invalid_node_acr_identity_should_be_a_node_error_only_for_acr_images() {
    let node = NodeOptions::default().acr_pull_identity("acr-pull");
    let mut acr = container("web");
    acr.image = Some("myacr.azurecr.io/web:1".to_owned());
    let err = translate_pod(
        &pod(vec![acr], vec![]),
        &ReferencedObjects::default(),
        &node,
    )
    .unwrap_err();
    assert_eq!(err.field_errors()[0].field, "node.acrPullIdentity");
    let t = translate_pod(
        &pod(vec![container("web")], vec![]),
        &ReferencedObjects::default(),
        &node,
    )
    .unwrap();
    assert!(t.container_group.identity.is_none());
}
