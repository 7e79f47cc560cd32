//! `vk-aci local`: the README's first command, then kubectl with the kubeconfig it wrote.
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::{self, Duration};

use super::{Cluster, eventually, text};

async fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> std::process::Output {
    time::timeout(
        Duration::from_secs(60),
        Command::new(crate::kubectl::path(crate::kubectl::CURRENT))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vk_aci_local_should_run_helloworld_for_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("local.kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vk-aci"))
        .arg("local")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--group-pending-secs", "0", "--group-creating-secs", "0"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("delete pod helloworld") {
                break;
            }
        }
    })
    .await
    .expect("vk-aci local prints what to type next");
    assert!(printed.contains(&format!(
        "kubectl --kubeconfig {} get nodes",
        kubeconfig.display()
    )));

    let kc = kubeconfig.clone();
    eventually(Duration::from_secs(30), "the local node Ready", || {
        let kc = kc.clone();
        async move {
            let out = kubectl(
                &kc,
                &[
                    "get",
                    "node",
                    "vk-aci-local",
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                ],
            )
            .await;
            text(&out.stdout) == "True"
        }
    })
    .await
    .unwrap();
    let fixture = Cluster::fixture("helloworld-pod.yaml");
    let out = kubectl(&kubeconfig, &["apply", "-f", fixture.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    eventually(Duration::from_secs(60), "helloworld Running", || {
        let kc = kc.clone();
        async move {
            let out = kubectl(
                &kc,
                &["get", "pod", "helloworld", "-o", "jsonpath={.status.phase}"],
            )
            .await;
            text(&out.stdout) == "Running"
        }
    })
    .await
    .unwrap();
    let out = kubectl(
        &kubeconfig,
        &["exec", "helloworld", "--", "echo", "hello", "big world"],
    )
    .await;
    assert_eq!(
        text(&out.stdout),
        "hello big world\n",
        "{}",
        text(&out.stderr)
    );

    // Ctrl-C stops it cleanly.
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}
