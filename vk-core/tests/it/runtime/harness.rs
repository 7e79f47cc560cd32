//! Shared set-up: a runtime on a fake API server, with a provider that records its calls.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition, PodStatus};
use kube::api::{Api, PostParams};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{self, Duration};
use vk_core::provider::{PodKey, PodNotifier, PodResources, ProviderPod, Result};
use vk_core::{NodeConfig, Provider, ProviderError, Runtime, RuntimeBuilder};
use vk_testing::FakeApiServer;

pub const NODE: &str = "vk-test";

/// How long any wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// What the provider should answer to a create.
pub type CreateRule = Box<dyn Fn(&Pod) -> Option<ProviderError> + Send + Sync>;

/// A provider backed by a map, recording every lifecycle call.
#[derive(Default)]
pub struct TestProvider {
    pub pods: Mutex<HashMap<PodKey, String>>,
    pub calls: Mutex<Vec<(&'static str, PodKey)>>,
    pub resources: Mutex<HashMap<PodKey, PodResources>>,
    pub create_rule: Mutex<Option<CreateRule>>,
    pub push: bool,
    /// How long every create takes from now on.
    pub create_delay: Mutex<Duration>,
    /// Creates take effect but their answer is lost (a timeout after the backend applied
    /// the request).
    pub lose_create_answers: Mutex<bool>,
    notifier: Mutex<Option<PodNotifier>>,
}

impl TestProvider {
    pub fn pushing() -> Self {
        Self {
            push: true,
            ..Self::default()
        }
    }

    /// A provider that already runs `pods` (key, uid), as after a restart.
    pub fn with_pods(push: bool, pods: &[(PodKey, String)]) -> Self {
        let p = Self {
            push,
            ..Self::default()
        };
        p.pods.lock().unwrap().extend(pods.iter().cloned());
        p
    }

    pub fn on_create(&self, rule: impl Fn(&Pod) -> Option<ProviderError> + Send + Sync + 'static) {
        *self.create_rule.lock().unwrap() = Some(Box::new(rule));
    }

    /// Push `status` for `key`, as a provider does when a pod changes on its own.
    pub fn push_status(&self, key: &PodKey, status: PodStatus) {
        if let Some(n) = self.notifier.lock().unwrap().as_ref() {
            n.notify(key.clone(), Some(status));
        }
    }

    /// Push "gone" for `key`, as a provider does when a read of its backend found nothing
    /// (possibly a stale read made for an earlier pod of that name).
    pub fn push_gone(&self, key: &PodKey) {
        if let Some(n) = self.notifier.lock().unwrap().as_ref() {
            n.notify(key.clone(), None);
        }
    }

    pub fn count(&self, op: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| *o == op)
            .count()
    }

    pub fn count_for(&self, op: &str, key: &PodKey) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, k)| *o == op && k == key)
            .count()
    }

    pub fn has(&self, key: &PodKey) -> bool {
        self.pods.lock().unwrap().contains_key(key)
    }

    fn record(&self, op: &'static str, key: &PodKey) {
        self.calls.lock().unwrap().push((op, key.clone()));
    }

    pub fn running(key: &PodKey) -> PodStatus {
        PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some("10.1.0.5".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..PodCondition::default()
            }]),
            container_statuses: Some(vec![ContainerStatus {
                name: "app".into(),
                ready: true,
                restart_count: 0,
                image: "nginx".into(),
                image_id: String::new(),
                container_id: Some(format!("test://{}", key.name)),
                started: Some(true),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }
    }
}

#[async_trait]
impl Provider for TestProvider {
    fn name(&self) -> &str {
        "test"
    }

    async fn create_pod(&self, pod: &Pod, resources: &PodResources) -> Result<()> {
        let key = PodKey::of(pod);
        self.record("create", &key);
        let delay = *self.create_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(rule) = self.create_rule.lock().unwrap().as_ref()
            && let Some(e) = rule(pod)
        {
            return Err(e);
        }
        self.resources
            .lock()
            .unwrap()
            .insert(key.clone(), resources.clone());
        self.pods
            .lock()
            .unwrap()
            .insert(key.clone(), pod.metadata.uid.clone().unwrap_or_default());
        if *self.lose_create_answers.lock().unwrap() {
            return Err(ProviderError::transient(
                "Timeout",
                "the backend took the create but its answer was lost",
            ));
        }
        if let Some(n) = self.notifier.lock().unwrap().as_ref() {
            n.notify(key.clone(), Some(Self::running(&key)));
        }
        Ok(())
    }

