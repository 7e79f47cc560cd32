//! Helpers shared by the integration tests.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::time::Duration;
use vk_aci::arm::{ArmClient, ArmConfig, ArmCredential, RetryPolicy, ThrottleConfig};
use vk_aci::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use vk_translate::container_group::{
    Container, ContainerGroup, ContainerGroupProperties, ContainerProperties, OperatingSystemTypes,
    ResourceRequests, ResourceRequirements, RestartPolicy,
};

pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
pub const RESOURCE_GROUP: &str = "vk-test";
pub const LOCATION: &str = "westus";
/// A token value the tests look for in every error and log line.
pub const SECRET_TOKEN: &str = "sup3r-s3cret-t0ken-value";

pub async fn emulator(config: EmulatorConfig) -> EmulatorHandle {
    Emulator::start(config).await.expect("emulator starts")
}

pub fn config(em: &EmulatorHandle) -> ArmConfig {
    ArmConfig::new(SUBSCRIPTION, RESOURCE_GROUP, LOCATION)
        .base_url(em.url())
        .timeout(Duration::from_secs(10))
        .throttle(ThrottleConfig::unlimited())
        .lro_poll_interval(Duration::from_millis(50))
        .retry(RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(5),
        })
}

pub fn client(em: &EmulatorHandle) -> ArmClient {
    ArmClient::new(config(em), ArmCredential::fixed(SECRET_TOKEN)).expect("client builds")
}

pub fn container(name: &str, command: &[&str]) -> Container {
    Container {
        name: name.to_owned(),
        properties: ContainerProperties {
            image: Some("busybox:1.36".to_owned()),
            command: command.iter().map(|s| (*s).to_owned()).collect(),
            resources: Some(ResourceRequirements {
                requests: ResourceRequests {
                    cpu: 1.0,
                    memory_in_gb: 1.5,
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

pub fn group(containers: Vec<Container>) -> ContainerGroup {
    ContainerGroup {
        location: Some(LOCATION.to_owned()),
        properties: ContainerGroupProperties {
            containers,
            os_type: Some(OperatingSystemTypes::Linux),
            restart_policy: Some(RestartPolicy::Always),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A spec example; `shared/` sits beside the repository clone, or further up from a
/// worktree, so the nearest ancestor holding it wins.
pub fn example(name: &str) -> serde_json::Value {
    let relative = "shared/aci-spec/2025-09-01/examples";
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = manifest
        .ancestors()
        .skip(2)
        .map(|dir| dir.join(relative))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| manifest.join("../..").join(relative));
    let path: PathBuf = dir.join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("example file")).expect("json")
}

pub fn pod(name: &str, containers: &[(&str, &[&str])]) -> k8s_openapi::api::core::v1::Pod {
    use k8s_openapi::api::core::v1::{Container as K8sContainer, Pod, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("default".to_owned()),
            uid: Some(format!("uid-{name}")),
            creation_timestamp: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2026-01-01T00:00:00Z".parse().unwrap(),
            )),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("vk-aci-test-aks".to_owned()),
            containers: containers
                .iter()
                .map(|(n, command)| K8sContainer {
                    name: (*n).to_owned(),
                    image: Some("busybox:1.36".to_owned()),
                    command: (!command.is_empty())
                        .then(|| command.iter().map(|s| (*s).to_owned()).collect()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        status: None,
    }
}

pub fn provider_config() -> vk_aci::AciConfig {
    vk_aci::AciConfig {
        node: vk_translate::NodeOptions::default().region(LOCATION),
        status: vk_aci::provider::StatusConfig {
            fast_interval: Duration::from_millis(200),
            slow_interval_min: Duration::from_secs(5),
            reads_per_second: 20.0,
            transition_reads_per_second: 20.0,
            tick: Duration::from_millis(50),
        },
        logs_poll_interval: Duration::from_millis(200),
        ..Default::default()
    }
}

pub fn provider(em: &EmulatorHandle) -> vk_aci::AciProvider {
    vk_aci::AciProvider::new(
        client(em),
        provider_config(),
        std::sync::Arc::new(vk_core::clock::SystemClock),
    )
}

/// The tracing output of this thread at TRACE, kept while the guard from [`Self::start`]
/// lives, for tests that search every log line for secrets.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Capture from now until the guard is dropped.
    pub fn start() -> (Self, tracing::subscriber::DefaultGuard) {
        let captured = Self::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The emulator the runtime tests use: groups take 200 ms `Pending` and 200 ms `Creating`.
pub fn runtime_emulator_config() -> EmulatorConfig {
    let mut config = EmulatorConfig::instant();
    config.timeline.pending = Duration::from_millis(200);
    config.timeline.creating = Duration::from_millis(200);
    config
}

/// vk-core's runtime for node `node` on `api`, with an `AciProvider` over `em` and
/// test-friendly intervals; run it with `Runtime::run`.
pub fn aci_runtime(
    api: &vk_testing::FakeApiServer,
    em: &EmulatorHandle,
    node: &str,
    provider_timeout: Duration,
) -> vk_core::Runtime {
    let mut config = provider_config();
    config.node.node_name = node.to_owned();
    let provider =
        vk_aci::AciProvider::new(client(em), config, Arc::new(vk_core::clock::SystemClock));
    vk_core::Runtime::builder(
        api.client(),
        Arc::new(provider),
        vk_core::NodeConfig::named(node),
    )
    .resync_period(Duration::from_secs(2))
    .status_coalescing(Duration::from_millis(10))
    .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
    .provider_timeout(provider_timeout)
    .lease(Duration::from_secs(40), Duration::from_millis(500))
    .node_status(Duration::from_millis(500), Duration::from_secs(300))
    .build()
}

/// Wall-clock time that moves with the tokio clock (paused or not) from the system time at
/// creation, as the emulator's timestamps do: the provider's clock in paused-clock tests,
/// so both sides agree on what "now" is.
#[derive(Debug)]
pub struct TokioWallClock(vk_aci::emulator::state::WallClock);

impl TokioWallClock {
    /// Anchored at the system time now.
    pub fn shared() -> vk_core::clock::SharedClock {
        let anchor = vk_core::clock::Clock::now(&vk_core::clock::SystemClock);
        Arc::new(Self(vk_aci::emulator::state::WallClock::new(
            anchor,
            tokio::time::Instant::now(),
        )))
    }
}

impl vk_core::clock::Clock for TokioWallClock {
    fn now(&self) -> jiff::Timestamp {
        self.0.timestamp(tokio::time::Instant::now())
    }
}
