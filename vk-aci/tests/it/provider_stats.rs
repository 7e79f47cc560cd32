//! `AciProvider::stats` against the emulator's Azure Monitor: per-container usage, the
//! cumulative CPU counter, batching, the per-resource fallback, absent-not-zero, and
//! metrics spending a budget of their own.
use std::sync::Arc;

use k8s_openapi::api::core::v1::{EnvVar, Pod};
use tokio::time::{self, Duration};
use url::Url;
use vk_aci::arm::throttle::BucketConfig;
use vk_aci::arm::{ArmClient, ArmCredential, ThrottleConfig};
use vk_aci::emulator::{ContainerUsage, EmulatorConfig, EmulatorHandle};
use vk_aci::monitor::{BATCH_OPERATION, MonitorClient, MonitorConfig};
use vk_aci::provider::StatsConfig;
use vk_aci::{AciConfig, AciProvider};
use vk_core::provider::{PodKey, PodResources, PodStats, Provider};

use crate::common::*;

fn stats_config(refresh: Duration) -> StatsConfig {
    StatsConfig {
        refresh_interval: refresh,
        // A loaded test machine may take seconds: every scrape here waits for its refresh.
        scrape_wait: Duration::from_secs(60),
        ..StatsConfig::default()
    }
}

fn provider_with(arm: ArmClient, batch: Option<Url>, stats: StatsConfig) -> AciProvider {
    let monitor = MonitorConfig {
        batch_endpoint: batch,
        ..MonitorConfig::default()
    };
    provider_with_monitor(arm, monitor, stats)
}

fn provider_with_monitor(
    arm: ArmClient,
    monitor: MonitorConfig,
    stats: StatsConfig,
) -> AciProvider {
    let config = AciConfig {
        stats,
        ..provider_config()
    };
    let monitor =
        MonitorClient::new(monitor, ArmCredential::fixed(SECRET_TOKEN), arm.clone()).unwrap();
    AciProvider::new(arm, config, TokioWallClock::shared()).with_monitor(monitor)
}

/// A pod whose containers use what `usage` says from their start (`VK_EMULATOR_USAGE`).
fn busy_pod(name: &str, containers: &[(&str, &str)]) -> Pod {
    let names: Vec<(&str, &[&str])> = containers.iter().map(|(n, _)| (*n, &[][..])).collect();
    let mut pod = pod(name, &names);
    let spec = pod.spec.as_mut().unwrap();
    for (c, (_, usage)) in spec.containers.iter_mut().zip(containers) {
        if !usage.is_empty() {
            c.env = Some(vec![EnvVar {
                name: "VK_EMULATOR_USAGE".into(),
                value: Some((*usage).to_owned()),
                ..Default::default()
            }]);
        }
    }
    pod
}

/// Create `pods` and read each once so the provider knows them Running.
async fn run(p: &AciProvider, pods: &[Pod]) {
    for pod in pods {
        p.create_pod(pod, &PodResources::default()).await.unwrap();
    }
    for pod in pods {
        let key = PodKey::of(pod);
        let running = time::timeout(Duration::from_secs(10), async {
            loop {
                let status = p.pod_status(&key).await.unwrap();
                if status.and_then(|s| s.phase).as_deref() == Some("Running") {
                    return;
                }
                time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(running.is_ok(), "{key} never ran");
    }
}

fn container<'a>(
    stats: &'a [PodStats],
    pod: &str,
    name: &str,
) -> &'a vk_core::provider::ContainerStats {
    stats
        .iter()
        .find(|p| p.key.name == pod)
        .and_then(|p| p.containers.iter().find(|c| c.name == name))
        .unwrap_or_else(|| panic!("no statistics of {pod}/{name} in {stats:?}"))
}

fn batch_calls(em: &EmulatorHandle) -> u64 {
    em.call_count("metrics.batch")
}

#[tokio::test(start_paused = true)]
async fn stats_should_report_what_each_container_uses() {
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider_with(client(&em), Some(em.url()), stats_config(Duration::ZERO));
    let web = busy_pod(
        "web",
        &[
            ("app", "cpu=250m,memory=64Mi"),
            ("sidecar", "cpu=0.1,memory=16Mi"),
        ],
    );
    run(&p, &[web]).await;
    time::sleep(Duration::from_millis(1100)).await;
    let stats = p.stats().await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].uid, "uid-web");
    let app = container(&stats, "web", "app");
    assert_eq!(app.cpu_usage_nano_cores, Some(250_000_000));
    assert_eq!(app.memory_working_set_bytes, Some(64 * 1024 * 1024));
    assert!(app.start_time.is_some() && app.time.is_some());
    let sidecar = container(&stats, "web", "sidecar");
    assert_eq!(sidecar.cpu_usage_nano_cores, Some(100_000_000));

    // A change shows in the next read: the current minute averages the old and new use.
    let group = vk_translate::container_group_name("default", "web");
    em.set_usage(
        &group,
        "app",
        ContainerUsage {
            cpu_millicores: 1000.0,
            memory_bytes: 128.0 * 1024.0 * 1024.0,
        },
    );
    time::sleep(Duration::from_millis(1100)).await;
    let later = p.stats().await.unwrap();
    let app_later = container(&later, "web", "app");
    assert!(
        app_later.cpu_usage_nano_cores > Some(250_000_000),
        "{app_later:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn cumulative_cpu_should_grow_at_the_rate_the_container_uses() {
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider_with(client(&em), Some(em.url()), stats_config(Duration::ZERO));
    run(
        &p,
        &[busy_pod("counter", &[("app", "cpu=500m,memory=32Mi")])],
    )
    .await;
    time::sleep(Duration::from_millis(1100)).await;
    let mut last: Option<(u64, jiff::Timestamp)> = None;
    let mut rates = Vec::new();
    for _ in 0..4 {
        let stats = p.stats().await.unwrap();
        let c = container(&stats, "counter", "app");
        let (total, at) = (c.cpu_usage_core_nano_seconds.unwrap(), c.time.unwrap());
        if let Some((before, then)) = last {
            assert!(
                total >= before,
                "the counter went back: {before} -> {total}"
            );
            let seconds = at.duration_since(then).as_secs_f64();
            if seconds > 0.0 {
                rates.push((total - before) as f64 / 1e9 / seconds);
            }
        }
        last = Some((total, at));
        time::sleep(Duration::from_millis(1200)).await;
    }
    assert!(!rates.is_empty());
    for rate in rates {
        // metrics-server's rate: the change of the counter over the change of the samples'
        // time. Data times are whole seconds, so allow a little rounding.
        assert!((rate - 0.5).abs() < 0.05, "rate {rate} cores, expected 0.5");
    }
}

