//! The seed walkthrough "AKS Scaling to Virtual Nodes" (seed 003), command by command as
//! a user types it, with real kubectl 1.33 and 1.27 against the fake API server and a
//! `vk-aci run` node on the ACI emulator (issue 17): create the namespace, apply
//! helloworld-vn.yaml, look at it on the virtual node, delete it, apply nginx-vn.yaml,
//! scale it 1 -> 20 -> 2 watching `get pod -o wide`, delete it.
use std::process::Output;

use tokio::time::{self, Duration, Instant};

use super::{Cluster, NodeProcess, text};

/// The walkthrough's session: one cluster, one node, one kubectl.
struct Session<'a> {
    cluster: &'a Cluster,
    node: &'a str,
    process: &'a NodeProcess,
    kubectl: &'a str,
}

impl Session<'_> {
    /// Run a command; panics (with the node's log) unless it succeeds and prints `want`.
    async fn run(&self, args: &[&str], want: &[&str]) -> String {
        let out = self.cluster.kubectl(self.kubectl, args).await;
        let stdout = text(&out.stdout);
        assert!(
            out.status.success() && want.iter().all(|w| stdout.contains(w)),
            "kubectl {} {}: {}\n--- stdout\n{stdout}--- stderr\n{}\n--- vk-aci log\n{}",
            self.kubectl,
            args.join(" "),
            exit(&out),
            text(&out.stderr),
            self.process.log(),
        );
        stdout
    }

    /// Repeat a command until `check` accepts its output (within `limit`).
    async fn until(
        &self,
        args: &[&str],
        limit: Duration,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            let out = self.cluster.kubectl(self.kubectl, args).await;
            let stdout = text(&out.stdout);
            if out.status.success() && check(&stdout) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kubectl {} {}: {what} not seen within {limit:?}\n--- last stdout\n{stdout}--- stderr\n{}\n--- vk-aci log\n{}",
                self.kubectl,
                args.join(" "),
                text(&out.stderr),
                self.process.log(),
            );
            time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// `get pod -o wide` rows (header left out).
    fn rows(out: &str) -> Vec<Vec<&str>> {
        out.lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .collect()
    }

    /// Whether `out` lists exactly `n` pods, all `1/1 Running` on the virtual node with an
    /// IP, in the `-o wide` columns.
    fn all_running_on_node(&self, out: &str, n: usize) -> bool {
        let rows = Self::rows(out);
        rows.len() == n
            && rows.iter().all(|r| {
                r.get(1) == Some(&"1/1")
                    && r.get(2) == Some(&"Running")
                    && r.get(5)
                        .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok())
                    && r.get(6) == Some(&self.node)
            })
    }
}

fn exit(out: &Output) -> String {
    format!("{}", out.status)
}

async fn walkthrough(kubectl: &str) {
    let cluster = Cluster::start().await;
    let node = "virtual-node-aci-linux";
    let process = cluster.spawn_node(node);
    cluster.ready_node(node, &process).await;
    let s = Session {
        cluster: &cluster,
        node,
        process: &process,
        kubectl,
    };
    let helloworld = Cluster::fixture("helloworld-vn.yaml");
    let helloworld = helloworld.to_str().unwrap();
    let nginx = Cluster::fixture("nginx-vn.yaml");
    let nginx = nginx.to_str().unwrap();

    let nodes = s.run(&["get", "node"], &[node, "Ready", "agent"]).await;
    assert!(
        nodes.contains("-vk-"),
        "the kubelet version names vk-aci: {nodes}"
    );
    s.run(
        &["create", "namespace", "virtualnode"],
        &["namespace/virtualnode created"],
    )
    .await;

    // Basic deployment.
    s.run(
        &["apply", "-f", helloworld],
        &["deployment.apps/helloworld-vn created"],
    )
    .await;
    let wide = ["get", "pods", "-o", "wide", "-n", "virtualnode"];
    s.until(
        &wide,
        Duration::from_secs(60),
        "helloworld-vn Running",
        |out| s.all_running_on_node(out, 1),
    )
    .await;
    let out = s.run(&wide, &["helloworld-vn-"]).await;
    let pod = Session::rows(&out)[0][0].to_owned();
    s.run(
        &["describe", "pod", &pod, "-n", "virtualnode"],
        &[
            &pod,
            &format!("{node}/"),
            "Controlled By:",
            "ReplicaSet/helloworld-vn-",
            "80/TCP",
            "Running",
            "virtual-kubelet.io/provider op=Exists",
            "node.kubernetes.io/not-ready:NoExecute op=Exists for 300s",
            "Events:",
        ],
    )
    .await;
    s.run(
        &["delete", "-f", helloworld],
        &["deployment.apps \"helloworld-vn\" deleted"],
    )
    .await;

    // Scaling test.
    s.run(
        &["apply", "-f", nginx],
        &["deployment.apps/nginx-vn created"],
    )
    .await;
    let wide = ["get", "pod", "-o", "wide", "--namespace", "virtualnode"];
    s.until(
        &wide,
        Duration::from_secs(60),
        "one nginx-vn pod Running",
        |out| s.all_running_on_node(out, 1) && out.contains("nginx-vn-"),
    )
    .await;
    for replicas in ["20", "2"] {
        s.run(
            &[
                "scale",
                "deployment",
                "nginx-vn",
                &format!("--replicas={replicas}"),
                "-n",
                "virtualnode",
            ],
            &["deployment.apps/nginx-vn scaled"],
        )
        .await;
        let n: usize = replicas.parse().unwrap();
        s.until(
            &wide,
            Duration::from_secs(90),
            &format!("{n} pods Running"),
            |out| s.all_running_on_node(out, n),
        )
        .await;
    }
    s.run(
        &["delete", "-f", nginx],
        &["deployment.apps \"nginx-vn\" deleted"],
    )
    .await;
    s.until(&wide, Duration::from_secs(60), "every pod gone", |out| {
        Session::rows(out).is_empty()
    })
    .await;
    // Its stderr is a file here: no colour codes in it (issue 17, "Also").
    let log = process.log();
    assert!(
        !log.is_empty() && !log.contains('\u{1b}'),
        "ANSI escapes in the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_walkthrough_should_run_verbatim_with_kubectl_1_33() {
    walkthrough("1.33").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_walkthrough_should_run_verbatim_with_kubectl_1_27() {
    walkthrough("1.27").await;
}
