//! An in-memory [`Provider`]: pods move Pending -> Running (-> Succeeded/Failed by rule),
//! statuses are pushed through the notifier, logs are generated, exec runs a tiny command
//! set, and every call is recorded (unless [`MockProviderBuilder::record_calls`] is off).
//!
//! The backend keeps what a real one would, not the pod objects: per pod its UID, its
//! containers (name, image, literal environment) and the state its status is made from,
//! so that load scenarios with thousands of pods measure the runtime rather than the mock.
//!
//! Rules read from pod annotations:
//! - `mock.vk.io/exit-after: "2s"`: the containers exit that long after starting, with
//!   `mock.vk.io/exit-code` (default `0`: Succeeded; anything else: Failed).
//! - `mock.vk.io/start-after: "500ms"`: overrides the builder's start delay for this pod.
//! - `mock.vk.io/create-error: unsupported|transient|invalid`: `create_pod` fails so.
//!
//! Resource usage (`stats()`, hence `/stats/summary`, `/metrics/resource`, `kubectl top`
//! and HPAs): each container uses about 5 millicores and 16-24 MiB unless told otherwise
//! with [`MockProvider::set_usage`] or [`MockProvider::set_default_usage`]; its cumulative
//! CPU advances at the rate in force since it started.
mod exec;
mod logs;
mod status;
mod usage;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, EnvVar, Node, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Duration;

pub use usage::ContainerUsage;
use usage::CpuMeter;
use vk_core::clock::{SharedClock, SystemClock};
use vk_core::provider::{
    ContainerStats, DuplexIo, ExecIo, LogOptions, LogStream, PodKey, PodNotifier, PodResources,
    PodStats, Provider, ProviderError, ProviderPod, Result,
};

/// Annotation: how long after starting the containers exit.
pub const EXIT_AFTER_ANNOTATION: &str = "mock.vk.io/exit-after";
/// Annotation: the exit code of the containers (default 0).
pub const EXIT_CODE_ANNOTATION: &str = "mock.vk.io/exit-code";
/// Annotation: delay from create to Running for this pod.
pub const START_AFTER_ANNOTATION: &str = "mock.vk.io/start-after";
/// Annotation: make `create_pod` fail (`unsupported`, `transient` or `invalid`).
pub const CREATE_ERROR_ANNOTATION: &str = "mock.vk.io/create-error";

/// One call the runtime made on the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MockCall {
    /// `create_pod`, with the number of resolved secrets and config maps.
    CreatePod {
        /// The pod.
        key: PodKey,
        /// Its UID.
        uid: String,
        /// Names of the secrets handed over.
        secrets: Vec<String>,
        /// Names of the config maps handed over.
        config_maps: Vec<String>,
    },
    /// `update_pod`.
    UpdatePod(PodKey),
    /// `delete_pod`.
    DeletePod(PodKey),
    /// `pod_status`.
    PodStatus(PodKey),
    /// `list_pods`.
    ListPods,
    /// `notify_pods`.
    NotifyPods,
    /// `ping`.
    Ping,
    /// `logs`.
    Logs {
        /// The pod.
        key: PodKey,
        /// The container.
        container: String,
        /// The options.
        opts: LogOptions,
    },
    /// `exec`.
    Exec {
        /// The pod.
        key: PodKey,
        /// The container.
        container: String,
        /// The command.
        command: Vec<String>,
        /// Whether a TTY was asked for.
        tty: bool,
    },
    /// `attach`.
    Attach {
        /// The pod.
        key: PodKey,
        /// The container.
        container: String,
    },
    /// `port_forward`.
    PortForward {
        /// The pod.
        key: PodKey,
        /// The port.
        port: u16,
    },
    /// `stats`.
    Stats,
}

impl MockCall {
    /// The pod the call was about, if any.
    #[must_use]
    pub fn key(&self) -> Option<&PodKey> {
        match self {
            Self::CreatePod { key, .. }
            | Self::UpdatePod(key)
            | Self::DeletePod(key)
            | Self::PodStatus(key)
            | Self::Logs { key, .. }
            | Self::Exec { key, .. }
            | Self::Attach { key, .. }
            | Self::PortForward { key, .. } => Some(key),
            _ => None,
        }
    }
}

