//! Every kubectl verb a user of the seed walkthrough types (issue 17), with kubectl 1.33
//! and 1.27, against the fake cluster with a MockProvider node: one table of commands,
//! each with the exit status and the output a real cluster gives.
use tokio::time::{self, Duration};

use crate::metrics::harness::{Cluster, NODE};

/// A Deployment that tolerates the virtual node's taint (the MockProvider's is
/// `virtual-kubelet.io/provider=mock`).
const WEB: &str = r"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: verbs
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx
        ports: [{containerPort: 80}]
      tolerations:
      - {key: virtual-kubelet.io/provider, operator: Exists}
";

/// [`WEB`] with a field Deployments do not have: `kubectl apply` must refuse it.
const TYPO: &str = r"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
  namespace: verbs
spec:
  selector:
    matchLabels: {app: typo}
  template:
    metadata:
      labels: {app: typo}
    spec:
      containers:
      - name: nginx
        image: nginx
        imagePolicy: Always
";

/// One row: the arguments, whether kubectl must succeed and what its stdout (its stderr
/// too for a row that must fail or expects a `Warning:`) must contain (`{node}` stands for the node's name,
/// `{web}` and `{typo}` for files holding [`WEB`] and [`TYPO`]).
struct Row {
    args: &'static [&'static str],
    ok: bool,
    stdout: &'static [&'static str],
    /// Retried for a while (the answer depends on controllers or scrapes).
    eventually: bool,
}

const fn row(args: &'static [&'static str], stdout: &'static [&'static str]) -> Row {
    Row {
        args,
        ok: true,
        stdout,
        eventually: false,
    }
}

const fn eventually(args: &'static [&'static str], stdout: &'static [&'static str]) -> Row {
    Row {
        args,
        ok: true,
        stdout,
        eventually: true,
    }
}

