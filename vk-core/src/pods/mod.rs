//! The pod controller: watch pods bound to the node, reconcile them with the provider.
//!
//! - `queue`: the deduplicating work queue (never two workers on one pod), with an urgent
//!   lane for pushed statuses and deletions.
//! - `controller`: the reconcile of one pod (create, update, status, deletion).
//! - `status`: provider errors as pod status ([`PodFailure`]) and status comparison.
//! - `resolve`: the Secrets, ConfigMaps and tokens a pod references.
//! - `cleanup`: adoption of the provider's pods on start and removal of orphans.
//! - [`store`]: the pods bound to the node, kept compact ([`PodStore`]).
//! - `termination`: the last status of a deleted pod (containers terminated).
use std::sync::{Arc, Mutex};

use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{self, Duration};
use tokio_util::sync::CancellationToken;

use crate::api_call::{ApiCall, api_call};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::node::NodeConfig;
use crate::provider::{PodKey, PodNotifier, PodUpdates, SharedProvider};

pub mod claims;
mod cleanup;
mod controller;
pub(crate) mod queue;
mod resolve;
mod state;
mod status;
pub mod store;
mod termination;

pub(crate) use state::Settings;
use state::{Inner, PendingEvent, lock};
pub use status::PodFailure;
pub use store::PodStore;
use store::PodStoreWriter;

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
        let (notifier, updates) = PodNotifier::channel();
        let updates = Arc::new(updates);
        let push = inner.provider.notify_pods(notifier);
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
            Arc::clone(&updates),
            token.clone(),
        ));
        if push {
            tasks.spawn(receive_pushed(Arc::clone(&inner), updates, token.clone()));
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
async fn receive_pushed(inner: Arc<Inner>, updates: Arc<PodUpdates>, token: CancellationToken) {
    loop {
        let batch = tokio::select! {
            () = token.cancelled() => return,
            batch = updates.next_batch() => batch,
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
async fn receive_events(inner: Arc<Inner>, updates: Arc<PodUpdates>, token: CancellationToken) {
    loop {
        let events = tokio::select! {
            () = token.cancelled() => return,
            events = updates.next_events() => events,
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
