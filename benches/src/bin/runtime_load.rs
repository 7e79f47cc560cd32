//! Load scenario for the vk-core runtime: bind N pods to a virtual node and measure the time
//! until all are `Running` in the API, and the runtime process's peak RSS.
//!
//! `runtime_load [N] [--in-process]` (N defaults to 1000). The fake API server runs in a
//! child process (this same binary with `--serve-fake`), so the peak RSS (`VmHWM`) reported
//! is the runtime's own: its pod store, controller state, MockProvider and client. With
//! `--in-process` the fake API server shares the process (and the figure). The runtime's
//! CPU time from binding to all Running is printed too: on a shared machine it is steadier
//! than the elapsed time.
//!
//! The MockProvider runs with its call record off (it would grow with every pod).
//!
//! ```text
//! cargo run --release -p vk-benches --bin runtime_load -- 1000
//! cargo run --release -p vk-benches --bin runtime_load -- 10000
//! ```
use std::process::ExitCode;
use std::sync::Arc;
use vk_benches::{client_from, cpu_seconds, spawn_serving_child, vm_hwm_kib};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use tokio::time::{self, Duration, Instant};
use vk_core::{NodeConfig, Runtime};
use vk_testing::{FakeApiServer, MockProvider};

const NODE: &str = "vk-load";

fn pod(i: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("load-{i}"), "namespace": "default",
                     "labels": {"app": "load"}},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "app", "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
        },
    }))
    .expect("a static pod document")
}

/// Child mode: serve a fake API server, write its kubeconfig, run until stdin closes.
async fn serve_fake(kubeconfig: &str, capacity: usize) -> Result<(), String> {
    let api = FakeApiServer::builder()
        .event_log_capacity(capacity)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    api.write_kubeconfig(kubeconfig)
        .map_err(|e| e.to_string())?;
    println!("ready {}", api.url());
    // The parent kills this process when it is done.
    std::future::pending::<()>().await;
    Ok(())
}

async fn run(n: usize, in_process: bool) -> Result<(), String> {
    let capacity = n * 8 + 1000;
    // Either a child process or an in-process fake API server.
    let mut child = None;
    let mut local = None;
    let dir = std::env::temp_dir().join(format!("runtime_load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let kubeconfig = dir.join("kubeconfig").to_string_lossy().into_owned();
    let client = if in_process {
        let api = FakeApiServer::builder()
            .event_log_capacity(capacity)
            .start()
            .await
            .map_err(|e| e.to_string())?;
        let client = api.client();
        local = Some(api);
        client
    } else {
        let args = [
            "--serve-fake".to_owned(),
            kubeconfig.clone(),
            capacity.to_string(),
        ];
        let (c, _) = spawn_serving_child(&args, "the fake API server").await?;
        child = Some(c);
        client_from(&kubeconfig).await?
    };

    client
        .apiserver_version()
        .await
        .map_err(|e| format!("the fake API server does not answer: {e}"))?;
    // The call record would grow with every pod: not part of what is measured.
    let provider = MockProvider::builder()
        .start_delay(Duration::ZERO)
        .record_calls(false)
        .build();
    let runtime = Runtime::builder(client.clone(), Arc::new(provider), NodeConfig::named(NODE))
        .workers(32)
        .build();
    let store = runtime.pod_store();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));
    // Bind once the node is registered (the runtime is then watching or about to).
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    time::timeout(Duration::from_secs(60), async {
        while nodes.get_opt(NODE).await.ok().flatten().is_none() {
            time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .map_err(|_| "the node was not registered within 60 s")?;
    let baseline = vm_hwm_kib("self").unwrap_or(0);
    let cpu_before = cpu_seconds("self").unwrap_or(0.0);

    let (bound, all_running) = bind_all(Api::namespaced(client, "default"), &store, n).await?;
    let peak = vm_hwm_kib("self").unwrap_or(0);
    let cpu = cpu_seconds("self").unwrap_or(0.0) - cpu_before;
    let fake_peak = child
        .as_ref()
        .and_then(tokio::process::Child::id)
        .and_then(|pid| vm_hwm_kib(&pid.to_string()));

    println!("pods: {n}");
    println!(
        "all bound (created in the API): {:.2} s",
        bound.as_secs_f64()
    );
    println!(
        "all Running in the API:         {:.2} s",
        all_running.as_secs_f64()
    );
    println!("CPU time of this process (runtime and binder), binding to all Running: {cpu:.2} s");
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "peak RSS (VmHWM) of the runtime process{}: {:.1} MiB (before binding: {:.1} MiB)",
        if in_process {
            " incl. the fake API server"
        } else {
            ""
        },
        mib(peak),
        mib(baseline)
    );
    if let Some(kib) = fake_peak {
        println!(
            "peak RSS of the fake API server process: {:.1} MiB",
            mib(kib)
        );
    }

    let _ = stop.send(());
    let _ = time::timeout(Duration::from_secs(30), task).await;
    drop(local);
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Create `n` pods bound to the node, then wait until the runtime's store sees them all
/// Running: (time to create them all, time to all Running), both from the first create.
async fn bind_all(
    pods: Api<Pod>,
    store: &vk_core::PodStore,
    n: usize,
) -> Result<(Duration, Duration), String> {
    let started = Instant::now();
    let failures = futures::stream::iter(0..n)
        .map(|i| {
            let pods = pods.clone();
            async move { pods.create(&PostParams::default(), &pod(i)).await.is_err() }
        })
        .buffer_unordered(64)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    if failures > 0 {
        return Err(format!("{failures} pods could not be created"));
    }
    let bound = started.elapsed();
    let deadline = Duration::from_secs(600);
    loop {
        let running = store.count_phase("Running");
        if running >= n {
            break;
        }
        if started.elapsed() > deadline {
            return Err(format!(
                "only {running} of {n} pods Running after {deadline:?}"
            ));
        }
        time::sleep(Duration::from_millis(10)).await;
    }
    let all_running = started.elapsed();
    Ok((bound, all_running))
}

#[tokio::main]
async fn main() -> ExitCode {
    // RUST_LOG=vk_core=debug shows what the runtime does.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("--serve-fake") {
        let path = args.get(1).cloned().unwrap_or_default();
        let capacity = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(100_000);
        serve_fake(&path, capacity).await
    } else {
        let n = args
            .iter()
            .find_map(|a| a.parse::<usize>().ok())
            .unwrap_or(1000);
        let in_process = args.iter().any(|a| a == "--in-process");
        run(n, in_process).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runtime_load: {e}");
            ExitCode::FAILURE
        }
    }
}
