//! Properties of the translation over generated pods: it never panics, names are valid for
//! ARM, resources sit within ACI's bounds and on its steps, and secret values appear only in
//! secure fields.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use vk_translate::names::is_valid_container_group_name;
use vk_translate::resources::{MAX_GROUP_CPU, MAX_GROUP_MEMORY_IN_GB};
use vk_translate::{NodeOptions, ReferencedObjects, translate_pod};

/// A generated pod with the Secrets it may reference and every secret value used.
#[derive(Debug, Clone)]
struct Case {
    pod: k8s::Pod,
    objects: ReferencedObjects,
    secret_values: Vec<String>,
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        "[a-z0-9]([a-z0-9.-]{0,90}[a-z0-9])?",
        "\\PC{0,70}",
    ]
}

fn label() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9-]{0,10}[a-z0-9])?"
}

fn cpu() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..40_000).prop_map(|m| format!("{m}m")),
        (0u32..40, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        (0u32..40).prop_map(|n| n.to_string()),
        "\\PC{0,6}",
    ]
}

fn memory() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..300_000).prop_map(|m| format!("{m}Mi")),
        (0u64..300).prop_map(|g| format!("{g}G")),
        (0u64..300_000_000_000).prop_map(|b| b.to_string()),
        (0u32..300, 0u32..10).prop_map(|(a, b)| format!("{a}.{b}Gi")),
        "\\PC{0,6}",
    ]
}

fn resources() -> impl Strategy<Value = Option<k8s::ResourceRequirements>> {
    proptest::option::of(
        (
            proptest::option::of(cpu()),
            proptest::option::of(memory()),
            proptest::option::of(cpu()),
            proptest::option::of(memory()),
        )
            .prop_map(|(rc, rm, lc, lm)| {
                let map = |c: Option<String>, m: Option<String>| {
                    let mut map = BTreeMap::new();
                    if let Some(c) = c {
                        map.insert("cpu".to_owned(), Quantity(c));
                    }
                    if let Some(m) = m {
                        map.insert("memory".to_owned(), Quantity(m));
                    }
                    Some(map)
                };
                k8s::ResourceRequirements {
                    requests: map(rc, rm),
                    limits: map(lc, lm),
                    claims: None,
                }
            }),
    )
}

/// An env entry: a literal (maybe expanding another variable) or a secret key.
fn env_var(index: usize) -> impl Strategy<Value = k8s::EnvVar> {
    prop_oneof![
        ("[ -~]{0,12}", 0usize..6).prop_map(move |(v, r)| k8s::EnvVar {
            name: format!("E{index}"),
            value: Some(format!("{v}$(E{r})")),
            value_from: None,
        }),
        (0usize..3, any::<bool>()).prop_map(move |(key, optional)| k8s::EnvVar {
            name: format!("E{index}"),
            value: None,
            value_from: Some(k8s::EnvVarSource {
                secret_key_ref: Some(k8s::SecretKeySelector {
                    name: "app-secret".to_owned(),
                    key: format!("k{key}"),
                    optional: Some(optional),
                }),
                ..k8s::EnvVarSource::default()
            }),
        }),
    ]
}

fn port() -> impl Strategy<Value = k8s::ContainerPort> {
    (
        prop_oneof![9 => 1i32..65_536, 1 => 0i32..70_000],
        prop_oneof![Just("TCP"), Just("UDP")],
        proptest::option::of(1i32..65_535),
    )
        .prop_map(|(p, proto, host)| k8s::ContainerPort {
            container_port: p,
            protocol: Some(proto.to_owned()),
            host_port: host,
            ..k8s::ContainerPort::default()
        })
}

