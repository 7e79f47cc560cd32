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
