//! AciProvider against the emulator: lifecycle, status push, adoption, quota, update,
//! logs, node configuration. Provider methods are called directly with pods built here.
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use tokio::time::{self, Duration};
use vk_aci::emulator::{EmulatorConfig, Injected, QuotaWindow};
use vk_core::provider::{LogOptions, PodKey, PodNotifier, PodResources, Provider, ProviderError};

use crate::common::*;

fn key(name: &str) -> PodKey {
    PodKey::new("default", name)
}

#[tokio::test]
async fn a_pod_should_be_created_reported_listed_and_deleted() {
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    let web = pod("web", &[("app", &[])]);
    p.create_pod(&web, &PodResources::default()).await.unwrap();
    assert_eq!(em.group_names().len(), 1);

    let status = p
        .pod_status(&key("web"))
        .await
        .unwrap()
        .expect("the pod exists");
    assert_eq!(status.phase.as_deref(), Some("Running"));

    let listed = p.list_pods().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, key("web"));
    assert_eq!(listed[0].uid.as_deref(), Some("uid-web"));

    p.delete_pod(&web).await.unwrap();
    assert!(em.group_names().is_empty());
    assert!(p.pod_status(&key("web")).await.unwrap().is_none());
    p.delete_pod(&web).await.expect("deleting twice is fine");
}

#[tokio::test]
async fn status_changes_should_be_pushed_to_the_notifier() {
    let mut config = EmulatorConfig::instant();
    config.timeline.pending = Duration::from_millis(300);
    config.timeline.creating = Duration::from_millis(300);
    let em = emulator(config).await;
    let p = provider(&em);
    let (notifier, updates) = PodNotifier::channel();
    assert!(p.notify_pods(notifier.clone()));
    p.create_pod(&pod("push", &[("app", &[])]), &PodResources::default())
        .await
        .unwrap();
    let running = time::timeout(Duration::from_secs(10), async {
        loop {
            for update in updates.next_batch().await {
                let phase = update.status.and_then(|s| s.phase);
                if update.key == key("push") && phase.as_deref() == Some("Running") {
                    return;
                }
            }
        }
    })
    .await;
    assert!(running.is_ok(), "the Running status was never pushed");
    assert_eq!(
        p.pod_status(&key("push"))
            .await
            .unwrap()
            .and_then(|s| s.phase)
            .as_deref(),
        Some("Running"),
        "pod_status answers from the tracker"
    );
}

