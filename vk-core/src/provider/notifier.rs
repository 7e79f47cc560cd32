//! [`PodNotifier`]: how a provider pushes pod status changes and events to the runtime.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::PodStatus;
use tokio::sync::Notify;

use super::pod::PodKey;

/// A status change pushed by the provider.
#[derive(Clone, Debug)]
pub struct PodStatusUpdate {
    /// The pod.
    pub key: PodKey,
    /// Its new status; `None` means the backend no longer has the pod.
    pub status: Option<PodStatus>,
}

/// Handed to [`Provider::notify_pods`](crate::Provider::notify_pods): the provider calls
/// [`PodNotifier::notify`] whenever a pod's status changes, and [`PodNotifier::event`] to
/// record events. Updates for the same pod coalesce (the latest wins), so the notifier
/// never blocks and holds at most one pending update per pod.
///
/// It is the sending half of [`PodNotifier::channel`]; the runtime holds the receiving
/// half ([`PodUpdates`]). A provider's own tests make a channel to see what it pushes.
#[derive(Clone, Debug)]
pub struct PodNotifier {
    inner: Arc<NotifierInner>,
}

/// The receiving half of [`PodNotifier::channel`]: what the provider pushed, in batches.
#[derive(Debug)]
pub struct PodUpdates {
    inner: Arc<NotifierInner>,
}

#[derive(Debug, Default)]
struct NotifierInner {
    pending: Mutex<HashMap<PodKey, Option<PodStatus>>>,
    wake: Notify,
    events: Mutex<Vec<ProviderEvent>>,
    events_wake: Notify,
}

/// Events a provider may have queued before the runtime takes them; more are dropped
/// (events are best effort, as the kubelet's are).
const MAX_PENDING_EVENTS: usize = 1024;

/// An event a provider records about one of its pods, for what happens in the backend that
/// the pod status cannot say (a failed lifecycle hook, for instance). The runtime writes it
/// against the pod, like its own events; sent with [`PodNotifier::event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderEvent {
    key: PodKey,
    warning: bool,
    reason: String,
    message: String,
}

impl ProviderEvent {
    /// A `Warning` event, e.g. the kubelet's `FailedPostStartHook`.
    pub fn warning(key: PodKey, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key,
            warning: true,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// A `Normal` event.
    pub fn normal(key: PodKey, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            warning: false,
            ..Self::warning(key, reason, message)
        }
    }

    /// The pod it is about.
    #[must_use]
    pub fn key(&self) -> &PodKey {
        &self.key
    }

    /// Whether it is a `Warning` (else `Normal`).
    #[must_use]
    pub fn is_warning(&self) -> bool {
        self.warning
    }

    /// The CamelCase reason.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl PodNotifier {
    /// A notifier and the receiver of what is sent through it, nothing pending.
    #[must_use]
    pub fn channel() -> (Self, PodUpdates) {
        let inner = Arc::new(NotifierInner::default());
        (
            Self {
                inner: Arc::clone(&inner),
            },
            PodUpdates { inner },
        )
    }

    /// Record a status change for `key`; `None` says the backend no longer has the pod.
    pub fn notify(&self, key: PodKey, status: Option<PodStatus>) {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, status);
        self.inner.wake.notify_one();
    }

    /// Record an event about one of the provider's pods (best effort: never blocks, and
    /// drops the event when the runtime has fallen far behind). Providers that do not push
    /// statuses may keep the notifier for events alone.
    pub fn event(&self, event: ProviderEvent) {
        let mut events = self
            .inner
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if events.len() < MAX_PENDING_EVENTS {
            events.push(event);
        }
        drop(events);
        self.inner.events_wake.notify_one();
    }
}

impl PodUpdates {
    /// Take every pending update. Waits until there is at least one.
    pub async fn next_batch(&self) -> Vec<PodStatusUpdate> {
        loop {
            let batch = self.drain();
            if !batch.is_empty() {
                return batch;
            }
            self.inner.wake.notified().await;
        }
    }

    /// Take every pending event, in the order they were sent. Waits until there is at
    /// least one.
    pub async fn next_events(&self) -> Vec<ProviderEvent> {
        loop {
            let events = std::mem::take(
                &mut *self
                    .inner
                    .events
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if !events.is_empty() {
                return events;
            }
            self.inner.events_wake.notified().await;
        }
    }

    /// Take every pending update without waiting.
    #[must_use]
    pub fn drain(&self) -> Vec<PodStatusUpdate> {
        let mut pending = self
            .inner
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending
            .drain()
            .map(|(key, status)| PodStatusUpdate { key, status })
            .collect()
    }
}