#[allow(clippy::too_many_lines)] // the verb table: one row per resource and verb
fn table() -> Vec<Row> {
    vec![
        row(
            &["create", "namespace", "verbs"],
            &["namespace/verbs created"],
        ),
        row(&["apply", "-f", "{web}"], &["deployment.apps/web created"]),
        row(
            &[
                "rollout",
                "status",
                "deployment/web",
                "-n",
                "verbs",
                "--timeout=60s",
            ],
            &["successfully rolled out"],
        ),
        eventually(
            &["get", "pods", "-n", "verbs", "-o", "wide"],
            &["Running", "{node}"],
        ),
        row(
            &["get", "deployment", "web", "-n", "verbs", "-o", "yaml"],
            &["kind: Deployment", "readyReplicas: 1"],
        ),
        row(
            &["get", "deployment", "web", "-n", "verbs", "-o", "json"],
            &["\"kind\": \"Deployment\""],
        ),
        row(
            &["scale", "deployment", "web", "-n", "verbs", "--replicas=2"],
            &["deployment.apps/web scaled"],
        ),
        row(
            &[
                "rollout",
                "status",
                "deployment/web",
                "-n",
                "verbs",
                "--timeout=60s",
            ],
            &["successfully rolled out"],
        ),
        row(
            &["describe", "pod", "-n", "verbs", "-l", "app=web"],
            &[
                "Node:",
                "{node}",
                "80/TCP",
                "Events:",
                "Scheduled",
                "default-scheduler",
                "Successfully assigned verbs/web-",
            ],
        ),
        row(
            &["describe", "node", "{node}"],
            &[
                "Name:",
                "{node}",
                "Taints:",
                "Non-terminated Pods:",
                "Events:",
                "RegisteredNode",
                "node-controller",
            ],
        ),
        row(
            &["describe", "deployment", "web", "-n", "verbs"],
            &[
                "ScalingReplicaSet",
                "deployment-controller",
                "Scaled up replica set web-",
            ],
        ),
        row(
            &["events", "-n", "verbs"],
            &["SuccessfulCreate", "Created pod: web-", "Scheduled"],
        ),
        row(&["logs", "deployment/web", "-n", "verbs"], &[""]),
        row(
            &[
                "logs",
                "-f",
                "--limit-bytes=16",
                "deployment/web",
                "-n",
                "verbs",
            ],
            &[""],
        ),
        row(
            &[
                "exec",
                "-it",
                "deployment/web",
                "-n",
                "verbs",
                "--",
                "echo",
                "hello",
            ],
            &["hello"],
        ),
        eventually(&["top", "node"], &["{node}"]),
        row(
            &["run", "one", "-n", "verbs", "--image=nginx"],
            &["pod/one created"],
        ),
        row(
            &["expose", "deployment", "web", "-n", "verbs", "--port=80"],
            &["service/web exposed"],
        ),
        row(
            &["get", "svc", "-n", "verbs"],
            &["web", "ClusterIP", "80/TCP"],
        ),
        eventually(
            &["get", "endpointslices", "-n", "verbs"],
            &["web-", "IPv4", "80"],
        ),
        row(
            &[
                "create",
                "secret",
                "generic",
                "creds",
                "-n",
                "verbs",
                "--from-literal=user=admin",
            ],
            &["secret/creds created"],
        ),
        row(
            &[
                "create",
                "configmap",
                "settings",
                "-n",
                "verbs",
                "--from-literal=level=debug",
            ],
            &["configmap/settings created"],
        ),
        row(
            &["create", "job", "once", "-n", "verbs", "--image=busybox"],
            &["job.batch/once created"],
        ),
        // busybox runs on (the MockProvider's containers exit only when told to).
        eventually(&["get", "jobs", "-n", "verbs"], &["once", "Running", "0/1"]),
        eventually(
            &["get", "pods", "-n", "verbs", "-l", "job-name=once"],
            &["once-"],
        ),
        row(
            &["describe", "job", "once", "-n", "verbs"],
            &["Pods Statuses:", "SuccessfulCreate", "job-controller"],
        ),
        row(
            &["explain", "pod.spec.containers"],
            &["KIND:", "Pod", "containers", "<[]Container>", "image"],
        ),
        row(
            &["explain", "deployment.spec.replicas"],
            &["Deployment", "replicas", "<integer>"],
        ),
        Row {
            args: &["apply", "-f", "{typo}"],
            ok: false,
            stdout: &["unknown field", "imagePolicy"],
            eventually: false,
        },
        // More of what users type next (protobuf bodies from kubectl 1.33).
        row(
            &[
                "create",
                "deployment",
                "idle",
                "-n",
                "verbs",
                "--image=nginx",
                "--replicas=0",
            ],
            &["deployment.apps/idle created"],
        ),
        row(
            &[
                "get",
                "deployment",
                "idle",
                "-n",
                "verbs",
                "-o",
                "jsonpath={.spec.replicas}",
            ],
            &["0"],
        ),
        row(
            &[
                "create",
                "service",
                "clusterip",
                "plain",
                "-n",
                "verbs",
                "--tcp=8080:80",
            ],
            &["service/plain created"],
        ),
        row(
            &[
                "autoscale",
                "deployment",
                "web",
                "-n",
                "verbs",
                "--min=1",
                "--max=3",
                "--cpu-percent=80",
            ],
            &["horizontalpodautoscaler.autoscaling/web autoscaled"],
        ),
        row(
            &["label", "deployment", "web", "-n", "verbs", "tier=front"],
            &["deployment.apps/web labeled"],
        ),
        row(
            &["annotate", "deployment", "web", "-n", "verbs", "owner=me"],
            &["deployment.apps/web annotate"],
        ),
        row(
            &[
                "set",
                "image",
                "deployment/web",
                "-n",
                "verbs",
                "nginx=nginx:1.27",
            ],
            &["deployment.apps/web image updated"],
        ),
        row(
            &[
                "rollout",
                "status",
                "deployment/web",
                "-n",
                "verbs",
                "--timeout=60s",
            ],
            &["successfully rolled out"],
        ),
        row(&["create", "token", "default", "-n", "verbs"], &["eyJ"]),
        row(&["cordon", "{node}"], &["cordoned"]),
        row(&["uncordon", "{node}"], &["uncordoned"]),
        row(
            &["delete", "pod", "one", "-n", "verbs"],
            &["pod \"one\" deleted"],
        ),
        // Errors come back as Status objects (protobuf ones for kubectl 1.33).
        Row {
            args: &["create", "namespace", "verbs"],
            ok: false,
            stdout: &["AlreadyExists", "namespaces \"verbs\" already exists"],
            eventually: false,
        },
        Row {
            args: &["get", "job", "nosuch", "-n", "verbs"],
            ok: false,
            stdout: &["NotFound", "jobs.batch \"nosuch\" not found"],
            eventually: false,
        },
        // Its pod does not tolerate the virtual node's taint: Pending, on no node.
        Row {
            args: &["logs", "job/once", "-n", "verbs"],
            ok: false,
            stdout: &["BadRequest", "does not have a host assigned"],
            eventually: false,
        },
        row(
            &["delete", "job", "once", "-n", "verbs"],
            &["job.batch \"once\" deleted"],
        ),
        Row {
            args: &["get", "endpoints", "web", "-n", "verbs"],
            ok: true,
            stdout: &[
                "web",
                ":80",
                "Warning: v1 Endpoints is deprecated in v1.33+",
            ],
            eventually: false,
        },
        row(&["auth", "can-i", "create", "pods"], &["yes"]),
        row(&["get", "--raw", "/version"], &["gitVersion"]),
        row(&["get", "--raw", "/healthz"], &["ok"]),
        row(&["get", "--raw", "/readyz"], &["ok"]),
        row(
            &["api-resources"],
            &["pods", "deployments", "jobs", "services", "endpointslices"],
        ),
        row(
            &["delete", "deployment", "web", "-n", "verbs"],
            &["deployment.apps \"web\" deleted"],
        ),
        row(
            &["delete", "namespace", "verbs"],
            &["namespace \"verbs\" deleted"],
        ),
    ]
}

