//! Real kubectl (several versions) through the fake API server's kubelet proxy, against
//! this server with a provider that runs real processes.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::middleware::Next;
use bytes::Bytes;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStatus, Node, NodeAddress, NodeDaemonEndpoints,
    NodeStatus, Pod, PodStatus,
};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{reflector, watcher};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::time::{Duration, timeout};
use vk_core::provider::{
    ExecIo, LogOptions, LogStream, PodKey, PodResources, Provider, ProviderError, ProviderPod,
    Result as ProviderResult,
};
use vk_core::server::{Auth, AuthConfig, ServerState, TlsConfig, router, tls};
use vk_testing::{FakeApiServer, MockCall, MockProvider, kubelet_client_config};

use super::harness::pod;

const NODE: &str = "vk-node";

/// Runs real processes for exec; logs are five lines (and two more with `follow`).
struct ProcessProvider;

fn other(e: impl std::error::Error + Send + Sync + 'static) -> ProviderError {
    ProviderError::Other(Box::new(e))
}

#[async_trait]
impl Provider for ProcessProvider {
    fn name(&self) -> &str {
        "process"
    }
    async fn create_pod(&self, _: &Pod, _: &PodResources) -> ProviderResult<()> {
        Ok(())
    }
    async fn update_pod(&self, _: &Pod, _: &PodResources) -> ProviderResult<()> {
        Ok(())
    }
    async fn delete_pod(&self, _: &Pod) -> ProviderResult<()> {
        Ok(())
    }
    async fn pod_status(&self, _: &PodKey) -> ProviderResult<Option<PodStatus>> {
        Ok(None)
    }
    async fn list_pods(&self) -> ProviderResult<Vec<ProviderPod>> {
        Ok(vec![])
    }

    async fn logs(&self, _: &PodKey, _: &str, opts: &LogOptions) -> ProviderResult<LogStream> {
        let mut lines: Vec<String> = (1..=5).map(|i| format!("line {i}\n")).collect();
        if let Some(n) = opts.tail_lines {
            lines = lines.split_off(lines.len().saturating_sub(n as usize));
        }
        let follow = opts.follow;
        let stream = async_stream(lines, follow);
        Ok(stream)
    }

    async fn exec(
        &self,
        _: &PodKey,
        _: &str,
        command: &[String],
        mut io: ExecIo,
    ) -> ProviderResult<i32> {
        if command == ["tty"] {
            let line = format!("tty={}\n", io.tty);
            if let Some(out) = io.stdout.as_mut() {
                out.write_all(line.as_bytes()).await.map_err(other)?;
            }
            return Ok(0);
        }
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .stdin(if io.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ProviderError::InvalidInput(e.to_string()))?;
        if let (Some(mut input), Some(mut child_in)) = (io.stdin.take(), child.stdin.take()) {
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut input, &mut child_in).await;
            });
        }
        let mut child_out = child.stdout.take().expect("piped");
        let mut child_err = child.stderr.take().expect("piped");
        let mut stdout = io.stdout.take();
        let mut stderr = io.stderr.take();
        let out = async {
            match stdout.as_mut() {
                Some(w) => drop(tokio::io::copy(&mut child_out, w).await),
                None => drop(tokio::io::copy(&mut child_out, &mut tokio::io::sink()).await),
            }
        };
        let err = async {
            match stderr.as_mut() {
                Some(w) => drop(tokio::io::copy(&mut child_err, w).await),
                None => drop(tokio::io::copy(&mut child_err, &mut tokio::io::sink()).await),
            }
        };
        tokio::join!(out, err);
        let status = child.wait().await.map_err(other)?;
        Ok(status.code().unwrap_or(128))
    }

    async fn attach(&self, _: &PodKey, _: &str, mut io: ExecIo) -> ProviderResult<i32> {
        if let Some(out) = io.stdout.as_mut() {
            out.write_all(b"attached to the main process\n")
                .await
                .map_err(other)?;
        }
        Ok(0)
    }
}