// === impl MockProviderBuilder ===

/// Options of a [`MockProvider`].
#[derive(Debug, Clone)]
#[must_use]
pub struct MockProviderBuilder {
    name: String,
    create_latency: Duration,
    start_delay: Duration,
    failure_rate: f64,
    seed: u64,
    log_lines: u64,
    log_interval: Duration,
    record_calls: bool,
    clock: Option<SharedClock>,
}

impl Default for MockProviderBuilder {
    fn default() -> Self {
        Self {
            name: "mock".into(),
            create_latency: Duration::ZERO,
            // Quick enough for tests, slow enough to observe Pending.
            start_delay: Duration::from_millis(100),
            failure_rate: 0.0,
            seed: 0,
            log_lines: 3,
            log_interval: Duration::from_secs(1),
            record_calls: true,
            clock: None,
        }
    }
}

impl MockProviderBuilder {
    /// Provider name (default `mock`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Time `create_pod` takes (default none).
    pub fn create_latency(mut self, d: Duration) -> Self {
        self.create_latency = d;
        self
    }

    /// Time from create to Running (default 100 ms).
    pub fn start_delay(mut self, d: Duration) -> Self {
        self.start_delay = d;
        self
    }

    /// Fraction (0..=1) of `create_pod` calls failing with a transient error, drawn from a
    /// random generator seeded with [`MockProviderBuilder::seed`].
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Seed of the failure draws (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Lines each container has logged when it starts (default 3).
    pub fn log_lines(mut self, n: u64) -> Self {
        self.log_lines = n;
        self
    }

    /// How often a following log gets a new line (default 1 s).
    pub fn log_interval(mut self, d: Duration) -> Self {
        self.log_interval = d;
        self
    }

    /// Whether calls are recorded for [`MockProvider::calls`] (default on). Load scenarios
    /// turn it off: the record grows by a few calls per pod and is never trimmed.
    pub fn record_calls(mut self, on: bool) -> Self {
        self.record_calls = on;
        self
    }

    /// Read status timestamps from `clock` (default the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The provider.
    #[must_use]
    pub fn build(self) -> MockProvider {
        MockProvider {
            inner: Arc::new(Inner {
                clock: self.clock.clone().unwrap_or_else(|| Arc::new(SystemClock)),
                rng: Mutex::new(StdRng::seed_from_u64(self.seed)),
                cfg: self,
                state: Mutex::new(State::default()),
                notifier: Mutex::new(None),
            }),
        }
    }
}

// === impl MockProvider ===

/// A container as the backend keeps it.
#[derive(Clone, Debug)]
pub(super) struct MockContainer {
    pub(super) name: String,
    pub(super) image: String,
    /// Literal environment variables (`valueFrom` is not resolved).
    env: Vec<(String, String)>,
    /// Usage set for this container ([`MockProvider::set_usage`]).
    usage: Option<ContainerUsage>,
    /// What it uses when nothing was set: a little, drawn at creation.
    idle: ContainerUsage,
    /// Its cumulative CPU.
    cpu: CpuMeter,
}

impl MockContainer {
    /// The containers of `pod`, each idling at `idle()` unless `default` says otherwise.
    fn all(
        pod: &Pod,
        default: Option<ContainerUsage>,
        mut idle: impl FnMut() -> ContainerUsage,
    ) -> Vec<Self> {
        pod.spec
            .iter()
            .flat_map(|s| &s.containers)
            .map(|c| {
                let idle = idle();
                Self {
                    name: c.name.clone(),
                    image: c.image.clone().unwrap_or_default(),
                    env: c
                        .env
                        .iter()
                        .flatten()
                        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
                        .collect(),
                    usage: None,
                    idle,
                    cpu: CpuMeter::new(default.unwrap_or(idle).cpu_nano_cores),
                }
            })
            .collect()
    }

    /// The usage in force given the provider's default.
    fn usage(&self, default: Option<ContainerUsage>) -> ContainerUsage {
        self.usage.or(default).unwrap_or(self.idle)
    }

