//! The pod controller: watch pods bound to the node, reconcile them with the provider.
//!
//! - `queue`: the deduplicating work queue (never two workers on one pod), with an urgent
//!   lane for pushed statuses and deletions.
//! - `controller`: the reconcile of one pod (create, update, status, deletion).
//! - [`status`]: provider errors as pod status ([`PodFailure`]) and status comparison.
//! - `resolve`: the Secrets, ConfigMaps and tokens a pod references.
//! - `cleanup`: adoption of the provider's pods on start and removal of orphans.
//! - [`store`]: the pods bound to the node, kept compact ([`PodStore`]).
//! - `termination`: the last status of a deleted pod (containers terminated).
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::Resource;
use kube::api::Api;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{self, Duration};
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::node::NodeConfig;
use crate::provider::{PodKey, PodNotifier, ProviderError, ProviderPod, SharedProvider};
use crate::runtime::{ApiCall, Metrics, api_call};

pub mod claims;
mod cleanup;
mod controller;
pub(crate) mod queue;
mod resolve;
pub mod status;
pub mod store;
mod termination;

pub use status::PodFailure;
pub use store::PodStore;
use store::PodStoreWriter;

/// Pod controller settings (set through [`crate::runtime::RuntimeBuilder`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) workers: usize,
    pub(crate) resync: Duration,
    pub(crate) orphan_grace: Duration,
    pub(crate) status_coalescing: Duration,
    pub(crate) status_poll: Duration,
    pub(crate) provider_timeout: Duration,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            // Go virtual-kubelet `--pod-sync-workers`.
            workers: 10,
            // Go virtual-kubelet `--full-resync-period`.
            resync: Duration::from_secs(60),
            // Our choice: long enough for any create's round trip to show up in the watch.
            orphan_grace: Duration::from_secs(120),
            // Our choice: merges bursts of pushed updates without visible delay.
            status_coalescing: Duration::from_millis(50),
            // Go virtual-kubelet's wrapper for providers without NotifyPods polls every 5 s.
            status_poll: Duration::from_secs(5),
            // Our choice: ACI creates are asynchronous and answer within seconds; 2 min
            // leaves room for throttled ARM calls.
            provider_timeout: Duration::from_secs(120),
            // client-go's default controller rate limiter starts at 5 ms; provider calls
            // are costlier, so 1 s, capped at the kubelet's 5 min CrashLoopBackOff cap.
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// What the controller remembers about one pod between reconciles.
#[derive(Clone, Debug, Default)]
pub(crate) struct PodState {
    /// The UID this state is about.
    pub(crate) uid: String,
    /// The provider has (or was handed) the pod.
    pub(crate) created: bool,
    /// A create was sent and failed in a way that does not say the backend refused it (a
    /// timeout, a lost answer, a server error): the backend may have the pod, so deleting
    /// the pod asks it to delete too.
    pub(crate) maybe_created: bool,
    /// The runtime marked the pod Failed; nothing more to do until deletion.
    pub(crate) failed: bool,
    /// Hash of the spec last handed to the provider.
    pub(crate) spec_hash: u64,
    /// Hash of the status last written.
    pub(crate) status_hash: u64,
    /// Consecutive failures, for the backoff.
    pub(crate) attempts: u32,
    /// When the scheduled retry is due.
    pub(crate) not_before: Option<time::Instant>,
}

/// A provider call that did not succeed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The provider answered with an error.
    Failed(ProviderError),
    /// The provider did not answer within the timeout.
    TimedOut(&'static str),
}

impl CallError {
    pub(crate) fn failure(&self) -> PodFailure {
        match self {
            Self::Failed(e) => PodFailure::from(e),
            Self::TimedOut(op) => PodFailure::timeout(op),
        }
    }

    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Self::Failed(ProviderError::NotFound(_)))
    }
}

/// An event waiting to be published.
struct PendingEvent {
    /// Only the reference: holding the pod would pin stale versions of it in memory.
    regarding: k8s_openapi::api::core::v1::ObjectReference,
    type_: EventType,
    reason: String,
    note: String,
    action: &'static str,
}