fn async_stream(lines: Vec<String>, follow: bool) -> LogStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    tokio::spawn(async move {
        for l in lines {
            let _ = tx.send(Ok(Bytes::from(l))).await;
        }
        if follow {
            for i in 6..=7 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = tx.send(Ok(Bytes::from(format!("line {i}\n")))).await;
            }
            // The container ends: the stream ends.
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

struct Cluster {
    fake: FakeApiServer,
    kubeconfig: PathBuf,
    kubelet: SocketAddr,
    /// `Upgrade` and subprotocol headers of every upgrade request the kubelet received.
    upgrades: Arc<Mutex<Vec<String>>>,
    reflector: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn cluster(provider: Arc<dyn Provider>) -> Cluster {
    let fake = FakeApiServer::start().await;
    let client = fake.client();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let kubelet = listener.local_addr().unwrap();

    let nodes: Api<Node> = Api::all(client.clone());
    let mut node = Node::default();
    node.metadata.name = Some(NODE.into());
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = NodeStatus {
        addresses: Some(vec![NodeAddress {
            type_: "InternalIP".into(),
            address: "127.0.0.1".into(),
        }]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(k8s_openapi::api::core::v1::DaemonEndpoint {
                port: i32::from(kubelet.port()),
            }),
        }),
        ..NodeStatus::default()
    };
    nodes
        .patch_status(
            NODE,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": status })),
        )
        .await
        .unwrap();

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("web", NODE))
        .await
        .unwrap();
    let running = PodStatus {
        phase: Some("Running".into()),
        container_statuses: Some(vec![ContainerStatus {
            name: "c".into(),
            ready: true,
            image: "busybox".into(),
            image_id: String::new(),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }]),
        ..PodStatus::default()
    };
    pods.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": running })),
    )
    .await
    .unwrap();

    // The pods of the node, as the runtime's reflector provides them.
    let (store, writer) = reflector::store::<Pod>();
    // With backoff: without it a watcher whose server went away retries in a tight loop
    // that never yields, and the test runtime cannot shut down.
    let watch = kube::runtime::WatchStreamExt::default_backoff(watcher(
        pods.clone(),
        watcher::Config::default().fields(&format!("spec.nodeName={NODE}")),
    ));
    let reflector_task = tokio::spawn(futures::StreamExt::for_each(
        reflector::reflector(writer, watch),
        |_| std::future::ready(()),
    ));
    timeout(Duration::from_secs(10), store.wait_until_ready())
        .await
        .expect("the pod store syncs")
        .unwrap();

    let auth = Auth::new(AuthConfig::default(), Some(client));
    let state = ServerState::new(NODE, provider, Arc::new(store), Arc::new(auth));
    let upgrades = Arc::new(Mutex::new(Vec::new()));
    let seen = upgrades.clone();
    let record = axum::middleware::from_fn(move |req: axum::extract::Request, next: Next| {
        let h = req.headers();
        if let Some(upgrade) = h.get(http::header::UPGRADE) {
            let offered: Vec<&str> = ["x-stream-protocol-version", "sec-websocket-protocol"]
                .iter()
                .flat_map(|n| h.get_all(*n).iter().filter_map(|v| v.to_str().ok()))
                .collect();
            seen.lock().unwrap().push(format!(
                "{} {} {}",
                req.uri().path(),
                upgrade.to_str().unwrap_or_default(),
                offered.join(",")
            ));
        }
        next.run(req)
    });
    let config = TlsConfig::self_signed(vec![NODE.into()], vec!["127.0.0.1".parse().unwrap()])
        .client_ca(fake.kubelet_client_ca_pem());
    tokio::spawn(tls::serve(
        listener,
        config.server_config().unwrap(),
        config.connection_limits(),
        router(state).layer(record),
        std::future::pending(),
    ));
    Cluster {
        fake,
        kubeconfig,
        kubelet,
        upgrades,
        reflector: reflector_task,
        _dir: dir,
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.reflector.abort();
    }
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn kubectl(
    version: &str,
    spdy: bool,
    kubeconfig: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    eprintln!("kubectl.{version} {args:?}");
    let mut kubectl = vk_testing::kubectl::Kubectl::new(version, kubeconfig);
    if spdy {
        // Make kubectl 1.30+ speak SPDY, as the API server does to the kubelet.
        kubectl = kubectl
            .env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")
            .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false");
    }
    let out = kubectl.run_with_input(args, stdin).await;
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Make kubectl 1.30+ speak SPDY, as the API server does to the kubelet on a real cluster.
fn spdy_only(cmd: &mut Command, spdy: bool) {
    if spdy {
        cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")
            .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false");
    }
}

async fn in_pty(version: &str, spdy: bool, kubeconfig: &Path, args: &str) -> Output {
    eprintln!("kubectl.{version} {args} (in a pty)");
    let line = format!(
        "{} --kubeconfig {} {args}",
        vk_testing::kubectl::kubectl_path(version).display(),
        kubeconfig.display()
    );
    let mut cmd = Command::new("script");
    spdy_only(&mut cmd, spdy);
    let child = cmd
        .args(["-qefc", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("script runs");
    let out = timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("kubectl {version} {args} hung"))
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn scenario(version: &str, spdy: bool) {
    let c = cluster(Arc::new(ProcessProvider)).await;
    let k = |args: &'static [&'static str], stdin: Option<&'static str>| {
        kubectl(version, spdy, &c.kubeconfig, args, stdin)
    };

    let o = k(&["logs", "web", "--tail=2"], None).await;
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "line 4\nline 5\n"),
        "{version} logs: {}",
        o.stderr
    );

    let o = k(&["logs", "-f", "web"], None).await;
    assert_eq!(o.code, 0, "{version} logs -f: {}", o.stderr);
    assert!(
        o.stdout.ends_with("line 5\nline 6\nline 7\n"),
        "{version} logs -f: {}",
        o.stdout
    );

    let o = k(&["exec", "web", "--", "echo", "hello", "big world"], None).await;
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "hello big world\n"),
        "{version} exec: {}",
        o.stderr
    );

    let o = k(
        &[
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; echo \"$0 $1\"",
            "a",
            "b c",
        ],
        None,
    )
    .await;
    assert_eq!(o.code, 0, "{version} sh -c: {}", o.stderr);
    assert_eq!(o.stdout, "out\na b c\n", "{version} sh -c stdout");
    assert!(
        o.stderr.contains("err\n"),
        "{version} sh -c stderr: {}",
        o.stderr
    );

    let o = k(
        &["exec", "-i", "web", "--", "cat"],
        Some("piped through stdin\n"),
    )
    .await;
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "piped through stdin\n"),
        "{version} exec -i: {}",
        o.stderr
    );

    let o = k(&["exec", "web", "--", "sh", "-c", "exit 3"], None).await;
    assert_eq!(o.code, 3, "{version} exit code: {} {}", o.stdout, o.stderr);

    // -t needs a terminal on kubectl's side: run it under script(1)'s pseudo-terminal.
    let o = in_pty(version, spdy, &c.kubeconfig, "exec -it web -- tty").await;
    assert_eq!(o.code, 0, "{version} exec -it: {} {}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("tty=true"),
        "{version} exec -it: {}",
        o.stdout
    );

    let o = k(&["attach", "web"], None).await;
    assert_eq!(o.code, 0, "{version} attach: {}", o.stderr);
    assert!(
        o.stdout.contains("attached to the main process"),
        "{version} attach: {}",
        o.stdout
    );

    let o = k(&["port-forward", "web", ":80"], None).await;
    assert_ne!(o.code, 0, "{version} port-forward must fail");
    assert!(
        o.stderr.contains("port-forward is not supported"),
        "{version} port-forward: {}",
        o.stderr
    );

    // Straight to the kubelet without credentials: refused.
    let _ = &c.fake;
    let o = timeout(Duration::from_secs(10), unauthenticated(c.kubelet))
        .await
        .expect("the kubelet answers");
    assert_eq!(o, 401);
}

