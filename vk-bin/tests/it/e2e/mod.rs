//! End to end: the fake API server and the ACI emulator in the test process, `vk-aci run`
//! as a real child process pointed at them, driven with real kubectl 1.33 and 1.27.
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::{self, Duration};
use vk_aci::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use vk_testing::{FakeApiServer, binder};

mod burst;
mod chaos;
mod foreign_node;
mod helloworld;
mod leader;
// `vk-aci local` is in builds with the `local` feature only.
#[cfg(feature = "local")]
mod local;
mod metrics;
mod pod_features;
mod private_registry;
mod scale;
mod vnet;
mod walkthrough;

pub const RESOURCE_GROUP: &str = "vk-e2e";
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";

/// The cluster stand-in: fake API server with a binder, the emulator, a scratch dir.
pub struct Cluster {
    pub api: FakeApiServer,
    pub emulator: EmulatorHandle,
    binder: JoinHandle<()>,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    ca: PathBuf,
    /// The cluster identity `vk-aci run` takes by default: the kube-system namespace's UID.
    cluster_id: Option<String>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.binder.abort();
    }
}

/// A `vk-aci run` child; killed when dropped.
pub struct NodeProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl NodeProcess {
    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Cluster {
    pub async fn start() -> Self {
        Self::start_with(|builder| builder).await
    }

    /// Start with the fake API server's builder adjusted by `adjust`.
    pub async fn start_with(
        adjust: impl FnOnce(vk_testing::FakeApiServerBuilder) -> vk_testing::FakeApiServerBuilder,
    ) -> Self {
        Self::start_configured(adjust, |_| {}).await
    }

    /// Start with the fake API server's builder and the emulator's settings adjusted.
    pub async fn start_configured(
        adjust: impl FnOnce(vk_testing::FakeApiServerBuilder) -> vk_testing::FakeApiServerBuilder,
        emulator: impl FnOnce(&mut EmulatorConfig),
    ) -> Self {
        let api = adjust(FakeApiServer::builder().controllers(true))
            .start()
            .await
            .unwrap();
        let mut config = EmulatorConfig::instant();
        config.timeline.creating = Duration::from_millis(300);
        emulator(&mut config);
        let emulator = Emulator::start(config).await.unwrap();
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(api.client());
        let cluster_id = namespaces
            .get_opt("kube-system")
            .await
            .ok()
            .flatten()
            .and_then(|n| n.metadata.uid);
        let binder = binder::spawn(api.client(), Duration::from_millis(100));
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        api.write_kubeconfig(&kubeconfig).unwrap();
        let ca = dir.path().join("kubelet-client-ca.pem");
        std::fs::write(&ca, api.kubelet_client_ca_pem()).unwrap();
        Self {
            api,
            emulator,
            binder,
            dir,
            kubeconfig,
            ca,
            cluster_id,
        }
    }

    /// The container group of pod `namespace/pod` as `vk-aci run` names it on this cluster.
    pub fn group_name(&self, namespace: &str, pod: &str) -> String {
        vk_translate::names::container_group_name_in(self.cluster_id.as_deref(), namespace, pod)
    }

    /// Start `vk-aci run` for node `name`.
    pub fn spawn_node(&self, name: &str) -> NodeProcess {
        self.spawn_node_with(name, &[], &[])
    }

    /// Start `vk-aci run` for node `name` with more flags and environment variables.
    pub fn spawn_node_with(
        &self,
        name: &str,
        extra_args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> NodeProcess {
        let log = self.dir.path().join(format!("{name}-{}.log", uuid_like()));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vk-aci"))
            .args(["run", "--nodename", name, "--kubeconfig"])
            .arg(&self.kubeconfig)
            .args(["--aci-endpoint", self.emulator.url().as_str()])
            .args(["--resource-group", RESOURCE_GROUP, "--region", "westus"])
            .args(["--kubelet-port", "0", "--pod-ip", "127.0.0.1"])
            .arg("--client-verify-ca")
            .arg(&self.ca)
            .args(["--metrics-addr", "127.0.0.1:0", "--log-level", "info"])
            .env_remove("RUST_LOG")
            .env_remove("KUBECONFIG")
            .env_remove("ACI_RESOURCE_GROUP")
            .env_remove("ACI_REGION")
            .env("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
            .args(extra_args)
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        NodeProcess { child, log }
    }

    /// Run kubectl `version` (`1.33`, `1.27`) with the admin kubeconfig.
    pub async fn kubectl(&self, version: &str, args: &[&str]) -> Output {
        time::timeout(
            Duration::from_secs(60),
            Command::new(crate::kubectl::path(version))
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args(args)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("kubectl answers within a minute")
        .unwrap()
    }

    /// The node `name` once it is Ready.
    pub async fn ready_node(&self, name: &str, process: &NodeProcess) -> Node {
        let nodes: Api<Node> = Api::all(self.api.client());
        let found = std::sync::Arc::new(std::sync::Mutex::new(None));
        eventually(Duration::from_secs(60), "the node to be Ready", || {
            let nodes = nodes.clone();
            let found = found.clone();
            async move {
                let Ok(Some(node)) = nodes.get_opt(name).await else {
                    return false;
                };
                let ready = node
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                if ready {
                    *found.lock().unwrap() = Some(node);
                }
                ready
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- vk-aci log ---\n{}", process.log()));
        found.lock().unwrap().take().unwrap()
    }

    /// `kubectl apply -f` the fixture with kubectl `version`, then wait up to a minute for
    /// pod `pod` of `default` to be Running on `node` (panicking with the node's log).
    pub async fn apply_until_running(
        &self,
        version: &str,
        fixture: &str,
        pod: &str,
        node: &str,
        process: &NodeProcess,
    ) {
        let fixture = Self::fixture(fixture);
        let out = self
            .kubectl(version, &["apply", "-f", fixture.to_str().unwrap()])
            .await;
        assert!(out.status.success(), "apply: {}", text(&out.stderr));
        let pods = self.pods("default");
        eventually(Duration::from_secs(60), &format!("{pod} Running"), || {
            let pods = pods.clone();
            async move {
                pods.get_opt(pod)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|p| running_on(&p, node))
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- vk-aci log ---\n{}", process.log()));
    }

    /// Pods of `namespace`.
    pub fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.api.client(), namespace)
    }

    pub fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }
}

/// Whether the pod is Running with an IP on `node`.
pub fn running_on(pod: &Pod, node: &str) -> bool {
    let on_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
    let status = pod.status.as_ref();
    on_node
        && status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status.and_then(|s| s.pod_ip.as_deref()).is_some()
}

/// Poll `check` every 200 ms until it is true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let waited = time::timeout(limit, async {
        loop {
            if check().await {
                return;
            }
            time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    waited.map_err(|_| format!("timed out after {limit:?} waiting for {what}"))
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Run `future` to completion on a runtime of its own, in a thread of its own: for
/// gathering diagnostics inside a panic message, where the test's runtime cannot be used.
pub fn block_on_aside<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for diagnostics")
            .block_on(future)
    })
    .join()
    .expect("the diagnostics thread")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