#[tokio::test]
async fn the_create_quota_should_keep_the_pod_pending_with_a_clear_reason() {
    let mut config = EmulatorConfig::instant();
    config.quota = vec![QuotaWindow {
        period: Duration::from_secs(300),
        limit: 1,
    }];
    let em = emulator(config).await;
    let p = provider(&em);
    p.create_pod(&pod("q1", &[("app", &[])]), &PodResources::default())
        .await
        .unwrap();
    let err = p
        .create_pod(&pod("q2", &[("app", &[])]), &PodResources::default())
        .await
        .unwrap_err();
    match &err {
        ProviderError::Transient {
            reason,
            retry_after,
            ..
        } => {
            assert_eq!(reason, "QuotaExceeded");
            assert!(retry_after.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_pod_aci_cannot_run_should_be_unsupported() {
    use k8s_openapi::api::core::v1::{HostPathVolumeSource, Volume};
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    let mut bad = pod("bad", &[("app", &[])]);
    bad.spec.as_mut().unwrap().volumes = Some(vec![Volume {
        name: "host".into(),
        host_path: Some(HostPathVolumeSource {
            path: "/var/run".into(),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    let err = p
        .create_pod(&bad, &PodResources::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unsupported { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(em.group_names().is_empty());
}

#[tokio::test]
async fn an_image_update_should_be_put_and_other_changes_refused() {
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    let mut web = pod("upd", &[("app", &[])]);
    p.create_pod(&web, &PodResources::default()).await.unwrap();
    p.update_pod(&web, &PodResources::default())
        .await
        .expect("no change is fine");
    assert_eq!(
        em.call_count("container_groups.create_or_update"),
        1,
        "no change, no PUT"
    );

    web.spec.as_mut().unwrap().containers[0].image = Some("busybox:1.37".into());
    p.update_pod(&web, &PodResources::default()).await.unwrap();
    assert_eq!(em.call_count("container_groups.create_or_update"), 2);

    web.spec.as_mut().unwrap().containers[0].image = Some("busybox:1.38".into());
    web.spec.as_mut().unwrap().containers[0].resources = Some(ResourceRequirements {
        requests: Some([("cpu".to_owned(), Quantity("2".into()))].into()),
        ..Default::default()
    });
    let err = p
        .update_pod(&web, &PodResources::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unsupported { .. }), "{err:?}");
}

#[tokio::test]
async fn groups_of_other_nodes_should_not_be_listed() {
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    let mut other = pod("elsewhere", &[("app", &[])]);
    other.spec.as_mut().unwrap().node_name = Some("another-node".into());
    let mut other_config = provider_config();
    other_config.node.node_name = "another-node".into();
    let other_provider = vk_aci::AciProvider::new(
        client(&em),
        other_config,
        std::sync::Arc::new(vk_core::clock::SystemClock),
    );
    other_provider
        .create_pod(&other, &PodResources::default())
        .await
        .unwrap();
    p.create_pod(&pod("mine", &[("app", &[])]), &PodResources::default())
        .await
        .unwrap();
    let listed: Vec<PodKey> = p
        .list_pods()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(listed, vec![key("mine")]);
}

#[tokio::test]
async fn logs_should_tail_and_follow_until_the_container_ends() {
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    p.create_pod(
        &pod(
            "logs",
            &[("app", &["sh", "-c", "echo one; echo two; sleep 1000"])],
        ),
        &PodResources::default(),
    )
    .await
    .unwrap();
    let tail = LogOptions {
        tail_lines: Some(1),
        ..Default::default()
    };
    let mut stream = p.logs(&key("logs"), "app", &tail).await.unwrap();
    let chunk = stream.next().await.unwrap().unwrap();
    assert_eq!(&chunk[..], b"two\n");

    let mut finite = pod(
        "done",
        &[("app", &["sh", "-c", "echo a; echo b; sleep 1; exit 0"])],
    );
    finite.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    p.create_pod(&finite, &PodResources::default())
        .await
        .unwrap();
    let follow = LogOptions {
        follow: true,
        ..Default::default()
    };
    let stream = p.logs(&key("done"), "app", &follow).await.unwrap();
    let collected = time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>())
        .await
        .expect("follow ends when the container ends");
    let text: Vec<u8> = collected
        .into_iter()
        .flat_map(|c| c.unwrap().to_vec())
        .collect();
    assert_eq!(String::from_utf8(text).unwrap(), "a\nb\n", "each line once");
}

/// Issue 15, item 14: `kubectl logs -f` used to download the whole log at every poll, so
/// the bytes read grew with the square of the log. A follower now reads only about the new
/// lines each poll (a small tail with timestamps), and each line is sent once, identical
/// lines included.
#[tokio::test(start_paused = true)]
async fn following_a_log_should_read_only_the_new_lines_each_poll() {
    let em = emulator(EmulatorConfig::instant()).await;
    let config = vk_aci::AciConfig {
        logs_poll_interval: Duration::from_millis(100),
        ..provider_config()
    };
    let p = vk_aci::AciProvider::new(client(&em), config, TokioWallClock::shared());
    let filler = "x".repeat(100);
    let mut script = String::from("echo same; echo same; ");
    let mut expected = String::from("same\nsame\n");
    for i in 0..120 {
        script.push_str(&format!("echo line-{i:03}-{filler}; sleep 0.025; "));
        expected.push_str(&format!("line-{i:03}-{filler}\n"));
        if i % 40 == 0 {
            script.push_str("echo same; echo same; sleep 0.025; ");
            expected.push_str("same\nsame\n");
        }
    }
    script.push_str("exit 0");
    let mut chatty = pod("chatty", &[("app", &["sh", "-c", &script])]);
    chatty.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    p.create_pod(&chatty, &PodResources::default())
        .await
        .unwrap();
    let follow = LogOptions {
        follow: true,
        ..Default::default()
    };
    let before = em.log_bytes();
    let stream = p.logs(&key("chatty"), "app", &follow).await.unwrap();
    let collected = time::timeout(Duration::from_secs(30), stream.collect::<Vec<_>>())
        .await
        .expect("follow ends when the container ends");
    let text: Vec<u8> = collected
        .into_iter()
        .flat_map(|c| c.unwrap().to_vec())
        .collect();
    assert_eq!(String::from_utf8(text).unwrap(), expected, "each line once");
    let read = em.log_bytes() - before;
    // The whole log with a timestamp on each line: about what reading it once costs.
    let log = u64::try_from(expected.len() + expected.lines().count() * 32).unwrap();
    let polls = em.call_count("containers.list_logs");
    assert!(
        polls >= 10,
        "the log was polled while it grew ({polls} reads)"
    );
    assert!(
        read <= 3 * log,
        "{read} bytes read over {polls} polls to follow a log of about {log} bytes"
    );
}

#[tokio::test]
async fn follow_streams_beyond_the_limit_should_be_refused_until_one_ends() {
    let em = emulator(EmulatorConfig::instant()).await;
    let mut config = provider_config();
    config.logs_follow.max_streams = 1;
    let p = vk_aci::AciProvider::new(
        client(&em),
        config,
        std::sync::Arc::new(vk_core::clock::SystemClock),
    );
    p.create_pod(
        &pod("tail", &[("app", &["sh", "-c", "echo hi; sleep 1000"])]),
        &PodResources::default(),
    )
    .await
    .unwrap();
    let follow = LogOptions {
        follow: true,
        ..Default::default()
    };
    let mut open = p.logs(&key("tail"), "app", &follow).await.unwrap();
    assert_eq!(&open.next().await.unwrap().unwrap()[..], b"hi\n");
    let Err(refused) = p.logs(&key("tail"), "app", &follow).await else {
        panic!("a second follow stream was let through");
    };
    assert!(
        matches!(&refused, ProviderError::Transient { reason, .. } if reason == "TooManyLogStreams"),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("kubectl logs -f"), "{refused}");
    let plain = p.logs(&key("tail"), "app", &LogOptions::default()).await;
    assert!(plain.is_ok(), "reads without -f are not limited");
    drop(open);
    time::timeout(Duration::from_secs(10), async {
        while p.logs(&key("tail"), "app", &follow).await.is_err() {
            time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the permit comes back when the stream is dropped");
}

#[tokio::test]
async fn the_node_should_get_capacity_and_upstream_labels() {
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    let mut node = Node::default();
    p.configure_node(&mut node);
    let labels = node.metadata.labels.unwrap();
    assert_eq!(
        labels["alpha.service-controller.kubernetes.io/exclude-balancer"],
        "true"
    );
    assert_eq!(labels["kubernetes.azure.com/managed"], "false");
    let status = node.status.unwrap();
    assert_eq!(status.capacity.unwrap()["pods"].0, "5000");
    assert_eq!(status.allocatable.unwrap()["memory"].0, "4Ti");
    p.ping().await.unwrap();
}

#[tokio::test]
async fn provider_errors_should_never_show_secrets() {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, Secret, SecretKeySelector};
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    let mut secretive = pod("secretive", &[("app", &[])]);
    secretive.spec.as_mut().unwrap().containers[0].env = Some(vec![EnvVar {
        name: "PASSWORD".into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: "db".into(),
                key: "password".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    let mut resources = PodResources::default();
    resources.secrets.insert(
        "db".into(),
        Secret {
            data: Some(
                [(
                    "password".to_owned(),
                    ByteString(b"hunter2-s3cret".to_vec()),
                )]
                .into(),
            ),
            ..Default::default()
        },
    );
    em.inject(Injected::status(400, "InvalidRequestContent"));
    let err = p.create_pod(&secretive, &resources).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("hunter2-s3cret") && !text.contains(SECRET_TOKEN),
        "{text}"
    );
    for _ in 0..4 {
        em.inject(Injected::status(503, "ServiceUnavailable"));
    }
    let err = p.create_pod(&secretive, &resources).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("hunter2-s3cret") && !text.contains(SECRET_TOKEN),
        "{text}"
    );
    p.create_pod(&secretive, &resources).await.unwrap();
    let text = format!("{:?}", p.pod_status(&key("secretive")).await.unwrap());
    assert!(!text.contains("hunter2-s3cret"));
}

#[tokio::test(start_paused = true)]
async fn status_reads_should_stay_inside_the_budget_while_transitions_still_show() {
    let em = emulator(EmulatorConfig::instant()).await;
    let mut config = provider_config();
    config.status.reads_per_second = 5.0;
    config.status.fast_interval = std::time::Duration::from_secs(2);
    config.status.slow_interval_min = std::time::Duration::from_secs(60);
    let p = vk_aci::AciProvider::new(client(&em), config, TokioWallClock::shared());
    let (notifier, updates) = PodNotifier::channel();
    assert!(p.notify_pods(notifier.clone()));
    for i in 0..30 {
        p.create_pod(
            &pod(&format!("b{i}"), &[("app", &[])]),
            &PodResources::default(),
        )
        .await
        .unwrap();
    }
    // Every pod's transition to Running is pushed (30 reads at 5/s take about 6 s).
    let mut running = std::collections::HashSet::new();
    time::timeout(Duration::from_secs(20), async {
        while running.len() < 30 {
            for update in updates.next_batch().await {
                if update.status.and_then(|s| s.phase).as_deref() == Some("Running") {
                    running.insert(update.key);
                }
            }
        }
    })
    .await
    .expect("every pod's Running status is pushed");

    // Steady state: reads never exceed the budget (5/s plus a one-second burst, plus one
    // batch in flight when counting started).
    let before = em.call_count("container_groups.get");
    let start = time::Instant::now();
    time::sleep(Duration::from_secs(3)).await;
    let reads = em.call_count("container_groups.get") - before;
    let allowed = 5.0 * start.elapsed().as_secs_f64() + 10.0;
    let reads_f = reads as f64;
    assert!(reads_f <= allowed, "{reads} reads, budget {allowed}");
}

#[tokio::test]
async fn a_burst_of_new_pods_should_spend_the_transition_budget_not_the_steady_one() {
    // Regression (load scenario, issue 8): with only the steady budget, 1,000 new pods took
    // ~250 s to show Running. Here the steady budget alone (1 read/s) would need over 30 s.
    let em = emulator(EmulatorConfig::instant()).await;
    let mut config = provider_config();
    config.status.reads_per_second = 1.0;
    config.status.transition_reads_per_second = 20.0;
    config.status.fast_interval = std::time::Duration::from_secs(1);
    let p = vk_aci::AciProvider::new(
        client(&em),
        config,
        std::sync::Arc::new(vk_core::clock::SystemClock),
    );
    let (notifier, updates) = PodNotifier::channel();
    assert!(p.notify_pods(notifier.clone()));
    for i in 0..30 {
        p.create_pod(
            &pod(&format!("t{i}"), &[("app", &[])]),
            &PodResources::default(),
        )
        .await
        .unwrap();
    }
    let mut running = std::collections::HashSet::new();
    time::timeout(Duration::from_secs(12), async {
        while running.len() < 30 {
            for update in updates.next_batch().await {
                if update.status.and_then(|s| s.phase).as_deref() == Some("Running") {
                    running.insert(update.key);
                }
            }
        }
    })
    .await
    .expect("pods in transition are read from the transition budget");
}

#[tokio::test]
async fn a_pod_lifecycle_should_cost_a_handful_of_arm_calls() {
    let mut config = EmulatorConfig::instant();
    config.timeline.pending = Duration::from_millis(500);
    config.timeline.creating = Duration::from_millis(500);
    let em = emulator(config).await;
    let p = provider(&em);
    let (notifier, updates) = PodNotifier::channel();
    assert!(p.notify_pods(notifier.clone()));
    let life = pod("life", &[("app", &[])]);
    p.create_pod(&life, &PodResources::default()).await.unwrap();
    time::timeout(Duration::from_secs(10), async {
        loop {
            if updates
                .next_batch()
                .await
                .into_iter()
                .any(|u| u.status.and_then(|s| s.phase).as_deref() == Some("Running"))
            {
                return;
            }
        }
    })
    .await
    .unwrap();
    p.delete_pod(&life).await.unwrap();
    let calls = em.calls();
    let total: u64 = calls.values().sum();
    eprintln!("ARM calls for one pod lifecycle (1 s to Running): {calls:?}");
    assert_eq!(calls["container_groups.create_or_update"], 1);
    assert_eq!(calls["container_groups.delete"], 1);
    // 1 s to Running read every 200 ms: a few GETs (more on a loaded machine), never a storm.
    assert!(calls["container_groups.get"] <= 20, "{calls:?}");
    assert!(total <= 22, "{calls:?}");
}

#[tokio::test]
async fn a_rotated_secret_should_not_count_as_a_pod_change() {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, Secret, SecretKeySelector};
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    let mut web = pod("rot", &[("app", &[])]);
    web.spec.as_mut().unwrap().containers[0].env = Some(vec![EnvVar {
        name: "TOKEN".into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: "s".into(),
                key: "k".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    let with = |v: &[u8]| {
        let mut r = PodResources::default();
        r.secrets.insert(
            "s".into(),
            Secret {
                data: Some([("k".to_owned(), ByteString(v.to_vec()))].into()),
                ..Default::default()
            },
        );
        r
    };
    p.create_pod(&web, &with(b"one")).await.unwrap();
    p.update_pod(&web, &with(b"two")).await.unwrap();
    assert_eq!(em.call_count("container_groups.create_or_update"), 1);
}
