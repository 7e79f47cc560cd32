//! Load scenario for pod statistics: N running pods on the ACI provider, metrics-server
//! scraping `/metrics/resource` every 15 s, for M minutes; counts the Azure Monitor calls
//! the provider makes and how many pods had numbers at each scrape.
//!
//! `metrics_load [N] [--minutes=M] [--no-batch]` (N defaults to 1000, M to 3).
//!
//! - The ACI emulator serves ARM and Azure Monitor over loopback HTTP, with ARM's and the
//!   metrics API's throttling off; the provider keeps its production statistics settings
//!   (`StatsConfig::default`: a refresh at most every 60 s, 50 groups a batch call).
//! - Each scrape calls `Provider::stats`, as the kubelet API's `/metrics/resource` does.
//! - `--no-batch`: no batch endpoint, so groups are read one a call through ARM (the
//!   fallback), within its per-refresh budget.
//! - For comparison, the upstream provider reads each pod's group from Azure Monitor on
//!   every scrape: N x 4 calls a minute.
//!
//! ```text
//! cargo run --release -p vk-benches --bin metrics_load -- 1000
//! ```
use std::process::ExitCode;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use tokio::time::{self, Duration, Instant};
use vk_aci::arm::{ArmClient, ArmConfig, ArmCredential, ThrottleConfig};
use vk_aci::emulator::{Emulator, EmulatorConfig};
use vk_aci::monitor::{MonitorClient, MonitorConfig};
use vk_aci::{AciConfig, AciProvider};
use vk_core::Provider;
use vk_core::provider::{PodKey, PodResources};

const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
const RESOURCE_GROUP: &str = "vk-metrics-load";
const REGION: &str = "westus";
const SCRAPE: Duration = Duration::from_secs(15);

fn pod(i: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("m-{i}"), "namespace": "default", "uid": format!("uid-{i}")},
        "spec": {
            "nodeName": "vk-aci-test-aks",
            "containers": [{"name": "app", "image": "nginx:1.27",
                            "env": [{"name": "VK_EMULATOR_USAGE", "value": "cpu=50m,memory=32Mi"}]}]
        }
    }))
    .expect("a valid pod")
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pods: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1000);
    let minutes: u64 = args
        .iter()
        .find_map(|a| a.strip_prefix("--minutes=")?.parse().ok())
        .unwrap_or(3);
    let batch = !args.iter().any(|a| a == "--no-batch");

    let mut config = EmulatorConfig::instant();
    config.group_limit = u64::MAX;
    let em = match Emulator::start(config).await {
        Ok(em) => em,
        Err(e) => {
            eprintln!("emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let arm_config = ArmConfig::new(SUBSCRIPTION, RESOURCE_GROUP, REGION)
        .base_url(em.url())
        .throttle(ThrottleConfig::unlimited());
    let arm = ArmClient::new(arm_config, ArmCredential::fixed("bench")).expect("arm client");
    let monitor = MonitorConfig {
        batch_endpoint: batch.then(|| em.url()),
        ..MonitorConfig::default()
    };
    let monitor =
        MonitorClient::new(monitor, ArmCredential::fixed("bench"), arm.clone()).expect("monitor");
    let mut aci = AciConfig::default();
    aci.node = aci.node.clone().region(REGION);
    let provider =
        AciProvider::new(arm, aci, Arc::new(vk_core::clock::SystemClock)).with_monitor(monitor);

    let started = Instant::now();
    for i in 0..pods {
        if let Err(e) = provider.create_pod(&pod(i), &PodResources::default()).await {
            eprintln!("create m-{i}: {e}");
            return ExitCode::FAILURE;
        }
    }
    for i in 0..pods {
        let key = PodKey::new("default", format!("m-{i}"));
        loop {
            match provider.pod_status(&key).await {
                Ok(Some(s)) if s.phase.as_deref() == Some("Running") => break,
                Ok(_) => time::sleep(Duration::from_millis(100)).await,
                Err(e) => {
                    eprintln!("status of {key}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    println!(
        "{pods} pods running after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Let every container run for a few seconds, as a new pod would before its first scrape.
    time::sleep(Duration::from_secs(2)).await;

    let calls = |em: &vk_aci::emulator::EmulatorHandle| {
        em.call_count("metrics.batch") + em.call_count("metrics.list")
    };
    let before = calls(&em);
    let scrapes = minutes * 60 / SCRAPE.as_secs();
    let window = Instant::now();
    let mut with_numbers = Vec::new();
    let mut slowest = Duration::ZERO;
    for n in 0..scrapes {
        let at = Instant::now();
        let stats = match provider.stats().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("stats: {e}");
                return ExitCode::FAILURE;
            }
        };
        slowest = slowest.max(at.elapsed());
        let full = stats
            .iter()
            .filter(|p| {
                p.containers
                    .iter()
                    .all(|c| c.cpu_usage_core_nano_seconds.is_some())
            })
            .count();
        with_numbers.push(full);
        println!(
            "scrape {n:>2}: {} pods, {full} with numbers, {} monitor calls so far",
            stats.len(),
            calls(&em) - before
        );
        time::sleep_until(window + SCRAPE * u32::try_from(n + 1).unwrap_or(u32::MAX)).await;
    }
    let elapsed = window.elapsed().as_secs_f64();
    let total = calls(&em) - before;
    let per_minute = total as f64 * 60.0 / elapsed;
    println!(
        "{pods} pods, {scrapes} scrapes in {elapsed:.0} s: {total} Azure Monitor calls \
         ({} batch, {} per-resource) = {per_minute:.1} calls/min; upstream: {} calls/min; \
         slowest scrape {:.2} s; pods with numbers per scrape: {with_numbers:?}",
        em.call_count("metrics.batch"),
        em.call_count("metrics.list"),
        pods * 4,
        slowest.as_secs_f64()
    );
    ExitCode::SUCCESS
}