fn container() -> impl Strategy<Value = k8s::Container> {
    (
        label(),
        "[a-z]{1,10}(:[0-9]{1,2})?",
        proptest::collection::vec("[ -~]{0,10}", 0..3),
        proptest::collection::vec("[ -~$()A-Z0-9]{0,10}", 0..3),
        proptest::collection::vec((0usize..6).prop_flat_map(env_var), 0..6),
        proptest::collection::vec(port(), 0..3),
        resources(),
        proptest::collection::vec(
            prop_oneof![Just("cache"), Just("creds"), Just("conf")],
            0..3,
        ),
    )
        .prop_map(
            |(name, image, command, args, env, ports, resources, mounts)| k8s::Container {
                name,
                image: Some(image),
                command: (!command.is_empty()).then_some(command),
                args: (!args.is_empty()).then_some(args),
                env: Some(env),
                ports: Some(ports),
                resources,
                volume_mounts: Some(
                    mounts
                        .iter()
                        .enumerate()
                        .map(|(i, m)| k8s::VolumeMount {
                            name: (*m).to_owned(),
                            mount_path: format!("/mnt/{i}"),
                            ..k8s::VolumeMount::default()
                        })
                        .collect(),
                ),
                ..k8s::Container::default()
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        name(),
        name(),
        proptest::collection::vec(container(), 1..4),
        proptest::collection::vec("[a-z0-9]{10}", 3),
    )
        .prop_map(|(namespace, pod_name, containers, secrets)| {
            let secret_values: Vec<String> =
                secrets.iter().map(|s| format!("s3cr3t-{s}")).collect();
            let secret = k8s::Secret {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some("app-secret".to_owned()),
                    ..Default::default()
                },
                data: Some(
                    secret_values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (format!("k{i}"), ByteString(v.clone().into_bytes())))
                        .collect(),
                ),
                ..k8s::Secret::default()
            };
            let volumes = vec![
                k8s::Volume {
                    name: "cache".to_owned(),
                    empty_dir: Some(k8s::EmptyDirVolumeSource::default()),
                    ..k8s::Volume::default()
                },
                k8s::Volume {
                    name: "creds".to_owned(),
                    secret: Some(k8s::SecretVolumeSource {
                        secret_name: Some("app-secret".to_owned()),
                        ..k8s::SecretVolumeSource::default()
                    }),
                    ..k8s::Volume::default()
                },
            ];
            let pod = k8s::Pod {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(pod_name),
                    namespace: Some(namespace),
                    ..Default::default()
                },
                spec: Some(k8s::PodSpec {
                    containers,
                    volumes: Some(volumes),
                    ..k8s::PodSpec::default()
                }),
                status: None,
            };
            Case {
                pod,
                objects: ReferencedObjects {
                    secrets: BTreeMap::from([("app-secret".to_owned(), secret)]),
                    ..ReferencedObjects::default()
                },
                secret_values,
            }
        })
}