    fn to_container(&self) -> Container {
        Container {
            name: self.name.clone(),
            image: Some(self.image.clone()),
            env: (!self.env.is_empty()).then(|| {
                self.env
                    .iter()
                    .map(|(name, value)| EnvVar {
                        name: name.clone(),
                        value: Some(value.clone()),
                        ..EnvVar::default()
                    })
                    .collect()
            }),
            ..Container::default()
        }
    }
}

/// The exit rule of a pod (from its annotations): exit this long after starting, with
/// this code.
type ExitRule = Option<(Duration, i32)>;

/// What a pod's status is made from (a typed `PodStatus` is a few KiB; this is not).
#[derive(Clone, Debug)]
enum Shown {
    /// Accepted at `at`, containers being created.
    Pending { at: Timestamp },
    /// Running since `started`.
    Running { started: Timestamp },
    /// Every container exited with `code` at `at`.
    Terminated {
        started: Timestamp,
        at: Timestamp,
        code: i32,
    },
    /// Set by hand ([`MockProvider::set_status`]): its phase and the status, JSON-encoded.
    Set {
        phase: Option<String>,
        json: Box<[u8]>,
    },
}

#[derive(Clone, Debug)]
struct MockPod {
    uid: Option<String>,
    containers: Vec<MockContainer>,
    exit: ExitRule,
    shown: Shown,
    ip: String,
    created: Timestamp,
    started: Option<Timestamp>,
    /// Bumped on every (re)creation so stale timers do nothing.
    epoch: u64,
}

impl MockPod {
    fn status(&self) -> PodStatus {
        match &self.shown {
            Shown::Pending { at } => status::pending(&self.containers, *at),
            Shown::Running { started } => {
                status::running(&self.containers, &self.ip, *started, *started)
            }
            Shown::Terminated { started, at, code } => {
                status::terminated(&self.containers, &self.ip, *started, *at, *code)
            }
            Shown::Set { json, .. } => serde_json::from_slice(json).unwrap_or_default(),
        }
    }

    fn phase(&self) -> Option<&str> {
        match &self.shown {
            Shown::Pending { .. } => Some("Pending"),
            Shown::Running { .. } => Some("Running"),
            Shown::Terminated { code: 0, .. } => Some("Succeeded"),
            Shown::Terminated { .. } => Some("Failed"),
            Shown::Set { phase, .. } => phase.as_deref(),
        }
    }

    fn is_running(&self) -> bool {
        self.phase() == Some("Running")
    }

    /// The pod as the backend sees it.
    fn to_pod(&self, key: &PodKey) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(key.name.clone()),
                namespace: Some(key.namespace.clone()),
                uid: self.uid.clone(),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: self
                    .containers
                    .iter()
                    .map(MockContainer::to_container)
                    .collect(),
                ..PodSpec::default()
            }),
            status: Some(self.status()),
        }
    }
}

#[derive(Default)]
struct State {
    pods: BTreeMap<PodKey, MockPod>,
    calls: Vec<MockCall>,
    next_ip: u32,
    epoch: u64,
    unhealthy: bool,
    /// Usage of containers without their own ([`MockProvider::set_default_usage`]).
    default_usage: Option<ContainerUsage>,
}

struct Inner {
    cfg: MockProviderBuilder,
    clock: SharedClock,
    rng: Mutex<StdRng>,
    state: Mutex<State>,
    notifier: Mutex<Option<PodNotifier>>,
}

/// An in-memory provider for tests. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MockProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProvider")
            .field("name", &self.inner.cfg.name)
            .finish_non_exhaustive()
    }
}

impl Default for MockProvider {
    fn default() -> Self {
        Self::builder().build()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Parse `500ms`, `2s`, `1m`, `1h` (or plain seconds).
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num.trim().parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

fn annotation<'a>(pod: &'a Pod, name: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(name))
        .map(String::as_str)
}

impl MockProvider {
    /// Options.
    pub fn builder() -> MockProviderBuilder {
        MockProviderBuilder::default()
    }

