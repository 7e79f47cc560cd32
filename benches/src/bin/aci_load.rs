//! Load scenario for the ACI virtual node: bind N pods to a node made of the real pieces
//! (vk-core's runtime, `AciProvider`, the ARM client, the ACI emulator over loopback HTTP)
//! and measure the time until all are `Running` in the API, bind-to-ARM-PUT latencies, the
//! ARM calls made and the node process's peak RSS.
//!
//! `aci_load [N] [--arm-limits] [--status-reads=R]` (N defaults to 1000).
//!
//! - The fake API server and the ACI emulator run in a child process (this same binary with
//!   `--serve`), so the peak RSS (`VmHWM`) reported is the node's own: runtime, provider,
//!   status tracker, ARM and Kubernetes clients.
//! - The emulator provisions quickly (200 ms `Pending`, 300 ms `Creating`) and has ACI's
//!   create quota (100 per 5 min) disabled in both modes: it would dominate any run of more
//!   than 100 pods.
//! - Default mode: no ARM throttling anywhere (emulator buckets off, client buckets
//!   unlimited): the node's own overhead. `--arm-limits`: ARM's token buckets on both sides
//!   (writes 200 then 10/s, reads 250 then 25/s, as the emulator's defaults and the ARM
//!   client's defaults), so creates are bounded by the write budget: `(N - 200) / 10` s.
//! - The provider's status tracker keeps its production budget (`StatusConfig::default`,
//!   4 group reads per second) unless `--status-reads=R` raises it: with 2 reads per pod
//!   until `Running`, that budget, not ARM, bounds how fast N pods show `Running`.
//! - Bind is the pod's creation in the API with `spec.nodeName` set; the ARM PUT time is
//!   when `AciProvider::create_pod` returns (the PUT accepted, before provisioning ends).
//!
//! ```text
//! cargo run --release -p vk-benches --bin aci_load -- 1000
//! cargo run --release -p vk-benches --bin aci_load -- 1000 --arm-limits
//! ```
use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use vk_benches::{client_from, spawn_serving_child, vm_hwm_kib};

use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, PodStatus};
use kube::api::{Api, PostParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{self, Duration, Instant};
use vk_aci::arm::{ArmClient, ArmConfig, ArmCredential, RetryPolicy, ThrottleConfig};
use vk_aci::emulator::{Emulator, EmulatorConfig, state::Timeline};
use vk_aci::{AciConfig, AciProvider};
use vk_core::provider::{
    DuplexIo, ExecIo, LogOptions, LogStream, PodKey, PodNotifier, PodResources, PodStats,
    ProviderPod, Result as ProviderResult,
};
use vk_core::{NodeConfig, Provider, Runtime};
use vk_testing::FakeApiServer;

const NODE: &str = "vk-aci-load";
const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
const RESOURCE_GROUP: &str = "vk-aci-load";
const REGION: &str = "westus";

fn pod(i: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("load-{i}"), "namespace": "default",
                     "labels": {"app": "load"}},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "app", "image": "nginx:1.27",
                            "command": ["nginx", "-g", "daemon off;"],
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
        },
    }))
    .expect("a static pod document")
}

/// The emulator of one mode: fast provisioning, no create quota, ARM's buckets or none.
fn emulator_config(arm_limits: bool, n: usize) -> EmulatorConfig {
    EmulatorConfig {
        timeline: Timeline {
            pending: Duration::from_millis(200),
            creating: Duration::from_millis(300),
            deleting: Duration::ZERO,
        },
        throttle: arm_limits.then(ThrottleConfig::default),
        quota: Vec::new(),
        group_limit: u64::try_from(n * 2 + 100).unwrap_or(u64::MAX),
        ..EmulatorConfig::default()
    }
}

/// Child mode: serve the fake API server and the emulator, write the kubeconfig, print the
/// emulator's URL and run until killed.
async fn serve(
    kubeconfig: &str,
    capacity: usize,
    arm_limits: bool,
    n: usize,
) -> Result<(), String> {
    let api = FakeApiServer::builder()
        .event_log_capacity(capacity)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    api.write_kubeconfig(kubeconfig)
        .map_err(|e| e.to_string())?;
    let emulator = Emulator::start(emulator_config(arm_limits, n))
        .await
        .map_err(|e| e.to_string())?;
    println!("ready {}", emulator.url());
    // The parent kills this process when it is done.
    std::future::pending::<()>().await;
    drop(emulator);
    Ok(())
}

