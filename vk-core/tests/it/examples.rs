//! The examples' providers as nodes of a fake cluster (`vk_testing::harness`), driven with
//! real kubectl: what a user of each example would see, without a cluster.
use std::process::Stdio;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{EnvVar, Pod};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::time::{self, Duration};
use vk_testing::harness::{Harness, pod};

// The examples' own files, so the tests run exactly what the examples show; their `main`
// is not used here.
#[allow(dead_code)]
#[path = "../../examples/custom_provider.rs"]
mod custom_provider;
#[allow(dead_code)]
#[path = "../../examples/process_provider.rs"]
mod process_provider;

use custom_provider::MapProvider;
use process_provider::ProcessProvider;

/// A pod running `sh -c script` once (`restartPolicy: Never`).
fn job(name: &str, script: &str) -> Pod {
    let mut p = pod(name, &["sh", "-c", script]);
    let spec = p.spec.as_mut().expect("pod() sets a spec");
    spec.restart_policy = Some("Never".to_owned());
    p
}

/// The pid of container 0's process, from its `process://<pid>` id.
fn pid_of(pod: &Pod) -> u32 {
    let status = &pod.status.as_ref().expect("a status").container_statuses;
    let id = status.as_ref().expect("container statuses")[0]
        .container_id
        .as_deref()
        .expect("a container id");
    id.strip_prefix("process://")
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("not a process id: {id}"))
}

/// Processes of process group `pgid` that have not exited (zombies excluded).
fn live_members(pgid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("procfs").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...; comm may hold spaces, so split after ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2) == Some(&pgid.to_string().as_str()) && fields[0] != "Z" {
            found.push(stat);
        }
    }
    found
}