    /// A provider with the default options.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call made so far, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<MockCall> {
        lock(&self.inner.state).calls.clone()
    }

    /// The pods the backend has, as it keeps them: name, namespace, UID, containers
    /// (name, image, literal environment) and the current status.
    #[must_use]
    pub fn pods(&self) -> Vec<Pod> {
        lock(&self.inner.state)
            .pods
            .iter()
            .map(|(k, p)| p.to_pod(k))
            .collect()
    }

    /// The pod `key` as the backend keeps it (see [`MockProvider::pods`]), if it has it.
    #[must_use]
    pub fn pod(&self, key: &PodKey) -> Option<Pod> {
        lock(&self.inner.state).pods.get(key).map(|p| p.to_pod(key))
    }

    /// From now on, container `container` of pod `key` uses `usage` (its cumulative CPU
    /// advances at the new rate). `false` if the backend has no such pod or container.
    pub fn set_usage(&self, key: &PodKey, container: &str, usage: ContainerUsage) -> bool {
        let now = self.inner.clock.now();
        let mut st = lock(&self.inner.state);
        let Some(p) = st.pods.get_mut(key) else {
            return false;
        };
        let started = p.started;
        let Some(c) = p.containers.iter_mut().find(|c| c.name == container) else {
            return false;
        };
        c.usage = Some(usage);
        c.cpu.set_rate(usage.cpu_nano_cores, now, started);
        true
    }

    /// From now on, every container without its own usage ([`MockProvider::set_usage`]),
    /// including those of pods created later, uses `usage`; `None` goes back to the small
    /// built-in usage.
    pub fn set_default_usage(&self, usage: Option<ContainerUsage>) {
        let now = self.inner.clock.now();
        let mut st = lock(&self.inner.state);
        st.default_usage = usage;
        for p in st.pods.values_mut() {
            let started = p.started;
            for c in p.containers.iter_mut().filter(|c| c.usage.is_none()) {
                let rate = usage.unwrap_or(c.idle).cpu_nano_cores;
                c.cpu.set_rate(rate, now, started);
            }
        }
    }

    /// A small usage for a new container: about 5 millicores and 16-24 MiB.
    fn idle_usage(&self) -> ContainerUsage {
        let mut rng = lock(&self.inner.rng);
        ContainerUsage {
            cpu_nano_cores: 5_000_000 + rng.random_range(0..1_000_000u64),
            memory_bytes: 16 * 1024 * 1024 + rng.random_range(0..8 * 1024 * 1024u64),
        }
    }

    /// Make `ping` fail (`false`) or succeed again (`true`).
    pub fn set_healthy(&self, healthy: bool) {
        lock(&self.inner.state).unhealthy = !healthy;
    }

    /// Set a pod's status by hand and push it.
    pub fn set_status(&self, key: &PodKey, status: PodStatus) {
        {
            let mut st = lock(&self.inner.state);
            let Some(p) = st.pods.get_mut(key) else {
                return;
            };
            p.shown = Shown::Set {
                phase: status.phase.clone(),
                json: serde_json::to_vec(&status)
                    .unwrap_or_default()
                    .into_boxed_slice(),
            };
            p.epoch = u64::MAX;
        }
        self.notify(key.clone(), Some(status));
    }

    /// End every container of a pod now with `exit_code`.
    pub fn finish(&self, key: &PodKey, exit_code: i32) {
        let now = self.inner.clock.now();
        let status = {
            let mut st = lock(&self.inner.state);
            let Some(p) = st.pods.get_mut(key) else {
                return;
            };
            p.shown = Shown::Terminated {
                started: p.started.unwrap_or(now),
                at: now,
                code: exit_code,
            };
            p.epoch = u64::MAX;
            p.status()
        };
        self.notify(key.clone(), Some(status));
    }

    /// Forget a pod as if the backend lost it, and push `None`.
    pub fn lose(&self, key: &PodKey) {
        lock(&self.inner.state).pods.remove(key);
        self.notify(key.clone(), None);
    }

    fn record(&self, call: impl FnOnce() -> MockCall) {
        if self.inner.cfg.record_calls {
            lock(&self.inner.state).calls.push(call());
        }
    }

    fn notify(&self, key: PodKey, status: Option<PodStatus>) {
        if let Some(n) = lock(&self.inner.notifier).as_ref() {
            n.notify(key, status);
        }
    }

    /// Move a pod on after `delay` if it is still the same incarnation.
    fn schedule<F>(&self, key: PodKey, epoch: u64, delay: Duration, step: F)
    where
        F: FnOnce(&mut MockPod, Timestamp) + Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let now = this.inner.clock.now();
            let status = {
                let mut st = lock(&this.inner.state);
                let Some(p) = st.pods.get_mut(&key) else {
                    return;
                };
                if p.epoch != epoch {
                    return;
                }
                step(p, now);
                p.status()
            };
            this.notify(key.clone(), Some(status));
            this.after_running(key, epoch);
        });
    }

    /// Schedule the exit rule once a pod runs.
    fn after_running(&self, key: PodKey, epoch: u64) {
        let exit = {
            let st = lock(&self.inner.state);
            let Some(p) = st.pods.get(&key) else {
                return;
            };
            if !p.is_running() {
                return;
            }
            p.exit
        };
        if let Some((after, code)) = exit {
            self.schedule(key, epoch, after, move |p, now| {
                p.shown = Shown::Terminated {
                    started: p.started.unwrap_or(now),
                    at: now,
                    code,
                };
            });
        }
    }

    fn running(&self, key: &PodKey) -> Result<MockPod> {
        lock(&self.inner.state)
            .pods
            .get(key)
            .cloned()
            .ok_or_else(|| ProviderError::not_found(format!("pod {key}")))
    }

    fn check_container<'a>(
        p: &'a MockPod,
        key: &PodKey,
        container: &str,
    ) -> Result<&'a MockContainer> {
        p.containers
            .iter()
            .find(|c| c.name == container)
            .ok_or_else(|| ProviderError::not_found(format!("container {container} in pod {key}")))
    }

    fn is_alive(&self, key: &PodKey) -> bool {
        lock(&self.inner.state)
            .pods
            .get(key)
            .is_some_and(MockPod::is_running)
    }
}