/// Shared by the controller's tasks.
pub(crate) struct Inner {
    pub(crate) client: kube::Client,
    pub(crate) provider: SharedProvider,
    pub(crate) settings: Settings,
    pub(crate) metrics: Metrics,
    pub(crate) clock: SharedClock,
    pub(crate) store: PodStore,
    pub(crate) queue: queue::WorkQueue,
    pub(crate) node_name: String,
    pub(crate) host_ip: Option<String>,
    pub(crate) resolver: resolve::Resolver,
    /// Whether the provider pushes status (else it is polled).
    pub(crate) push: std::sync::atomic::AtomicBool,
    pub(crate) states: Mutex<HashMap<PodKey, PodState>>,
    /// Pushed statuses not yet written.
    pub(crate) pushed: Mutex<HashMap<PodKey, Option<PodStatus>>>,
    /// The provider's pods listed at start, consumed as their API pods are seen.
    pub(crate) adopted: Mutex<HashMap<PodKey, ProviderPod>>,
    /// Provider pods found without an API pod for longer than the grace period.
    pub(crate) orphans: Mutex<HashMap<PodKey, ProviderPod>>,
    events: mpsc::Sender<PendingEvent>,
    events_rx: Mutex<Option<mpsc::Receiver<PendingEvent>>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Run a provider call with the timeout, recording latency and errors.
    pub(crate) async fn provider_call<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = crate::provider::Result<T>>,
    ) -> Result<T, CallError> {
        let started = time::Instant::now();
        let out = match time::timeout(self.settings.provider_timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(CallError::Failed(e)),
            Err(_) => Err(CallError::TimedOut(op)),
        };
        self.metrics
            .provider_call(op, started.elapsed().as_secs_f64(), out.is_ok());
        out
    }

    /// Queue an event for `pod`; never blocks (events are dropped when the queue is full).
    pub(crate) fn event(
        &self,
        pod: &Arc<Pod>,
        type_: EventType,
        reason: &str,
        note: impl Into<String>,
        action: &'static str,
    ) {
        let ev = PendingEvent {
            regarding: pod.object_ref(&()),
            type_,
            reason: reason.to_owned(),
            note: note.into(),
            action,
        };
        if self.events.try_send(ev).is_err() {
            tracing::debug!("event queue full; dropping an event");
        }
    }

    pub(crate) fn backoff(&self, key: &PodKey, attempt: u32) -> Duration {
        queue::backoff(
            self.settings.backoff_base,
            self.settings.backoff_max,
            attempt,
            key,
        )
    }
}

/// The pod controller.
pub(crate) struct PodController {
    inner: Arc<Inner>,
}

/// Events buffered before new ones are dropped.
const EVENT_QUEUE: usize = 4096;