async fn unauthenticated(addr: SocketAddr) -> u16 {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let config = kubelet_client_config();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(
        b"POST /exec/default/web/c?command=id&output=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = [0u8; 12];
    tls.read_exact(&mut head).await.unwrap();
    std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_33_should_log_exec_attach_and_be_refused_port_forward() {
    timeout(Duration::from_secs(300), scenario("1.33", false))
        .await
        .expect("the kubectl scenario finishes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_27_should_log_exec_attach_and_be_refused_port_forward() {
    timeout(Duration::from_secs(300), scenario("1.27", false))
        .await
        .expect("the kubectl scenario finishes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_30_should_log_exec_attach_and_be_refused_port_forward() {
    timeout(Duration::from_secs(300), scenario("1.30", false))
        .await
        .expect("the kubectl scenario finishes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_33_over_spdy_v5_should_log_exec_attach_and_be_refused_port_forward() {
    // What a real API server sends a kubelet: SPDY/3.1 offering v5 down to v1.
    timeout(Duration::from_secs(300), scenario("1.33", true))
        .await
        .expect("the kubectl scenario finishes");
}

/// The testing kit's MockProvider behind the server: its tiny command set and its logs.
async fn mock_scenario(version: &str) {
    let mock = Arc::new(
        MockProvider::builder()
            .start_delay(Duration::ZERO)
            .log_lines(3)
            .port_forward(false)
            .build(),
    );
    mock.create_pod(&pod("web", NODE), &PodResources::default())
        .await
        .unwrap();
    let c = cluster(mock.clone()).await;
    let k = |args: &'static [&'static str], stdin: Option<&'static str>| {
        kubectl(version, false, &c.kubeconfig, args, stdin)
    };
    let o = k(&["logs", "web", "--tail=1"], None).await;
    assert_eq!(o.code, 0, "{version} logs: {}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 1, "{version} logs: {}", o.stdout);
    let o = k(&["exec", "web", "--", "echo", "hello", "big world"], None).await;
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "hello big world\n"),
        "{version}: {}",
        o.stderr
    );
    let o = k(&["exec", "-i", "web", "--", "cat"], Some("typed\n")).await;
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "typed\n"),
        "{version}: {}",
        o.stderr
    );
    let o = k(&["exec", "web", "--", "sh", "-c", "exit 4"], None).await;
    assert_eq!(o.code, 4, "{version}: {}", o.stderr);
    let o = k(&["exec", "web", "--", "nope"], None).await;
    assert_eq!(o.code, 127, "{version}: {}", o.stderr);
    assert!(
        o.stderr.contains("sh: nope: not found"),
        "{version}: {}",
        o.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_33_should_exec_and_log_against_the_mock_provider() {
    timeout(Duration::from_secs(300), mock_scenario("1.33"))
        .await
        .expect("the kubectl scenario finishes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_27_should_exec_and_log_against_the_mock_provider() {
    timeout(Duration::from_secs(300), mock_scenario("1.27"))
        .await
        .expect("the kubectl scenario finishes");
}

/// Start `kubectl port-forward pod/web PORTS...`; once it listens, the child and the
/// local port of each remote port.
async fn spawn_port_forward(
    version: &str,
    spdy: bool,
    kubeconfig: &Path,
    ports: &[&str],
) -> (
    tokio::process::Child,
    std::collections::HashMap<String, u16>,
) {
    let bin = vk_testing::kubectl::kubectl_path(version);
    let mut cmd = Command::new(bin);
    spdy_only(&mut cmd, spdy);
    let mut child = cmd
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["port-forward", "pod/web"])
        .args(ports)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl runs");
    // "Forwarding from 127.0.0.1:LOCAL -> REMOTE", once per port (and once more for ::1).
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut local = std::collections::HashMap::new();
    while local.len() < ports.len() {
        let line = timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("kubectl {version} port-forward prints its ports"))
            .unwrap();
        let Some(line) = line else {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err).await;
            panic!("kubectl {version} port-forward ended: {err}");
        };
        if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:")
            && let Some((l, r)) = rest.split_once(" -> ")
        {
            local.insert(r.trim().to_owned(), l.parse::<u16>().unwrap());
        }
    }
    // Keep draining stdout so kubectl never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, local)
}