fn on_step(value: f64, per_unit: f64) -> bool {
    let scaled = value * per_unit;
    (scaled - scaled.round()).abs() < 1e-6
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_pods_should_translate_within_bounds_and_keep_secrets_secure(case in case()) {
        let result = translate_pod(&case.pod, &case.objects, &NodeOptions::default());
        match result {
            Err(error) => {
                let text = error.to_string();
                for secret in &case.secret_values {
                    prop_assert!(!text.contains(secret.as_str()), "secret in error: {text}");
                }
            }
            Ok(translation) => {
                prop_assert!(is_valid_container_group_name(&translation.name), "{}", translation.name);
                let properties = &translation.container_group.properties;
                let (mut cpu, mut memory) = (0.0, 0.0);
                for container in &properties.containers {
                    prop_assert!(is_valid_container_group_name(&container.name));
                    let resources = container.properties.resources.as_ref().expect("resources set");
                    let requests = &resources.requests;
                    prop_assert!(requests.cpu >= 0.01 && requests.cpu <= MAX_GROUP_CPU, "{}", requests.cpu);
                    prop_assert!(requests.memory_in_gb >= 0.1 && requests.memory_in_gb <= MAX_GROUP_MEMORY_IN_GB);
                    prop_assert!(on_step(requests.cpu, 100.0), "{}", requests.cpu);
                    prop_assert!(on_step(requests.memory_in_gb, 10.0), "{}", requests.memory_in_gb);
                    if let Some(limits) = &resources.limits {
                        for (limit, request, step, max) in [
                            (limits.cpu, requests.cpu, 100.0, MAX_GROUP_CPU),
                            (limits.memory_in_gb, requests.memory_in_gb, 10.0, MAX_GROUP_MEMORY_IN_GB),
                        ] {
                            if let Some(limit) = limit {
                                prop_assert!(limit >= request && limit <= max && on_step(limit, step));
                            }
                        }
                    }
                    cpu += requests.cpu;
                    memory += requests.memory_in_gb;
                }
                prop_assert!(cpu <= MAX_GROUP_CPU + 1e-9 && memory <= MAX_GROUP_MEMORY_IN_GB + 1e-9);
                prop_assert!(properties.ip_address.as_ref().is_none_or(|ip| ip.ports.len() <= 5));

                // Secrets only in secure fields: remove those, then search everything else.
                let mut group = translation.container_group.clone();
                for c in &mut group.properties.containers {
                    for v in &mut c.properties.environment_variables {
                        v.secure_value = None;
                    }
                }
                for v in &mut group.properties.volumes {
                    v.secret = None;
                }
                let text = format!(
                    "{} {:?}",
                    serde_json::to_string(&group).unwrap(),
                    translation.warnings
                );
                for secret in &case.secret_values {
                    prop_assert!(!text.contains(secret.as_str()), "secret outside secure fields: {text}");
                }
            }
        }
    }
}

#[test]
fn generated_pods_should_often_be_translatable() {
    // Guards the strategy: properties of successful translations must be exercised.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = case();
    let mut ok = 0;
    for _ in 0..200 {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        if translate_pod(&case.pod, &case.objects, &NodeOptions::default()).is_ok() {
            ok += 1;
        }
    }
    assert!(ok >= 30, "only {ok} of 200 generated pods translate");
}

// === placement, identities, claims and hooks ===

const IDENTITY: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-id";
const ACR_IDENTITY: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/acr-pull";
const STORAGE_KEY: &str = "storage-key-s3cr3t";

/// A pod with generated confidential, identity, Spot, zone, claim and hook settings, the
/// objects it references and the node it runs on.
#[derive(Debug, Clone)]
struct PlacementCase {
    pod: k8s::Pod,
    objects: ReferencedObjects,
    node: NodeOptions,
}

fn annotation_values() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    (
        proptest::option::weighted(
            0.3,
            prop_oneof![
                4 => Just("Confidential".to_owned()),
                2 => Just("standard".to_owned()),
                1 => "\\PC{0,8}"
            ],
        ),
        proptest::option::weighted(
            0.3,
            prop_oneof![4 => Just("eyJhbGxvd19hbGwiOiB0cnVlfQ==".to_owned()), 1 => "\\PC{0,8}"],
        ),
        proptest::option::of(prop_oneof![
            4 => Just(IDENTITY.to_owned()),
            2 => Just(format!("{IDENTITY}, {ACR_IDENTITY}")),
            1 => "\\PC{0,20}"
        ]),
        proptest::option::of(prop_oneof![
            4 => Just("true".to_owned()),
            2 => Just("false".to_owned()),
            1 => "\\PC{0,4}"
        ]),
    )
        .prop_map(|(sku, policy, ids, spot)| {
            let mut out = Vec::new();
            out.extend(sku.map(|v| ("virtual-kubelet.io/container-sku", v)));
            out.extend(policy.map(|v| ("virtual-kubelet.io/confidential-compute-cce-policy", v)));
            out.extend(ids.map(|v| ("vk-aci.io/managed-identities", v)));
            out.extend(spot.map(|v| ("vk-aci.io/spot", v)));
            out
        })
}