/// `GET /_emulator/calls` over plain HTTP/1.0 (the emulator's read-only call counter).
async fn emulator_calls(base: &url::Url) -> Result<BTreeMap<String, u64>, String> {
    let host = base.host_str().ok_or("no emulator host")?;
    let port = base.port().ok_or("no emulator port")?;
    let fetch = async {
        let mut stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(format!("GET /_emulator/calls HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream
            .take(1 << 20)
            .read_to_end(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(answer)
    };
    let answer = time::timeout(Duration::from_secs(10), fetch)
        .await
        .map_err(|_| "the emulator did not answer")??;
    let text = String::from_utf8_lossy(&answer);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .ok_or("no HTTP body")?;
    serde_json::from_str(body).map_err(|e| e.to_string())
}

/// Times of each pod's create: when the runtime called the provider and when the ARM PUT
/// was accepted.
#[derive(Default)]
struct Timings {
    entered: HashMap<String, Instant>,
    put: HashMap<String, Instant>,
}

/// `AciProvider` with create timings; every other call goes straight through.
struct Timed {
    inner: Arc<AciProvider>,
    timings: Arc<Mutex<Timings>>,
}

impl Timed {
    fn timings(&self) -> std::sync::MutexGuard<'_, Timings> {
        self.timings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Provider for Timed {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn supports_port_forward(&self) -> bool {
        self.inner.supports_port_forward()
    }

    async fn create_pod(&self, pod: &Pod, resources: &PodResources) -> ProviderResult<()> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        self.timings()
            .entered
            .entry(name.clone())
            .or_insert_with(Instant::now);
        let result = self.inner.create_pod(pod, resources).await;
        if result.is_ok() {
            self.timings().put.entry(name).or_insert_with(Instant::now);
        }
        result
    }

    async fn update_pod(&self, pod: &Pod, resources: &PodResources) -> ProviderResult<()> {
        self.inner.update_pod(pod, resources).await
    }

    async fn delete_pod(&self, pod: &Pod) -> ProviderResult<()> {
        self.inner.delete_pod(pod).await
    }

    async fn pod_status(&self, key: &PodKey) -> ProviderResult<Option<PodStatus>> {
        self.inner.pod_status(key).await
    }

    async fn list_pods(&self) -> ProviderResult<Vec<ProviderPod>> {
        self.inner.list_pods().await
    }

    fn notify_pods(&self, notifier: PodNotifier) -> bool {
        self.inner.notify_pods(notifier)
    }

    fn configure_node(&self, node: &mut Node) {
        self.inner.configure_node(node);
    }

    async fn ping(&self) -> ProviderResult<()> {
        self.inner.ping().await
    }

    async fn logs(
        &self,
        key: &PodKey,
        container: &str,
        opts: &LogOptions,
    ) -> ProviderResult<LogStream> {
        self.inner.logs(key, container, opts).await
    }

    async fn exec(
        &self,
        key: &PodKey,
        container: &str,
        command: &[String],
        io: ExecIo,
    ) -> ProviderResult<i32> {
        self.inner.exec(key, container, command, io).await
    }

    async fn attach(&self, key: &PodKey, container: &str, io: ExecIo) -> ProviderResult<i32> {
        self.inner.attach(key, container, io).await
    }

    async fn port_forward(
        &self,
        key: &PodKey,
        port: u16,
        stream: Box<dyn DuplexIo>,
    ) -> ProviderResult<()> {
        self.inner.port_forward(key, port, stream).await
    }

    async fn stats(&self) -> ProviderResult<Vec<PodStats>> {
        self.inner.stats().await
    }
}

/// The `q` quantile (nearest rank) of `samples`, in seconds.
fn quantile(samples: &mut [Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )] // sample counts far below 2^52; the rank is in 1..=len
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1].as_secs_f64()
}

/// Per-pod delays from `from` to `to`, for pods in both.
fn delays(from: &HashMap<String, Instant>, to: &HashMap<String, Instant>) -> Vec<Duration> {
    from.iter()
        .filter_map(|(name, t0)| to.get(name).map(|t1| t1.saturating_duration_since(*t0)))
        .collect()
}

fn print_delays(what: &str, mut samples: Vec<Duration>) {
    let p50 = quantile(&mut samples, 0.50);
    let p99 = quantile(&mut samples, 0.99);
    let max = samples.last().map_or(f64::NAN, Duration::as_secs_f64);
    println!(
        "{what}: p50 {p50:.3} s, p99 {p99:.3} s, max {max:.3} s ({} pods)",
        samples.len()
    );
}

#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn run(n: usize, arm_limits: bool, status_reads: Option<f64>) -> Result<(), String> {
    let capacity = n * 8 + 1000;
    let dir = std::env::temp_dir().join(format!("aci_load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let kubeconfig = dir.join("kubeconfig").to_string_lossy().into_owned();
    let mut args = vec![
        "--serve".to_owned(),
        kubeconfig.clone(),
        capacity.to_string(),
        n.to_string(),
    ];
    if arm_limits {
        args.push("--arm-limits".to_owned());
    }
    let (child, emulator_url) =
        spawn_serving_child(&args, "the fake API server and emulator").await?;
    let emulator_url = url::Url::parse(&emulator_url).map_err(|e| e.to_string())?;
    let client = client_from(&kubeconfig).await?;
    client
        .apiserver_version()
        .await
        .map_err(|e| format!("the fake API server does not answer: {e}"))?;

    // The node as `vk-aci local` wires it, minus the kubelet API and the lease: ARM at the
    // emulator, production retry and status tracking settings.
    let arm_config = ArmConfig::new(SUBSCRIPTION, RESOURCE_GROUP, REGION)
        .base_url(emulator_url.clone())
        .throttle(if arm_limits {
            ThrottleConfig::default()
        } else {
            ThrottleConfig::unlimited()
        })
        .retry(RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        });
    let arm = ArmClient::new(arm_config, ArmCredential::fixed("load"))
        .map_err(|e| format!("arm client: {e}"))?;
    let mut arm_registry = prometheus_client::registry::Registry::with_prefix("vk_aci");
    arm.metrics().register(&mut arm_registry);
    let mut aci = AciConfig::default();
    aci.node = aci.node.clone().region(REGION).node_name(NODE);
    if let Some(reads) = status_reads {
        aci.status.reads_per_second = reads;
    }
    let clock: vk_core::clock::SharedClock = Arc::new(vk_core::clock::SystemClock);
    let provider = Arc::new(AciProvider::new(arm, aci, Arc::clone(&clock)));
    let timings = Arc::new(Mutex::new(Timings::default()));
    let timed = Timed {
        inner: provider,
        timings: Arc::clone(&timings),
    };
    let mut node = NodeConfig::named(NODE);
    node.internal_ip = Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let runtime = Runtime::builder(client.clone(), Arc::new(timed), node)
        .workers(50)
        .clock(clock)
        .build();
    let store = runtime.pod_store();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));
    let nodes: Api<Node> = Api::all(client.clone());
    time::timeout(Duration::from_secs(60), async {
        while nodes.get_opt(NODE).await.ok().flatten().is_none() {
            time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .map_err(|_| "the node was not registered within 60 s")?;
    let baseline = vm_hwm_kib("self").unwrap_or(0);
    let calls_before = emulator_calls(&emulator_url).await?;

    let started = Instant::now();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let bound: Vec<(String, Option<Instant>)> = futures::stream::iter(0..n)
        .map(|i| {
            let pods = pods.clone();
            async move {
                let p = pod(i);
                let name = p.metadata.name.clone().unwrap_or_default();
                let ok = pods.create(&PostParams::default(), &p).await.is_ok();
                (name, ok.then(Instant::now))
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let failures = bound.iter().filter(|(_, t)| t.is_none()).count();
    if failures > 0 {
        return Err(format!("{failures} pods could not be created"));
    }
    let bound: HashMap<String, Instant> = bound
        .into_iter()
        .filter_map(|(name, t)| t.map(|t| (name, t)))
        .collect();
    let all_bound = started.elapsed();

    // Twice the write-budget bound with ARM's limits on, and never under 15 minutes.
    let write_bound = Duration::from_secs_f64(n.saturating_sub(200) as f64 / 10.0);
    let deadline = Duration::from_secs(900).max(if arm_limits {
        write_bound * 2
    } else {
        Duration::ZERO
    });
    let mut running: HashMap<String, Instant> = HashMap::new();
    let mut next_progress = Instant::now() + Duration::from_secs(10);
    loop {
        let now = Instant::now();
        if now >= next_progress {
            next_progress = now + Duration::from_secs(10);
            let (entered, put) = {
                let t = timings
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                (t.entered.len(), t.put.len())
            };
            let calls = emulator_calls(&emulator_url).await.unwrap_or_default();
            let calls: Vec<String> = calls
                .iter()
                .map(|(op, v)| format!("{op} {}", v - calls_before.get(op).copied().unwrap_or(0)))
                .collect();
            eprintln!(
                "[{:>6.1} s] create_pod called {entered}, PUT accepted {put}, Running {}; ARM: {}",
                started.elapsed().as_secs_f64(),
                running.len(),
                calls.join(", "),
            );
        }
        for key in store.in_phase("Running") {
            running.entry(key.name).or_insert(now);
        }
        if running.len() >= n {
            break;
        }
        if started.elapsed() > deadline {
            return Err(format!(
                "only {} of {n} pods Running after {deadline:?}",
                running.len()
            ));
        }
        time::sleep(Duration::from_millis(20)).await;
    }
    let all_running = started.elapsed();
    let peak = vm_hwm_kib("self").unwrap_or(0);
    let child_peak = child.id().and_then(|pid| vm_hwm_kib(&pid.to_string()));
    let calls_after = emulator_calls(&emulator_url).await?;

    println!(
        "pods: {n}, mode: {}",
        if arm_limits {
            "ARM limits on (writes 200 + 10/s, reads 250 + 25/s; ACI create quota off)"
        } else {
            "throttling off (no ARM buckets, no ACI create quota)"
        }
    );
    println!(
        "status tracker budget: {} group reads/s",
        status_reads.map_or_else(|| "4 (default)".to_owned(), |r| r.to_string())
    );
    println!(
        "all bound (created in the API): {:.2} s",
        all_bound.as_secs_f64()
    );
    println!(
        "all Running in the API:         {:.2} s",
        all_running.as_secs_f64()
    );
    if arm_limits {
        let bound_s = (n.saturating_sub(200) as f64) / 10.0;
        println!(
            "ARM write-budget bound (200 + 10/s): {bound_s:.1} s; all Running / bound = {:.2}",
            all_running.as_secs_f64() / bound_s.max(f64::MIN_POSITIVE)
        );
    }
    {
        let t = timings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        print_delays(
            "bind -> provider create_pod called",
            delays(&bound, &t.entered),
        );
        print_delays("bind -> ARM PUT accepted         ", delays(&bound, &t.put));
        print_delays(
            "ARM PUT accepted -> Running (API)",
            delays(&t.put, &running),
        );
    }
    print_delays(
        "bind -> Running in the API       ",
        delays(&bound, &running),
    );
    println!("ARM calls during the run (emulator's /_emulator/calls, incl. throttled):");
    for (op, after) in &calls_after {
        let before = calls_before.get(op).copied().unwrap_or(0);
        println!("  {op}: {}", after - before);
    }
    let mut metrics = String::new();
    if prometheus_client::encoding::text::encode_registry(&mut metrics, &arm_registry).is_ok() {
        println!("ARM client counters (whole run, node start included):");
        for line in metrics.lines().filter(|l| {
            !l.starts_with('#')
                && (l.starts_with("vk_aci_arm_requests")
                    || l.starts_with("vk_aci_arm_retries")
                    || l.starts_with("vk_aci_arm_throttle"))
        }) {
            println!("  {line}");
        }
    }
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "peak RSS (VmHWM) of the node process: {:.1} MiB (before binding: {:.1} MiB)",
        mib(peak),
        mib(baseline)
    );
    if let Some(kib) = child_peak {
        println!(
            "peak RSS of the fake API server + emulator process: {:.1} MiB",
            mib(kib)
        );
    }

    let _ = stop.send(());
    let _ = time::timeout(Duration::from_secs(30), task).await;
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // RUST_LOG=vk_core=debug,vk_aci=debug shows what the node does.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arm_limits = args.iter().any(|a| a == "--arm-limits");
    let result = if args.first().map(String::as_str) == Some("--serve") {
        let path = args.get(1).cloned().unwrap_or_default();
        let capacity = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(100_000);
        let n = args.get(3).and_then(|c| c.parse().ok()).unwrap_or(1000);
        serve(&path, capacity, arm_limits, n).await
    } else {
        let n = args
            .iter()
            .find_map(|a| a.parse::<usize>().ok())
            .unwrap_or(1000);
        let status_reads = args
            .iter()
            .find_map(|a| a.strip_prefix("--status-reads="))
            .and_then(|r| r.parse::<f64>().ok())
            .filter(|r| r.is_finite() && *r > 0.0);
        run(n, arm_limits, status_reads).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aci_load: {e}");
            ExitCode::FAILURE
        }
    }
}