/// `kubectl port-forward` of two ports to a MockProvider pod (an echo server on every
/// port): bytes sent to each local port come back, within two minutes. Returns the
/// kubelet's view of the upgrade requests.
async fn port_forward_scenario(version: &str, spdy: bool) -> Vec<String> {
    timeout(Duration::from_secs(120), port_forward_echoes(version, spdy))
        .await
        .expect("the port-forward scenario finishes")
}

/// [`port_forward_scenario`] without its time limit.
async fn port_forward_echoes(version: &str, spdy: bool) -> Vec<String> {
    let mock = Arc::new(MockProvider::builder().start_delay(Duration::ZERO).build());
    mock.create_pod(&pod("web", NODE), &PodResources::default())
        .await
        .unwrap();
    let c = cluster(mock.clone()).await;
    let (mut child, local) =
        spawn_port_forward(version, spdy, &c.kubeconfig, &[":8080", ":9090"]).await;
    for (remote, round) in [("8080", 1), ("9090", 1), ("8080", 2)] {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", local[remote]))
            .await
            .unwrap();
        let sent = format!("round {round} to {remote}\n").repeat(1000);
        let (mut r, mut w) = tcp.split();
        let write = async {
            w.write_all(sent.as_bytes()).await.unwrap();
        };
        let mut back = vec![0u8; sent.len()];
        let read = r.read_exact(&mut back);
        let (_, read) = timeout(Duration::from_secs(30), async { tokio::join!(write, read) })
            .await
            .unwrap_or_else(|_| panic!("kubectl {version}: the echo through {remote} arrives"));
        read.unwrap();
        assert_eq!(back, sent.as_bytes(), "kubectl {version} through {remote}");
    }
    let _ = child.kill().await;
    let forwarded: Vec<u16> = mock
        .calls()
        .into_iter()
        .filter_map(|call| match call {
            MockCall::PortForward { port, .. } => Some(port),
            _ => None,
        })
        .collect();
    assert_eq!(forwarded, [8080, 9090, 8080], "kubectl {version}");
    let upgrades = c.upgrades.lock().unwrap().clone();
    eprintln!("kubectl {version} upgrades: {upgrades:?}");
    upgrades
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_33_should_port_forward_over_websocket() {
    let upgrades = port_forward_scenario("1.33", false).await;
    // One session, SPDY tunnelled in a WebSocket: no fallback to plain SPDY.
    assert_eq!(
        upgrades,
        ["/portForward/default/web websocket SPDY/3.1+portforward.k8s.io"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_33_should_port_forward_over_spdy_when_websockets_are_off() {
    let upgrades = port_forward_scenario("1.33", true).await;
    assert_eq!(
        upgrades,
        ["/portForward/default/web SPDY/3.1 portforward.k8s.io"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_27_should_port_forward_over_spdy() {
    let upgrades = port_forward_scenario("1.27", false).await;
    assert_eq!(
        upgrades,
        ["/portForward/default/web SPDY/3.1 portforward.k8s.io"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_33_should_show_a_forwarding_failure_over_websocket() {
    // The provider does not know the pod: forwarding fails with its message.
    let mock = Arc::new(MockProvider::builder().start_delay(Duration::ZERO).build());
    let c = cluster(mock.clone()).await;
    let (mut child, local) = spawn_port_forward("1.33", false, &c.kubeconfig, &[":8080"]).await;
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", local["8080"]))
        .await
        .unwrap();
    let _ = tcp.write_all(b"hello?").await;
    let mut buf = Vec::new();
    let read = timeout(Duration::from_secs(30), tcp.read_to_end(&mut buf))
        .await
        .expect("kubectl closes the failed connection");
    assert!(read.is_err() || buf.is_empty(), "no echo: {buf:?}");
    // kubectl reports the error stream's text (1.33 then stops forwarding).
    let mut stderr = child.stderr.take().unwrap();
    let mut err = String::new();
    let _ = timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            err.push_str(&String::from_utf8_lossy(&chunk[..n]));
            if err.contains("not found") {
                break;
            }
        }
    })
    .await;
    let _ = child.kill().await;
    assert!(
        err.contains("an error occurred forwarding") && err.contains("not found: pod default/web"),
        "kubectl stderr: {err}"
    );
    assert_eq!(
        c.upgrades.lock().unwrap().as_slice(),
        ["/portForward/default/web websocket SPDY/3.1+portforward.k8s.io"]
    );
}