fn zone_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (1u8..6).prop_map(|z| z.to_string()),
        4 => (1u8..6).prop_map(|z| format!("westus2-{z}")),
        1 => Just("eastus-1".to_owned()),
        1 => "\\PC{0,6}",
    ]
}

fn hook() -> impl Strategy<Value = Option<k8s::LifecycleHandler>> {
    proptest::option::of(prop_oneof![
        proptest::collection::vec("[ -~]{0,8}", 0..3).prop_map(|command| k8s::LifecycleHandler {
            exec: Some(k8s::ExecAction {
                command: Some(command)
            }),
            ..k8s::LifecycleHandler::default()
        }),
        (-5i64..100).prop_map(|seconds| k8s::LifecycleHandler {
            sleep: Some(k8s::SleepAction { seconds }),
            ..k8s::LifecycleHandler::default()
        }),
        Just(k8s::LifecycleHandler {
            http_get: Some(k8s::HTTPGetAction {
                port: k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80),
                ..k8s::HTTPGetAction::default()
            }),
            ..k8s::LifecycleHandler::default()
        }),
    ])
}

/// The claim `data` in one of several states, with its volume and the key's Secret.
fn claim_objects(state: u8) -> ReferencedObjects {
    let claim = |bound: bool| k8s::PersistentVolumeClaim {
        spec: Some(k8s::PersistentVolumeClaimSpec {
            volume_name: bound.then(|| "pv-data".to_owned()),
            ..k8s::PersistentVolumeClaimSpec::default()
        }),
        status: Some(k8s::PersistentVolumeClaimStatus {
            phase: Some(if bound { "Bound" } else { "Pending" }.to_owned()),
            ..k8s::PersistentVolumeClaimStatus::default()
        }),
        ..k8s::PersistentVolumeClaim::default()
    };
    let files = k8s::PersistentVolumeSpec {
        csi: Some(k8s::CSIPersistentVolumeSource {
            driver: "file.csi.azure.com".to_owned(),
            volume_handle: "rg#acct#share".to_owned(),
            ..k8s::CSIPersistentVolumeSource::default()
        }),
        ..k8s::PersistentVolumeSpec::default()
    };
    let disk = k8s::PersistentVolumeSpec {
        csi: Some(k8s::CSIPersistentVolumeSource {
            driver: "disk.csi.azure.com".to_owned(),
            volume_handle: "d".to_owned(),
            ..k8s::CSIPersistentVolumeSource::default()
        }),
        ..k8s::PersistentVolumeSpec::default()
    };
    let secret = k8s::Secret {
        string_data: Some(BTreeMap::from([(
            "azurestorageaccountkey".to_owned(),
            STORAGE_KEY.to_owned(),
        )])),
        ..k8s::Secret::default()
    };
    let (claim, volume) = match state {
        0 => (Some(claim(true)), Some(files)),
        1 => (Some(claim(false)), None),
        2 => (Some(claim(true)), Some(disk)),
        _ => (None, None),
    };
    ReferencedObjects {
        persistent_volume_claims: claim.map(|c| ("data".to_owned(), c)).into_iter().collect(),
        persistent_volumes: volume
            .map(|spec| {
                (
                    "pv-data".to_owned(),
                    k8s::PersistentVolume {
                        spec: Some(spec),
                        ..k8s::PersistentVolume::default()
                    },
                )
            })
            .into_iter()
            .collect(),
        secrets: BTreeMap::from([("azure-storage-account-acct-secret".to_owned(), secret)]),
        ..ReferencedObjects::default()
    }
}