impl PodController {
    pub(crate) fn new(
        client: kube::Client,
        provider: SharedProvider,
        node: &NodeConfig,
        settings: Settings,
        metrics: Metrics,
        clock: SharedClock,
        store: PodStore,
    ) -> Self {
        let (events, events_rx) = mpsc::channel(EVENT_QUEUE);
        let inner = Inner {
            resolver: resolve::Resolver {
                client: client.clone(),
                metrics: metrics.clone(),
                provider: provider.clone(),
            },
            client,
            provider,
            settings,
            metrics,
            clock,
            store,
            queue: queue::WorkQueue::default(),
            node_name: node.name.clone(),
            host_ip: node.internal_ip.map(|ip| ip.to_string()),
            push: std::sync::atomic::AtomicBool::new(false),
            states: Mutex::default(),
            pushed: Mutex::default(),
            adopted: Mutex::default(),
            orphans: Mutex::default(),
            events,
            events_rx: Mutex::new(Some(events_rx)),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Run until `shutdown`: adopt, then watch, reconcile, resync and clean up.
    pub(crate) async fn run(
        self,
        writer: PodStoreWriter,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        let inner = self.inner;
        let token = CancellationToken::new();
        tokio::pin!(shutdown);

        // Push or poll.
        let notifier = PodNotifier::new();
        let push = inner.provider.notify_pods(notifier.clone());
        inner.push.store(push, std::sync::atomic::Ordering::Relaxed);

        // Adopt what the provider already runs before anything is created.
        tokio::select! {
            () = &mut shutdown => return,
            () = cleanup::adopt(&inner) => {}
        }

        let mut tasks = JoinSet::new();
        tasks.spawn(watch(Arc::clone(&inner), writer, token.clone()));
        for _ in 0..inner.settings.workers {
            tasks.spawn(worker(Arc::clone(&inner), token.clone(), false));
        }
        // A few workers only for pushed statuses and deletions: they never wait behind
        // creates held up by the provider's rate limits.
        for _ in 0..urgent_workers(inner.settings.workers) {
            tasks.spawn(worker(Arc::clone(&inner), token.clone(), true));
        }
        tasks.spawn(receive_events(
            Arc::clone(&inner),
            notifier.clone(),
            token.clone(),
        ));
        if push {
            tasks.spawn(receive_pushed(Arc::clone(&inner), notifier, token.clone()));
        } else {
            tasks.spawn(poll(Arc::clone(&inner), token.clone()));
        }
        tasks.spawn(cleanup::resync(Arc::clone(&inner), token.clone()));
        tasks.spawn(count_phases(Arc::clone(&inner), token.clone()));
        if let Some(rx) = lock(&inner.events_rx).take() {
            let recorder = Recorder::new(
                inner.client.clone(),
                Reporter {
                    controller: "virtual-kubelet".to_owned(),
                    instance: Some(inner.node_name.clone()),
                },
            );
            tasks.spawn(publish_events(
                Arc::clone(&inner),
                recorder,
                rx,
                token.clone(),
            ));
        }

        shutdown.await;
        token.cancel();
        // Let workers finish the pod they are on, briefly.
        let drained = time::timeout(Duration::from_secs(5), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
        }
    }
}

/// Watch the node's pods into the store and queue every pod that changed.
async fn watch(inner: Arc<Inner>, mut writer: PodStoreWriter, token: CancellationToken) {
    let api: Api<Pod> = Api::all(inner.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", inner.node_name));
    // managedFields are of no use here and can be most of a pod's size.
    let stream = watcher(api, config)
        .default_backoff()
        .modify(|pod| pod.metadata.managed_fields = None)
        .inspect_ok(|event| writer.apply(event));
    tokio::pin!(stream);
    loop {
        let next = tokio::select! {
            () = token.cancelled() => return,
            next = stream.next() => next,
        };
        match next {
            None => return,
            Some(Ok(watcher::Event::Apply(pod) | watcher::Event::Delete(pod))) => {
                // A deletion must not wait behind a burst of creates.
                if pod.metadata.deletion_timestamp.is_some() {
                    inner.queue.add_urgent(PodKey::of(&pod));
                } else {
                    inner.queue.add(PodKey::of(&pod));
                }
            }
            Some(Ok(watcher::Event::InitDone)) => {
                // A (re)list is in the store only now: reconciling its pods earlier would
                // not find those created while the watch was down. Pods deleted meanwhile
                // produce no Delete: look at every pod the controller knows of too.
                let mut keys = inner.store.keys();
                keys.extend(lock(&inner.states).keys().cloned());
                for key in keys {
                    if inner.store.is_deleting(&key) {
                        inner.queue.add_urgent(key);
                    } else {
                        inner.queue.add(key);
                    }
                }
            }
            Some(Ok(watcher::Event::Init | watcher::Event::InitApply(_))) => {}
            Some(Err(e)) => {
                inner.metrics.watch_error();
                tracing::warn!(error = %e, "pod watch failed; retrying with backoff");
            }
        }
    }
}

/// Workers kept for urgent keys, on top of `workers`: a fifth as many, at least 2.
fn urgent_workers(workers: usize) -> usize {
    (workers / 5).max(2)
}

/// Take pods off the queue (only urgent ones with `urgent_only`) and reconcile them.
async fn worker(inner: Arc<Inner>, token: CancellationToken, urgent_only: bool) {
    loop {
        let key = tokio::select! {
            () = token.cancelled() => return,
            key = inner.queue.next() , if !urgent_only => key,
            key = inner.queue.next_urgent(), if urgent_only => key,
        };
        // A panic in one reconcile must not take the worker with it (the pod would never
        // be reconciled again, its deletion included): log it and retry the pod later.
        let requeue = match std::panic::AssertUnwindSafe(controller::reconcile(&inner, &key))
            .catch_unwind()
            .await
        {
            Ok(requeue) => requeue,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(pod = %key, panic = %what, "reconcile panicked; retrying the pod later");
                Some(inner.backoff(&key, 5))
            }
        };
        inner.queue.done(&key);
        if let Some(after) = requeue {
            inner.queue.add_after(key, after);
        }
    }
}

/// Receive pushed statuses: remember the latest per pod and queue the pod after the
/// coalescing interval.
async fn receive_pushed(inner: Arc<Inner>, notifier: PodNotifier, token: CancellationToken) {
    loop {
        let batch = tokio::select! {
            () = token.cancelled() => return,
            batch = notifier.next_batch() => batch,
        };
        let mut pushed = lock(&inner.pushed);
        let keys: Vec<PodKey> = batch
            .into_iter()
            .map(|u| {
                pushed.insert(u.key.clone(), u.status);
                u.key
            })
            .collect();
        drop(pushed);
        for key in keys {
            inner
                .queue
                .add_urgent_after(key, inner.settings.status_coalescing);
        }
    }
}

/// Record the provider's events against their pods (pods the API no longer has are
/// skipped: nobody would see the event).
async fn receive_events(inner: Arc<Inner>, notifier: PodNotifier, token: CancellationToken) {
    loop {
        let events = tokio::select! {
            () = token.cancelled() => return,
            events = notifier.next_events() => events,
        };
        for e in events {
            let Some(pod) = inner.store.get(e.key()) else {
                continue;
            };
            let type_ = if e.is_warning() {
                EventType::Warning
            } else {
                EventType::Normal
            };
            inner.event(&pod, type_, e.reason(), e.message(), "Provider");
        }
    }
}

/// Queue every pod the provider runs on the poll interval (providers that do not push).
async fn poll(inner: Arc<Inner>, token: CancellationToken) {
    let mut tick = time::interval(inner.settings.status_poll);
    tick.set_missed_tick_behavior(time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        let keys: Vec<PodKey> = lock(&inner.states)
            .iter()
            .filter(|(_, s)| s.created && !s.failed)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            inner.queue.add(key);
        }
    }
}

/// Refresh the pods-by-phase gauge from the store.
async fn count_phases(inner: Arc<Inner>, token: CancellationToken) {
    let mut tick = time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        let counts = ["Pending", "Running", "Succeeded", "Failed", "Unknown"].map(|phase| {
            let n = inner.store.count_phase(phase);
            (phase, i64::try_from(n).unwrap_or(i64::MAX))
        });
        inner.metrics.set_pods_by_phase(&counts);
    }
}

/// Publish queued events, one at a time, so reconciles never wait for them.
async fn publish_events(
    inner: Arc<Inner>,
    recorder: Recorder,
    mut rx: mpsc::Receiver<PendingEvent>,
    token: CancellationToken,
) {
    loop {
        let ev = tokio::select! {
            () = token.cancelled() => return,
            ev = rx.recv() => ev,
        };
        let Some(ev) = ev else { return };
        let event = Event {
            type_: ev.type_,
            reason: ev.reason,
            note: Some(ev.note),
            action: ev.action.to_owned(),
            secondary: None,
        };
        if let Err(e) = api_call(
            &inner.metrics,
            ApiCall::PublishEvent,
            recorder.publish(&event, &ev.regarding),
        )
        .await
        {
            tracing::debug!(error = %e, "publishing an event failed");
        }
    }
}
