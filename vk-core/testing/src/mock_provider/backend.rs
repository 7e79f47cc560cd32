//! The in-memory backend: the [`MockProvider`] type and its shared state, the controls
//! tests use (usage, status, finishing and losing pods, health) and the timers that move
//! pods through their lifecycle.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Duration;
use vk_core::clock::{SharedClock, SystemClock};
use vk_core::provider::{PodKey, PodNotifier, ProviderError, Result};

use super::builder::MockProviderBuilder;
use super::calls::MockCall;
use super::container::MockContainer;
use super::pod::{MockPod, Shown};
use super::usage::ContainerUsage;

#[derive(Default)]
pub(super) struct State {
    pub(super) pods: BTreeMap<PodKey, MockPod>,
    pub(super) calls: Vec<MockCall>,
    pub(super) next_ip: u32,
    pub(super) epoch: u64,
    pub(super) unhealthy: bool,
    /// Usage of containers without their own ([`MockProvider::set_default_usage`]).
    pub(super) default_usage: Option<ContainerUsage>,
}

pub(super) struct Inner {
    pub(super) cfg: MockProviderBuilder,
    pub(super) clock: SharedClock,
    pub(super) rng: Mutex<StdRng>,
    pub(super) state: Mutex<State>,
    pub(super) notifier: Mutex<Option<PodNotifier>>,
}

/// An in-memory provider for tests. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MockProvider {
    pub(super) inner: Arc<Inner>,
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

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MockProviderBuilder {
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
    pub(super) fn idle_usage(&self) -> ContainerUsage {
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

    pub(super) fn record(&self, call: impl FnOnce() -> MockCall) {
        if self.inner.cfg.record_calls {
            lock(&self.inner.state).calls.push(call());
        }
    }

    pub(super) fn notify(&self, key: PodKey, status: Option<PodStatus>) {
        if let Some(n) = lock(&self.inner.notifier).as_ref() {
            n.notify(key, status);
        }
    }

    /// Move a pod on after `delay` if it is still the same incarnation.
    pub(super) fn schedule<F>(&self, key: PodKey, epoch: u64, delay: Duration, step: F)
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
    pub(super) fn after_running(&self, key: PodKey, epoch: u64) {
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

    pub(super) fn running(&self, key: &PodKey) -> Result<MockPod> {
        lock(&self.inner.state)
            .pods
            .get(key)
            .cloned()
            .ok_or_else(|| ProviderError::not_found(format!("pod {key}")))
    }

    pub(super) fn check_container<'a>(
        p: &'a MockPod,
        key: &PodKey,
        container: &str,
    ) -> Result<&'a MockContainer> {
        p.containers
            .iter()
            .find(|c| c.name == container)
            .ok_or_else(|| ProviderError::not_found(format!("container {container} in pod {key}")))
    }

    pub(super) fn is_alive(&self, key: &PodKey) -> bool {
        lock(&self.inner.state)
            .pods
            .get(key)
            .is_some_and(MockPod::is_running)
    }
}