/// Wait until every process of group `pgid` is gone, polling `/proc`.
async fn wait_for_group_gone(pgid: u32, patience: Duration) {
    let gone = time::timeout(patience, async {
        while !live_members(pgid).is_empty() {
            time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "processes of the deleted pod still run: {:?}",
        live_members(pgid)
    );
}

/// `kubectl exec hello -- args`: its exit code and stdout.
async fn exec(h: &Harness, version: &str, args: &[&str]) -> (i32, String) {
    let mut all = vec!["exec", "hello", "--"];
    all.extend_from_slice(args);
    let out = h.kubectl(version).run(&all).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "kubectl {version} {all:?}: {:?}; stderr: {stderr}",
        out.status
    );
    let code = out.status.code().expect("kubectl exited");
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Start a process pod printing `hello`, wait until it runs and its log has the line
/// (following the log: no fixed sleep).
async fn hello_pod(h: &Harness, version: &str) -> Pod {
    let mut p = job("hello", "echo hello; sleep 30");
    p.spec.as_mut().expect("a spec").containers[0].env = Some(vec![EnvVar {
        name: "GREETING".to_owned(),
        value: Some("from the pod spec".to_owned()),
        value_from: None,
    }]);
    h.create_pod(p).await;
    let running = h.wait_for_phase("hello", "Running").await;
    let mut follow = h.kubectl(version).command();
    follow
        .args(["logs", "--follow", "hello"])
        .stdout(Stdio::piped());
    let mut child = follow.spawn().expect("kubectl runs");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let first = time::timeout(h.patience(), lines.next_line())
        .await
        .expect("kubectl logs --follow shows the first line in time")
        .expect("kubectl's stdout reads");
    assert_eq!(first.as_deref(), Some("hello"), "kubectl logs --follow");
    let _ = child.kill().await;
    running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_pod_should_serve_kubectl_logs_and_exec_and_die_with_the_pod() {
    let h = Harness::start(Arc::new(ProcessProvider::default())).await;
    let running = hello_pod(&h, "1.33").await;
    let kubectl = h.kubectl("1.33");

    assert_eq!(kubectl.ok(&["logs", "hello"]).await, "hello\n");
    assert_eq!(
        exec(&h, "1.33", &["echo", "hi"]).await,
        (0, "hi\n".to_owned())
    );
    assert_eq!(exec(&h, "1.33", &["sh", "-c", "exit 3"]).await.0, 3);
    // The container's environment and the pod's directory, which holds its log.
    let (code, out) = exec(&h, "1.33", &["sh", "-c", "echo \"$GREETING\"; ls"]).await;
    assert_eq!((code, out.as_str()), (0, "from the pod spec\nmain.log\n"));
    // stdin reaches the command.
    let mut cat = kubectl.command();
    cat.args(["exec", "-i", "hello", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = cat.spawn().expect("kubectl runs");
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(b"through stdin\n").await.expect("writes");
    drop(stdin);
    let out = time::timeout(h.patience(), child.wait_with_output())
        .await
        .expect("kubectl exec -i cat ends when its stdin does")
        .expect("kubectl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through stdin\n");

    let pgid = pid_of(&running);
    assert!(!live_members(pgid).is_empty(), "the pod's shell runs");
    h.delete_pod("hello").await;
    // The provider's delete has returned: only the kernel's clean-up is left (well within
    // the `sleep 30` the processes would otherwise last).
    wait_for_group_gone(pgid, Duration::from_secs(10)).await;
    h.shutdown().await.expect("the node stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_pod_should_serve_kubectl_1_27_over_spdy() {
    let h = Harness::start(Arc::new(ProcessProvider::default())).await;
    hello_pod(&h, "1.27").await;
    assert_eq!(h.kubectl("1.27").ok(&["logs", "hello"]).await, "hello\n");
    assert_eq!(
        exec(&h, "1.27", &["echo", "hi"]).await,
        (0, "hi\n".to_owned())
    );
    assert_eq!(exec(&h, "1.27", &["sh", "-c", "exit 3"]).await.0, 3);
    h.shutdown().await.expect("the node stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_pods_should_end_succeeded_or_failed_with_their_exit_codes() {
    let h = Harness::start(Arc::new(ProcessProvider::default())).await;
    h.create_pod(job("ok", "echo one; echo two; echo done"))
        .await;
    h.create_pod(job("fails", "echo failing >&2; exit 4")).await;
    let exit_code = |p: &Pod| {
        let statuses = p.status.as_ref()?.container_statuses.as_ref()?;
        Some(statuses[0].state.as_ref()?.terminated.as_ref()?.exit_code)
    };
    let ok = h.wait_for_phase("ok", "Succeeded").await;
    assert_eq!(exit_code(&ok), Some(0));
    let failed = h.wait_for_phase("fails", "Failed").await;
    assert_eq!(exit_code(&failed), Some(4));
    let kubectl = h.kubectl("1.33");
    assert_eq!(kubectl.ok(&["logs", "ok"]).await, "one\ntwo\ndone\n");
    assert_eq!(kubectl.ok(&["logs", "ok", "--tail=2"]).await, "two\ndone\n");
    // Following the log of a container that has exited ends with the log.
    assert_eq!(
        kubectl.ok(&["logs", "ok", "--follow"]).await,
        "one\ntwo\ndone\n"
    );
    assert_eq!(kubectl.ok(&["logs", "fails"]).await, "failing\n");
    h.shutdown().await.expect("the node stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_provider_should_refuse_images_and_restarts_it_cannot_honour() {
    let h = Harness::start(Arc::new(ProcessProvider::default())).await;
    let mut nginx = job("nginx", "nginx -g 'daemon off;'");
    nginx.spec.as_mut().expect("a spec").containers[0].image = Some("nginx:1.27".to_owned());
    h.create_pod(nginx).await;
    // The default restartPolicy, Always, would need restarts.
    h.create_pod(pod("always", &["sh", "-c", "sleep 30"])).await;
    for (name, said) in [
        ("nginx", "\"nginx:1.27\" is not a shell image"),
        ("always", "Never"),
    ] {
        let failed = h.wait_for_phase(name, "Failed").await;
        let status = failed.status.expect("a status");
        assert_eq!(status.reason.as_deref(), Some("ProviderUnsupported"));
        let message = status.message.unwrap_or_default();
        assert!(message.contains(said), "{name}: {message}");
    }
    h.shutdown().await.expect("the node stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_provider_should_serve_kubectl_logs_and_exec() {
    let h = Harness::start(Arc::new(MapProvider::default())).await;
    h.create_pod(pod("web", &["serve"])).await;
    h.wait_for_phase("web", "Running").await;
    let kubectl = h.kubectl("1.33");
    assert_eq!(
        kubectl.ok(&["logs", "web"]).await,
        "default/web/main lives in a map\n"
    );
    assert_eq!(
        kubectl
            .ok(&["exec", "web", "--", "echo", "hi", "there"])
            .await,
        "hi there\n"
    );
    h.delete_pod("web").await;
    h.shutdown().await.expect("the node stops cleanly");
}