#[tokio::test(start_paused = true)]
async fn stats_should_cost_one_batch_call_per_50_pods_and_nothing_while_fresh() {
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider_with(
        client(&em),
        Some(em.url()),
        stats_config(Duration::from_secs(3600)),
    );
    let pods: Vec<Pod> = (0..120)
        .map(|i| busy_pod(&format!("p{i}"), &[("app", "cpu=10m,memory=8Mi")]))
        .collect();
    run(&p, &pods).await;
    // A container has data once it has run for a second.
    time::sleep(Duration::from_millis(1100)).await;
    let stats = p.stats().await.unwrap();
    assert_eq!(stats.len(), 120);
    assert!(
        stats
            .iter()
            .all(|s| s.containers[0].cpu_usage_nano_cores == Some(10_000_000)),
        "every pod has its numbers"
    );
    // ceil(120 / 50) = 3 calls for CPU and memory, and 3 for the network on the first
    // refresh.
    assert_eq!(batch_calls(&em), 6);
    assert_eq!(em.call_count("metrics.list"), 0);
    for _ in 0..5 {
        p.stats().await.unwrap();
    }
    assert_eq!(
        batch_calls(&em),
        6,
        "scrapes within the refresh interval are free"
    );
}

#[tokio::test(start_paused = true)]
async fn without_the_batch_api_groups_should_be_read_one_a_call_within_the_budget() {
    let em = emulator(EmulatorConfig::instant()).await;
    // An endpoint that answers 404 to the batch path: not the batch API.
    let nowhere = em.url().join("nowhere/").unwrap();
    let stats = StatsConfig {
        fallback_reads: 4,
        ..stats_config(Duration::ZERO)
    };
    let p = provider_with(client(&em), Some(nowhere), stats);
    let pods: Vec<Pod> = (0..6)
        .map(|i| busy_pod(&format!("f{i}"), &[("app", "cpu=20m,memory=8Mi")]))
        .collect();
    run(&p, &pods).await;
    time::sleep(Duration::from_millis(1100)).await;
    let first = p.stats().await.unwrap();
    assert_eq!(
        em.call_count("metrics.list"),
        4,
        "at most fallback_reads a refresh"
    );
    let known = first
        .iter()
        .filter(|s| s.containers[0].cpu_usage_nano_cores.is_some())
        .count();
    assert_eq!(known, 4, "pods not read yet are absent, not zero");
    p.stats().await.unwrap();
    let second = p.stats().await.unwrap();
    assert!(
        second
            .iter()
            .all(|s| s.containers[0].cpu_usage_nano_cores == Some(20_000_000)),
        "the oldest data is read first, so every pod gets its turn: {second:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn missing_or_late_data_should_be_absent_never_zero() {
    let config = EmulatorConfig {
        // Azure Monitor shows the latest minutes late; here later than the window.
        metrics_delay: Duration::from_secs(3600),
        ..EmulatorConfig::instant()
    };
    let em = emulator(config).await;
    let p = provider_with(client(&em), Some(em.url()), stats_config(Duration::ZERO));
    run(&p, &[busy_pod("late", &[("app", "cpu=250m,memory=64Mi")])]).await;
    let stats = p.stats().await.unwrap();
    let c = container(&stats, "late", "app");
    assert_eq!(c.cpu_usage_nano_cores, None);
    assert_eq!(c.cpu_usage_core_nano_seconds, None);
    assert_eq!(c.memory_working_set_bytes, None);
    assert!(c.start_time.is_some(), "the container is still listed");
}

#[tokio::test(start_paused = true)]
async fn a_metrics_storm_should_neither_spend_nor_wait_for_the_budget_of_creates() {
    let em = emulator(EmulatorConfig::instant()).await;
    // An ARM read budget that a metrics storm would exhaust for hours if it drew from it.
    let mut throttle = ThrottleConfig::unlimited();
    throttle.reads = BucketConfig {
        capacity: 20.0,
        refill_per_second: 0.0001,
        background_reserve: 0.0,
    };
    let arm = ArmClient::new(
        config(&em).throttle(throttle),
        ArmCredential::fixed(SECRET_TOKEN),
    )
    .unwrap();
    let stats = StatsConfig {
        scrape_wait: Duration::from_millis(20),
        ..stats_config(Duration::ZERO)
    };
    // A metrics budget of 3 calls: the storm soon waits on it, and only on it.
    let monitor = MonitorConfig {
        budget: BucketConfig {
            capacity: 3.0,
            refill_per_second: 0.0001,
            background_reserve: 0.0,
        },
        ..MonitorConfig::default()
    };
    let p = Arc::new(provider_with_monitor(
        arm,
        monitor.batch_endpoint(em.url()),
        stats,
    ));
    run(&p, &[busy_pod("seed", &[("app", "")])]).await;
    time::sleep(Duration::from_millis(1100)).await;
    let storm = {
        let p = p.clone();
        tokio::spawn(async move {
            for _ in 0..40 {
                p.stats().await.unwrap();
            }
        })
    };
    let pods: Vec<Pod> = (0..40)
        .map(|i| busy_pod(&format!("c{i}"), &[("app", "")]))
        .collect();
    let creates = async {
        for pod in &pods {
            p.create_pod(pod, &PodResources::default()).await.unwrap();
        }
    };
    assert!(
        time::timeout(Duration::from_secs(60), creates)
            .await
            .is_ok(),
        "creates waited behind the metrics storm"
    );
    assert!(
        time::timeout(Duration::from_secs(60), storm).await.is_ok(),
        "scrapes wait for a refresh at most scrape_wait"
    );
    assert_eq!(em.group_names().len(), 41);
    let metrics = p.arm().metrics();
    // How many refreshes ran depends on timing; never more than the metrics budget.
    let batches = metrics.count(BATCH_OPERATION, "200");
    assert!(
        (1..=3).contains(&batches),
        "the storm spent its own budget (3 calls) and no more: {batches}"
    );
    assert_eq!(
        em.call_count("metrics.list"),
        0,
        "nothing fell back to ARM reads"
    );
}

/// A `realtime-metrics` agent on loopback: container `app` uses a quarter of a core and
/// 48 MiB, measured now.
async fn realtime_agent() -> std::net::SocketAddr {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let started = tokio::time::Instant::now();
    let clock = TokioWallClock::shared();
    let app = axum::Router::new().route(
        "/v1/stats",
        get(move || async move {
            let now = clock.now();
            let used = started.elapsed().as_nanos() / 4;
            axum::Json(serde_json::json!({
                "timestamp": now.as_nanosecond(),
                "containers": [{"name": "app",
                                "cpu": {"usageCoreNanoSeconds": used},
                                "memory": {"workingSetBytes": 48 * 1024 * 1024}}]
            }))
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test(start_paused = true)]
async fn the_realtime_agent_should_be_preferred_when_azure_monitor_lags() {
    // Azure Monitor has nothing for the last hour; the agent answers at once.
    let config = EmulatorConfig {
        metrics_delay: Duration::from_secs(3600),
        ..EmulatorConfig::instant()
    };
    let em = emulator(config).await;
    let stats = StatsConfig {
        realtime: true,
        realtime_address: Some(realtime_agent().await),
        ..stats_config(Duration::ZERO)
    };
    let p = provider_with(client(&em), Some(em.url()), stats);
    let mut pod = busy_pod("live", &[("app", "")]);
    pod.spec.as_mut().unwrap().containers[0].ports =
        Some(vec![k8s_openapi::api::core::v1::ContainerPort {
            container_port: 80,
            ..Default::default()
        }]);
    run(&p, &[pod]).await;
    let first = p.stats().await.unwrap();
    assert_eq!(
        container(&first, "live", "app").cpu_usage_nano_cores,
        None,
        "one sample gives no rate yet"
    );
    // The agent's answers are reused for 5 s.
    time::sleep(Duration::from_millis(5200)).await;
    let second = p.stats().await.unwrap();
    let app = container(&second, "live", "app");
    let cores = app.cpu_usage_nano_cores.expect("a rate from two samples");
    assert!(
        (200_000_000..=300_000_000).contains(&cores),
        "about a quarter of a core: {cores}"
    );
    assert_eq!(app.memory_working_set_bytes, Some(48 * 1024 * 1024));
}