/// Run the table with one kubectl; the rows that failed, each with why.
async fn run(version: &str) -> (usize, Vec<String>) {
    // Over HTTPS: kubectl sends no bearer token to a plain-HTTP server, and `auth can-i`
    // then asks as system:anonymous.
    let c = Cluster::start_with(|b| b.tls(true)).await;
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yaml");
    std::fs::write(&web, WEB).unwrap();
    let web = web.to_str().unwrap();
    let typo = dir.path().join("typo.yaml");
    std::fs::write(&typo, TYPO).unwrap();
    let typo = typo.to_str().unwrap();
    let rows = table();
    let mut failed = Vec::new();
    for r in &rows {
        let args: Vec<String> = r
            .args
            .iter()
            .map(|a| {
                a.replace("{node}", NODE)
                    .replace("{web}", web)
                    .replace("{typo}", typo)
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let want: Vec<String> = r.stdout.iter().map(|s| s.replace("{node}", NODE)).collect();
        let tries = if r.eventually { 40 } else { 1 };
        let mut last = String::new();
        let mut pass = false;
        for _ in 0..tries {
            let (ok, out, err) = c.kubectl(version, &args).await;
            let seen = if r.ok && !r.stdout.iter().any(|w| w.starts_with("Warning:")) {
                out.clone()
            } else {
                format!("{out}{err}")
            };
            pass = ok == r.ok && want.iter().all(|w| seen.contains(w.as_str()));
            if pass {
                break;
            }
            last = format!("exit ok={ok}\n--- stdout\n{out}--- stderr\n{err}");
            time::sleep(Duration::from_millis(250)).await;
        }
        if !pass {
            failed.push(format!("kubectl {} {}: {last}", version, args.join(" ")));
        }
    }
    (rows.len(), failed)
}

async fn check(version: &str) {
    let (total, failed) = run(version).await;
    println!(
        "kubectl {version}: {} of {total} pass",
        total - failed.len()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_verbs_should_work_with_kubectl_1_33() {
    check("1.33").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_verbs_should_work_with_kubectl_1_27() {
    check("1.27").await;
}