#[async_trait]
impl Provider for MockProvider {
    fn name(&self) -> &str {
        &self.inner.cfg.name
    }

    async fn create_pod(&self, pod: &Pod, resources: &PodResources) -> Result<()> {
        let key = PodKey::of(pod);
        self.record(|| MockCall::CreatePod {
            key: key.clone(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            secrets: resources.secrets.keys().cloned().collect(),
            config_maps: resources.config_maps.keys().cloned().collect(),
        });
        if !self.inner.cfg.create_latency.is_zero() {
            tokio::time::sleep(self.inner.cfg.create_latency).await;
        }
        match annotation(pod, CREATE_ERROR_ANNOTATION) {
            Some("unsupported") => {
                return Err(ProviderError::unsupported(
                    "the mock provider was told to reject this pod",
                ));
            }
            Some("transient") => {
                return Err(ProviderError::transient(
                    "MockTransient",
                    "the mock provider was told to fail this create",
                ));
            }
            Some("invalid") => {
                return Err(ProviderError::InvalidInput(
                    "the mock provider was told this pod is invalid".into(),
                ));
            }
            _ => {}
        }
        if self.inner.cfg.failure_rate > 0.0 {
            let roll: f64 = lock(&self.inner.rng).random();
            if roll < self.inner.cfg.failure_rate {
                return Err(ProviderError::transient(
                    "MockFailure",
                    "injected create failure",
                ));
            }
        }
        let now = self.inner.clock.now();
        let default_usage = lock(&self.inner.state).default_usage;
        let containers = MockContainer::all(pod, default_usage, || self.idle_usage());
        let (status, epoch) = {
            let mut st = lock(&self.inner.state);
            st.epoch += 1;
            st.next_ip += 1;
            let epoch = st.epoch;
            let n = st.next_ip;
            let ip = format!("10.244.{}.{}", (n / 250) % 250, n % 250 + 2);
            let status = status::pending(&containers, now);
            let exit = annotation(pod, EXIT_AFTER_ANNOTATION)
                .and_then(parse_duration)
                .map(|after| {
                    let code = annotation(pod, EXIT_CODE_ANNOTATION)
                        .and_then(|c| c.trim().parse::<i32>().ok())
                        .unwrap_or(0);
                    (after, code)
                });
            st.pods.insert(
                key.clone(),
                MockPod {
                    uid: pod.metadata.uid.clone(),
                    containers,
                    exit,
                    shown: Shown::Pending { at: now },
                    ip,
                    created: now,
                    started: None,
                    epoch,
                },
            );
            (status, epoch)
        };
        self.notify(key.clone(), Some(status));
        let delay = annotation(pod, START_AFTER_ANNOTATION)
            .and_then(parse_duration)
            .unwrap_or(self.inner.cfg.start_delay);
        self.schedule(key, epoch, delay, |p, now| {
            p.started = Some(now);
            p.shown = Shown::Running { started: now };
        });
        Ok(())
    }

    async fn update_pod(&self, pod: &Pod, _resources: &PodResources) -> Result<()> {
        let key = PodKey::of(pod);
        self.record(|| MockCall::UpdatePod(key.clone()));
        let default_usage = lock(&self.inner.state).default_usage;
        let mut fresh = MockContainer::all(pod, default_usage, || self.idle_usage());
        let mut st = lock(&self.inner.state);
        let p = st
            .pods
            .get_mut(&key)
            .ok_or_else(|| ProviderError::not_found(format!("pod {key}")))?;
        p.uid.clone_from(&pod.metadata.uid);
        // A container that stays keeps its usage and CPU counter.
        for c in &mut fresh {
            if let Some(old) = p.containers.iter().find(|o| o.name == c.name) {
                c.usage = old.usage;
                c.idle = old.idle;
                c.cpu = old.cpu;
            }
        }
        p.containers = fresh;
        Ok(())
    }

    async fn delete_pod(&self, pod: &Pod) -> Result<()> {
        let key = PodKey::of(pod);
        self.record(|| MockCall::DeletePod(key.clone()));
        let removed = lock(&self.inner.state).pods.remove(&key);
        if removed.is_some() {
            self.notify(key, None);
        }
        Ok(())
    }

    async fn pod_status(&self, key: &PodKey) -> Result<Option<PodStatus>> {
        self.record(|| MockCall::PodStatus(key.clone()));
        Ok(lock(&self.inner.state).pods.get(key).map(MockPod::status))
    }

    async fn list_pods(&self) -> Result<Vec<ProviderPod>> {
        self.record(|| MockCall::ListPods);
        Ok(lock(&self.inner.state)
            .pods
            .iter()
            .map(|(k, p)| ProviderPod {
                key: k.clone(),
                uid: p.uid.clone(),
                created: Some(p.created),
            })
            .collect())
    }

    fn notify_pods(&self, notifier: PodNotifier) -> bool {
        self.record(|| MockCall::NotifyPods);
        *lock(&self.inner.notifier) = Some(notifier);
        true
    }

    fn configure_node(&self, node: &mut Node) {
        let status = node.status.get_or_insert_default();
        let mut cap = BTreeMap::new();
        cap.insert("cpu".to_owned(), Quantity("100".into()));
        cap.insert("memory".to_owned(), Quantity("512Gi".into()));
        cap.insert("pods".to_owned(), Quantity("1000".into()));
        status.capacity = Some(cap.clone());
        status.allocatable = Some(cap);
    }

    async fn ping(&self) -> Result<()> {
        self.record(|| MockCall::Ping);
        if lock(&self.inner.state).unhealthy {
            return Err(ProviderError::transient(
                "MockUnhealthy",
                "the mock backend was told to be unhealthy",
            ));
        }
        Ok(())
    }

    async fn logs(&self, key: &PodKey, container: &str, opts: &LogOptions) -> Result<LogStream> {
        self.record(|| MockCall::Logs {
            key: key.clone(),
            container: container.to_owned(),
            opts: opts.clone(),
        });
        let p = self.running(key)?;
        Self::check_container(&p, key, container)?;
        if opts.previous {
            return Err(ProviderError::InvalidInput(format!(
                "previous terminated container \"{container}\" in pod \"{}\" not found",
                key.name
            )));
        }
        let Some(started) = p.started else {
            return Err(ProviderError::InvalidInput(format!(
                "container \"{container}\" in pod \"{}\" is waiting to start: ContainerCreating",
                key.name
            )));
        };
        let now = self.inner.clock.now();
        let elapsed = now.as_second().saturating_sub(started.as_second()).max(0);
        let every = self.inner.cfg.log_interval.as_secs().max(1);
        let lines = self.inner.cfg.log_lines + u64::try_from(elapsed).unwrap_or(0) / every;
        let this = self.clone();
        let k = key.clone();
        Ok(logs::stream(
            logs::LogSource {
                key: key.clone(),
                container: container.to_owned(),
                lines,
                first: started,
                every: self.inner.cfg.log_interval,
            },
            opts,
            move || this.is_alive(&k),
        ))
    }

    async fn exec(
        &self,
        key: &PodKey,
        container: &str,
        command: &[String],
        io: ExecIo,
    ) -> Result<i32> {
        self.record(|| MockCall::Exec {
            key: key.clone(),
            container: container.to_owned(),
            command: command.to_vec(),
            tty: io.tty,
        });
        let p = self.running(key)?;
        let c = Self::check_container(&p, key, container)?;
        if command.is_empty() {
            return Err(ProviderError::InvalidInput("command is empty".into()));
        }
        let env = c.env.clone();
        let ctx = exec::Context {
            env,
            hostname: key.name.clone(),
        };
        Ok(exec::run(command, io, &ctx).await)
    }

    async fn attach(&self, key: &PodKey, container: &str, mut io: ExecIo) -> Result<i32> {
        self.record(|| MockCall::Attach {
            key: key.clone(),
            container: container.to_owned(),
        });
        let p = self.running(key)?;
        Self::check_container(&p, key, container)?;
        if let Some(out) = io.stdout.as_mut() {
            for n in 1..=self.inner.cfg.log_lines {
                let mut l = logs::line(key, container, n);
                l.push('\n');
                let _ = out.write_all(l.as_bytes()).await;
            }
            let _ = out.flush().await;
        }
        if let Some(mut input) = io.stdin.take() {
            let mut buf = vec![0u8; 8192];
            loop {
                match input.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Some(out) = io.stdout.as_mut() {
                            let _ = out.write_all(&buf[..n]).await;
                            let _ = out.flush().await;
                        }
                    }
                }
            }
        }
        for w in [io.stdout.as_mut(), io.stderr.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = w.shutdown().await;
        }
        Ok(0)
    }

    async fn port_forward(&self, key: &PodKey, port: u16, stream: Box<dyn DuplexIo>) -> Result<()> {
        self.record(|| MockCall::PortForward {
            key: key.clone(),
            port,
        });
        self.running(key)?;
        // An echo server on every port.
        let (mut r, mut w) = tokio::io::split(stream);
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = w.shutdown().await;
        Ok(())
    }

    async fn stats(&self) -> Result<Vec<PodStats>> {
        self.record(|| MockCall::Stats);
        // Measured now, to the millisecond the kubelet's sample timestamps carry, so a
        // rate between two scrapes is exactly the usage in force.
        let now = self.inner.clock.now();
        let now = Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now);
        let st = lock(&self.inner.state);
        Ok(st
            .pods
            .iter()
            .filter(|(_, p)| p.is_running())
            .map(|(k, p)| {
                let started = p.started.unwrap_or(now);
                let up =
                    u64::try_from(now.as_second().saturating_sub(started.as_second())).unwrap_or(0);
                let containers = p
                    .containers
                    .iter()
                    .map(|c| {
                        let usage = c.usage(st.default_usage);
                        ContainerStats {
                            name: c.name.clone(),
                            start_time: Some(started),
                            cpu_usage_nano_cores: Some(usage.cpu_nano_cores),
                            cpu_usage_core_nano_seconds: Some(c.cpu.at(now, Some(started))),
                            memory_working_set_bytes: Some(usage.memory_bytes),
                            time: Some(now),
                        }
                    })
                    .collect();
                PodStats {
                    key: k.clone(),
                    uid: p.uid.clone().unwrap_or_default(),
                    start_time: Some(started),
                    containers,
                    rx_bytes: Some(up * 1024),
                    tx_bytes: Some(up * 512),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