fn placement_case() -> impl Strategy<Value = PlacementCase> {
    (
        annotation_values(),
        proptest::option::weighted(0.3, zone_value()),
        proptest::collection::vec(zone_value(), 0..2),
        any::<bool>(),
        proptest::option::of(prop_oneof![Just("Exists"), Just("Equal")]),
        0u8..5,
        (hook(), hook()),
        (any::<bool>(), any::<bool>(), resources(), any::<bool>()),
    )
        .prop_map(
            |(annotations, selector, affinity, private, toleration, claim, hooks, extra)| {
                let (acr, gpu, resources, node_zones) = extra;
                let mut container = k8s::Container {
                    name: "app".to_owned(),
                    image: Some(if acr { "myacr.azurecr.io/app:1" } else { "nginx:1" }.to_owned()),
                    ports: Some(vec![k8s::ContainerPort {
                        container_port: 80,
                        ..k8s::ContainerPort::default()
                    }]),
                    resources,
                    lifecycle: Some(k8s::Lifecycle {
                        post_start: hooks.0,
                        pre_stop: hooks.1,
                        ..k8s::Lifecycle::default()
                    }),
                    ..k8s::Container::default()
                };
                if gpu {
                    let r = container.resources.get_or_insert_with(Default::default);
                    r.limits
                        .get_or_insert_with(BTreeMap::new)
                        .insert("nvidia.com/gpu".to_owned(), Quantity("1".to_owned()));
                }
                let affinity = (!affinity.is_empty()).then(|| k8s::Affinity {
                    node_affinity: Some(k8s::NodeAffinity {
                        required_during_scheduling_ignored_during_execution: Some(
                            k8s::NodeSelector {
                                node_selector_terms: vec![k8s::NodeSelectorTerm {
                                    match_expressions: Some(vec![k8s::NodeSelectorRequirement {
                                        key: "topology.kubernetes.io/zone".to_owned(),
                                        operator: "In".to_owned(),
                                        values: Some(affinity),
                                    }]),
                                    ..k8s::NodeSelectorTerm::default()
                                }],
                            },
                        ),
                        ..k8s::NodeAffinity::default()
                    }),
                    ..k8s::Affinity::default()
                });
                let pod = k8s::Pod {
                    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                        name: Some("placed".to_owned()),
                        namespace: Some("apps".to_owned()),
                        annotations: Some(
                            annotations
                                .into_iter()
                                .map(|(k, v)| (k.to_owned(), v))
                                .collect(),
                        ),
                        ..Default::default()
                    },
                    spec: Some(k8s::PodSpec {
                        containers: vec![container],
                        node_selector: selector.map(|z| {
                            BTreeMap::from([("topology.kubernetes.io/zone".to_owned(), z)])
                        }),
                        affinity,
                        tolerations: toleration.map(|operator| {
                            vec![k8s::Toleration {
                                key: Some("kubernetes.azure.com/scalesetpriority".to_owned()),
                                operator: Some(operator.to_owned()),
                                value: (operator == "Equal").then(|| "spot".to_owned()),
                                ..k8s::Toleration::default()
                            }]
                        }),
                        volumes: (claim < 4).then(|| {
                            vec![k8s::Volume {
                                name: "data".to_owned(),
                                persistent_volume_claim: Some(
                                    k8s::PersistentVolumeClaimVolumeSource {
                                        claim_name: "data".to_owned(),
                                        read_only: None,
                                    },
                                ),
                                ..k8s::Volume::default()
                            }]
                        }),
                        ..k8s::PodSpec::default()
                    }),
                    status: None,
                };
                let mut node = NodeOptions::default()
                    .region("westus2")
                    .acr_pull_identity(ACR_IDENTITY);
                if node_zones {
                    node = node.zones(["1", "2", "3"]);
                }
                if private {
                    node = node.private_ip([
                        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
                    ]);
                }
                PlacementCase {
                    pod,
                    objects: claim_objects(claim),
                    node,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn placement_settings_should_never_reach_arm_in_a_shape_aci_refuses(case in placement_case()) {
        use vk_translate::container_group::{ContainerGroupPriority, ContainerGroupSku};
        use vk_translate::identity::is_user_assigned_identity_id;

        let result = translate_pod(&case.pod, &case.objects, &case.node);
        let translation = match result {
            Err(error) => {
                prop_assert!(!error.to_string().contains(STORAGE_KEY));
                let waiting = !error.field_errors().is_empty()
                    && error.field_errors().iter().all(|e| e.kind == vk_translate::FieldErrorKind::NotReady);
                prop_assert_eq!(error.is_waiting(), waiting);
                return Ok(());
            }
            Ok(translation) => translation,
        };
        let group = &translation.container_group;
        let properties = &group.properties;
        prop_assert!(group.zones.len() <= 1, "{:?}", group.zones);
        if !case.node.zones.is_empty() {
            prop_assert!(group.zones.iter().all(|z| case.node.zones.contains(z)));
        }
        let gpu = properties.containers.iter().any(|c| {
            c.properties.resources.as_ref().is_some_and(|r| r.requests.gpu.is_some())
        });
        if properties.priority == Some(ContainerGroupPriority::Spot) {
            prop_assert!(properties.subnet_ids.is_empty());
            prop_assert!(properties.ip_address.is_none());
            prop_assert!(properties.sku != Some(ContainerGroupSku::Confidential));
            prop_assert!(!gpu);
            let cpu: f64 = properties.containers.iter()
                .filter_map(|c| c.properties.resources.as_ref()).map(|r| r.requests.cpu).sum();
            let memory: f64 = properties.containers.iter()
                .filter_map(|c| c.properties.resources.as_ref()).map(|r| r.requests.memory_in_gb).sum();
            prop_assert!(cpu <= 4.0 + 1e-9 && memory <= 16.0 + 1e-9);
        }
        if properties.sku == Some(ContainerGroupSku::Confidential) {
            prop_assert!(properties.extensions.is_empty());
            prop_assert!(!gpu);
        }
        let assigned = group.identity.as_ref().map(|i| &i.user_assigned_identities);
        for id in assigned.into_iter().flat_map(|m| m.keys()) {
            prop_assert!(is_user_assigned_identity_id(id), "{id}");
        }
        for credential in &properties.image_registry_credentials {
            if let Some(id) = &credential.identity {
                prop_assert!(assigned.is_some_and(|m| m.contains_key(id)), "{id} not assigned");
            }
        }
        for hooks in &translation.hooks.containers {
            prop_assert!(properties.containers.iter().any(|c| c.name == hooks.container));
        }
        // The storage key only in storageAccountKey.
        let mut redacted = group.clone();
        for v in &mut redacted.properties.volumes {
            if let Some(file) = &mut v.azure_file {
                file.storage_account_key = None;
            }
        }
        let text = format!("{} {:?}", serde_json::to_string(&redacted).unwrap(), translation.warnings);
        prop_assert!(!text.contains(STORAGE_KEY));
    }
}

#[test]
fn placement_cases_should_often_exercise_each_setting() {
    // Guards the strategy: each setting must reach successful translations.
    use vk_translate::container_group::{ContainerGroupPriority, ContainerGroupSku};
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = placement_case();
    let (mut spot, mut confidential, mut zoned, mut claimed, mut hooked, mut waiting) =
        (0, 0, 0, 0, 0, 0);
    for _ in 0..1000 {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        match translate_pod(&case.pod, &case.objects, &case.node) {
            Ok(t) => {
                let p = &t.container_group.properties;
                spot += usize::from(p.priority == Some(ContainerGroupPriority::Spot));
                confidential += usize::from(p.sku == Some(ContainerGroupSku::Confidential));
                zoned += usize::from(!t.container_group.zones.is_empty());
                claimed += usize::from(p.volumes.iter().any(|v| v.azure_file.is_some()));
                hooked += usize::from(!t.hooks.is_empty());
            }
            Err(e) => waiting += usize::from(e.is_waiting()),
        }
    }
    for (what, n) in [
        ("spot", spot),
        ("confidential", confidential),
        ("zoned", zoned),
        ("claimed", claimed),
        ("hooked", hooked),
        ("waiting", waiting),
    ] {
        assert!(n >= 5, "only {n} {what} translations of 1000");
    }
}
