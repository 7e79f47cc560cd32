//! Pods translated per second: a small pod (one container) and a large one (60 containers
//! with env from Secrets and ConfigMaps, 20 volumes, probes and ports).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use vk_translate::{NodeOptions, ReferencedObjects, translate_pod};

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some("bench".to_owned()),
        uid: Some("7c1d4b0e-1111-2222-3333-444455556666".to_owned()),
        ..ObjectMeta::default()
    }
}

fn small_pod() -> k8s::Pod {
    k8s::Pod {
        metadata: meta("hello"),
        spec: Some(k8s::PodSpec {
            containers: vec![k8s::Container {
                name: "hello".to_owned(),
                image: Some("mcr.microsoft.com/azuredocs/aci-helloworld".to_owned()),
                ports: Some(vec![k8s::ContainerPort {
                    container_port: 80,
                    ..k8s::ContainerPort::default()
                }]),
                ..k8s::Container::default()
            }],
            ..k8s::PodSpec::default()
        }),
        status: None,
    }
}

#[allow(clippy::too_many_lines)] // one literal pod, field by field
fn large_pod() -> (k8s::Pod, ReferencedObjects) {
    let mut objects = ReferencedObjects::default();
    let mut volumes = Vec::new();
    for v in 0..20 {
        let name = format!("data-{v}");
        let (secret, config_map) = (format!("secret-{v}"), format!("config-{v}"));
        objects.secrets.insert(
            secret.clone(),
            k8s::Secret {
                metadata: meta(&secret),
                data: Some(
                    (0..10)
                        .map(|k| {
                            (
                                format!("KEY_{k}"),
                                ByteString(format!("value-{v}-{k}").into_bytes()),
                            )
                        })
                        .collect(),
                ),
                ..k8s::Secret::default()
            },
        );
        objects.config_maps.insert(
            config_map.clone(),
            k8s::ConfigMap {
                metadata: meta(&config_map),
                data: Some(
                    (0..10)
                        .map(|k| (format!("SETTING_{k}"), format!("{v}.{k}")))
                        .collect(),
                ),
                ..k8s::ConfigMap::default()
            },
        );
        volumes.push(if v % 2 == 0 {
            k8s::Volume {
                name,
                secret: Some(k8s::SecretVolumeSource {
                    secret_name: Some(secret),
                    ..k8s::SecretVolumeSource::default()
                }),
                ..k8s::Volume::default()
            }
        } else {
            k8s::Volume {
                name,
                config_map: Some(k8s::ConfigMapVolumeSource {
                    name: config_map,
                    ..k8s::ConfigMapVolumeSource::default()
                }),
                ..k8s::Volume::default()
            }
        });
    }
    let containers = (0..60)
        .map(|c| {
            let mut env: Vec<k8s::EnvVar> = (0..20)
                .map(|e| k8s::EnvVar {
                    name: format!("VAR_{e}"),
                    value: Some(format!("value-{c}-{e}-$(VAR_0)")),
                    value_from: None,
                })
                .collect();
            env.push(k8s::EnvVar {
                name: "PASSWORD".to_owned(),
                value: None,
                value_from: Some(k8s::EnvVarSource {
                    secret_key_ref: Some(k8s::SecretKeySelector {
                        name: format!("secret-{}", c % 20),
                        key: "KEY_1".to_owned(),
                        optional: None,
                    }),
                    ..k8s::EnvVarSource::default()
                }),
            });
            k8s::Container {
                name: format!("worker-{c}"),
                image: Some(format!("myregistry.azurecr.io/worker:{c}")),
                command: Some(vec!["/bin/worker".to_owned()]),
                args: Some(vec!["--id".to_owned(), "$(VAR_1)".to_owned()]),
                env: Some(env),
                env_from: Some(vec![k8s::EnvFromSource {
                    config_map_ref: Some(k8s::ConfigMapEnvSource {
                        name: format!("config-{}", c % 20),
                        optional: None,
                    }),
                    prefix: Some("CFG_".to_owned()),
                    secret_ref: None,
                }]),
                ports: (c < 5).then(|| {
                    vec![k8s::ContainerPort {
                        container_port: 8000 + c,
                        name: Some("http".to_owned()),
                        ..k8s::ContainerPort::default()
                    }]
                }),
                readiness_probe: (c < 5).then(|| k8s::Probe {
                    http_get: Some(k8s::HTTPGetAction {
                        path: Some("/ready".to_owned()),
                        port: IntOrString::String("http".to_owned()),
                        ..k8s::HTTPGetAction::default()
                    }),
                    period_seconds: Some(5),
                    ..k8s::Probe::default()
                }),
                resources: Some(k8s::ResourceRequirements {
                    requests: Some(BTreeMap::from([
                        ("cpu".to_owned(), Quantity("250m".to_owned())),
                        ("memory".to_owned(), Quantity("512Mi".to_owned())),
                    ])),
                    ..k8s::ResourceRequirements::default()
                }),
                volume_mounts: Some(vec![k8s::VolumeMount {
                    name: format!("data-{}", c % 20),
                    mount_path: "/data".to_owned(),
                    ..k8s::VolumeMount::default()
                }]),
                ..k8s::Container::default()
            }
        })
        .collect();
    let pod = k8s::Pod {
        metadata: meta("large"),
        spec: Some(k8s::PodSpec {
            containers,
            volumes: Some(volumes),
            ..k8s::PodSpec::default()
        }),
        status: None,
    };
    (pod, objects)
}

fn translate(c: &mut Criterion) {
    let node = NodeOptions::default();
    let mut group = c.benchmark_group("translate_pod");
    group.throughput(Throughput::Elements(1));

    let small = small_pod();
    let none = ReferencedObjects::default();
    translate_pod(&small, &none, &node).expect("the small pod translates");
    group.bench_function("small pod", |b| {
        b.iter(|| translate_pod(black_box(&small), black_box(&none), &node));
    });

    let (large, objects) = large_pod();
    translate_pod(&large, &objects, &node).expect("the large pod translates");
    group.bench_function("large pod (60 containers, 20 volumes)", |b| {
        b.iter(|| translate_pod(black_box(&large), black_box(&objects), &node));
    });
    group.finish();
}

criterion_group!(benches, translate);
criterion_main!(benches);