    async fn update_pod(&self, pod: &Pod, _resources: &PodResources) -> Result<()> {
        self.record("update", &PodKey::of(pod));
        Ok(())
    }

    async fn delete_pod(&self, pod: &Pod) -> Result<()> {
        let key = PodKey::of(pod);
        self.record("delete", &key);
        match self.pods.lock().unwrap().remove(&key) {
            Some(_) => Ok(()),
            None => Err(ProviderError::not_found(&key)),
        }
    }

    async fn pod_status(&self, key: &PodKey) -> Result<Option<PodStatus>> {
        self.record("status", key);
        Ok(self.has(key).then(|| Self::running(key)))
    }

    async fn list_pods(&self) -> Result<Vec<ProviderPod>> {
        self.record("list", &PodKey::default());
        Ok(self
            .pods
            .lock()
            .unwrap()
            .iter()
            .map(|(k, uid)| ProviderPod {
                key: k.clone(),
                uid: Some(uid.clone()),
                created: None,
            })
            .collect())
    }

    fn notify_pods(&self, notifier: PodNotifier) -> bool {
        if self.push {
            *self.notifier.lock().unwrap() = Some(notifier);
        }
        self.push
    }
}

/// A runtime running in the background.
pub struct Running {
    pub store: vk_core::PodStore,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<vk_core::runtime::Result<()>>,
}

/// The builder with test-friendly intervals.
pub fn builder(api: &FakeApiServer, provider: Arc<TestProvider>) -> RuntimeBuilder {
    Runtime::builder(api.client(), provider, NodeConfig::named(NODE))
        .resync_period(Duration::from_millis(500))
        .status_poll_interval(Duration::from_millis(200))
        .status_coalescing(Duration::from_millis(10))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .provider_timeout(Duration::from_secs(5))
        .lease(Duration::from_secs(40), Duration::from_millis(200))
        .node_status(Duration::from_millis(200), Duration::from_secs(300))
}

/// Start `builder`'s runtime in the background.
pub fn start(builder: RuntimeBuilder) -> Running {
    let runtime = builder.build();
    let store = runtime.pod_store();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(runtime.run(async {
        let _ = rx.await;
    }));
    Running {
        store,
        stop: Some(tx),
        task,
    }
}

impl Running {
    /// Shut the runtime down and wait for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("runtime shutdown probably deadlocked")
            .expect("runtime task panicked")
            .expect("runtime ended with an error");
    }
}

/// Poll `check` every 50 ms until it yields a value.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    time::timeout(PATIENCE, async {
        loop {
            if let Some(v) = check().await {
                return v;
            }
            time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Wait until the provider saw `n` more `op` calls (for `key`, or any pod) than now: the
/// runtime's own progress (resync scans list pods; reconciles read statuses), instead of
/// a guess at how long a wrong move would take to show.
pub async fn progress(provider: &TestProvider, op: &str, key: Option<&PodKey>, n: usize) {
    let count = || match key {
        Some(key) => provider.count_for(op, key),
        None => provider.count(op),
    };
    let target = count() + n;
    eventually(&format!("{n} more {op} calls"), || async {
        (count() >= target).then_some(())
    })
    .await;
}

/// A pod bound to the test node.
pub fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "app", "image": "nginx"}],
        },
    }))
    .unwrap()
}

/// Create `pod` in the API.
pub async fn bind(api: &FakeApiServer, pod: &Pod) -> Pod {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    Api::<Pod>::namespaced(api.client(), ns)
        .create(&PostParams::default(), pod)
        .await
        .unwrap()
}

/// The pod's phase in the API (`None` when there is no such pod).
pub async fn phase(api: &FakeApiServer, name: &str) -> Option<String> {
    let p = Api::<Pod>::namespaced(api.client(), "default")
        .get_opt(name)
        .await
        .unwrap()?;
    Some(p.status.and_then(|s| s.phase).unwrap_or_default())
}

/// Wait until the pod is in `want` phase in the API.
pub async fn wait_phase(api: &FakeApiServer, name: &str, want: &str) -> Pod {
    eventually(&format!("pod {name} to be {want}"), || async {
        let p = Api::<Pod>::namespaced(api.client(), "default")
            .get_opt(name)
            .await
            .unwrap()?;
        (p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(want)).then_some(p)
    })
    .await
}

pub fn key(name: &str) -> PodKey {
    PodKey::new("default", name)
}
