//! The [`Provider`] trait a backend implements to become a virtual node, and its error type.
//!
//! The shape follows the Go virtual-kubelet's `PodLifecycleHandler` + `PodNotifier` +
//! `NodeProvider`, plus the streaming calls behind `kubectl logs/exec/attach/port-forward`
//! and `kubectl top`. Only the pod lifecycle calls are required; every streaming and
//! statistics call has a default that answers [`ProviderError::Unsupported`].
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ConfigMap, Node, PersistentVolume, PersistentVolumeClaim, Pod, PodStatus, Secret,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, mpsc};
use tokio::time::Duration;

/// A boxed error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result of a provider call.
pub type Result<T, E = ProviderError> = std::result::Result<T, E>;

// === ProviderError ===

/// Why a provider call failed. The class decides what the runtime does next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The pod or container does not exist in the backend. On delete this counts as done;
    /// on status it means the backend lost the pod.
    #[error("not found: {0}")]
    NotFound(String),

    /// The backend cannot run this pod as specified. The runtime marks the pod `Failed`
    /// with `reason` and `message` and records an event; it is not retried.
    #[error("{reason}: {message}")]
    Unsupported {
        /// A CamelCase reason for the pod status and event, e.g. `ProviderUnsupported`.
        reason: String,
        /// What the user should know and change.
        message: String,
    },

    /// The request itself is malformed (for example a bad exec command). Not retried.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A temporary failure (throttling, a quota window, a network error). The runtime
    /// retries, after `retry_after` when given, and shows `reason`/`message` on the pod
    /// while it stays `Pending`.
    #[error("{reason}: {message}")]
    Transient {
        /// A CamelCase reason, e.g. `ProviderThrottled` or `QuotaExceeded`.
        reason: String,
        /// What is happening, for the pod status message and the event.
        message: String,
        /// When to try again, if the backend said.
        retry_after: Option<Duration>,
        /// The underlying cause.
        #[source]
        source: Option<BoxError>,
    },

    /// Any other failure. Retried with backoff.
    #[error("provider error")]
    Other(#[source] BoxError),
}

impl ProviderError {
    /// A not-found error for `what`.
    pub fn not_found(what: impl fmt::Display) -> Self {
        Self::NotFound(what.to_string())
    }

    /// An unsupported-pod error with the default reason `ProviderUnsupported`.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::Unsupported {
            reason: "ProviderUnsupported".to_owned(),
            message: message.into(),
        }
    }

    /// A transient error with a reason and message and no delay hint.
    pub fn transient(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Transient {
            reason: reason.into(),
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// Whether the runtime should try the call again later.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::Other(_))
    }
}

// === Inputs ===

/// Namespace and name of a pod: the key the runtime and providers share.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodKey {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
}

impl PodKey {
    /// A key from namespace and name.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of a pod object (empty strings where metadata is missing).
    #[must_use]
    pub fn of(pod: &Pod) -> Self {
        Self::new(
            pod.metadata.namespace.clone().unwrap_or_default(),
            pod.metadata.name.clone().unwrap_or_default(),
        )
    }
}

impl fmt::Display for PodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The objects a pod references, resolved by the runtime before it calls the provider,
/// so providers never read the API server themselves.
#[derive(Clone, Debug, Default)]
pub struct PodResources {
    /// Secrets by name (env `secretKeyRef`/`envFrom`, secret volumes, projected sources,
    /// image pull secrets).
    pub secrets: BTreeMap<String, Secret>,
    /// ConfigMaps by name.
    pub config_maps: BTreeMap<String, ConfigMap>,
    /// Service account tokens for projected `serviceAccountToken` sources, keyed by
    /// `"<volume name>/<path>"`.
    pub service_account_tokens: BTreeMap<String, String>,
    /// The PersistentVolumeClaims of the pod's `persistentVolumeClaim` volumes, by name
    /// (they live in the pod's namespace). The runtime only calls the provider once every
    /// claim is Bound: a missing or unbound claim keeps the pod Pending.
    pub persistent_volume_claims: BTreeMap<String, PersistentVolumeClaim>,
    /// The PersistentVolumes those claims are bound to, by name.
    pub persistent_volumes: BTreeMap<String, PersistentVolume>,
    /// The Secrets the PersistentVolumes name ([`Provider::volume_secrets`]), keyed by
    /// `"<namespace>/<name>"` (a PV's Secret may live in another namespace).
    pub volume_secrets: BTreeMap<String, Secret>,
}

/// What the provider reports about one of its pods when listing them (adoption after a
/// restart, orphan clean-up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderPod {
    /// Namespace and name of the pod it runs.
    pub key: PodKey,
    /// The UID of the pod it was created for, when the backend recorded it.
    pub uid: Option<String>,
    /// When the backend created it, if known (orphans are only removed after a grace period).
    pub created: Option<Timestamp>,
}

// === Status notifications ===

/// A status change pushed by the provider.
#[derive(Clone, Debug)]
pub struct PodStatusUpdate {
    /// The pod.
    pub key: PodKey,
    /// Its new status; `None` means the backend no longer has the pod.
    pub status: Option<PodStatus>,
}

/// Handed to [`Provider::notify_pods`]: the provider calls [`PodNotifier::notify`] whenever
/// a pod's status changes. Updates for the same pod coalesce (the latest wins), so the
/// notifier never blocks and holds at most one pending update per pod.
#[derive(Clone, Debug, Default)]
pub struct PodNotifier {
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
    /// A new notifier with nothing pending.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a status change for `key`.
    pub fn notify(&self, key: PodKey, status: Option<PodStatus>) {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, status);
        self.inner.wake.notify_one();
    }

    /// Take every pending update (runtime side). Waits until there is at least one.
    pub async fn next_batch(&self) -> Vec<PodStatusUpdate> {
        loop {
            let batch = self.drain();
            if !batch.is_empty() {
                return batch;
            }
            self.inner.wake.notified().await;
        }
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

    /// Take every pending event (runtime side), in the order they were sent. Waits until
    /// there is at least one.
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

// === Streaming ===

/// A stream of log bytes.
pub type LogStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Input to a container (stdin).
pub type BoxRead = Pin<Box<dyn AsyncRead + Send>>;

/// Output of a container (stdout, stderr).
pub type BoxWrite = Pin<Box<dyn AsyncWrite + Send>>;

/// Options of `GET /containerLogs`, as `kubectl logs` sends them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep the stream open and send new lines as they come.
    pub follow: bool,
    /// Only the last N lines.
    pub tail_lines: Option<u64>,
    /// Prefix each line with an RFC 3339 timestamp.
    pub timestamps: bool,
    /// Only lines at or after this time (`sinceSeconds` is converted by the server).
    pub since: Option<Timestamp>,
    /// Stop after this many bytes.
    pub limit_bytes: Option<u64>,
    /// Logs of the previous instance of the container.
    pub previous: bool,
}

/// A terminal size, from the remotecommand resize channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct TerminalSize {
    /// Columns.
    #[serde(rename = "Width")]
    pub width: u16,
    /// Rows.
    #[serde(rename = "Height")]
    pub height: u16,
}

/// The streams of an exec or attach session. Absent streams were not requested.
pub struct ExecIo {
    /// Data the user types (`kubectl exec -i`).
    pub stdin: Option<BoxRead>,
    /// Where the container's stdout goes.
    pub stdout: Option<BoxWrite>,
    /// Where the container's stderr goes (absent with a TTY: it is merged into stdout).
    pub stderr: Option<BoxWrite>,
    /// Whether a TTY was requested (`kubectl exec -t`).
    pub tty: bool,
    /// Terminal size changes, the first one being the initial size.
    pub resize: Option<mpsc::Receiver<TerminalSize>>,
}

impl fmt::Debug for ExecIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecIo")
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("tty", &self.tty)
            .field("resize", &self.resize.is_some())
            .finish()
    }
}

/// A bidirectional byte stream (port-forward data).
pub trait DuplexIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> DuplexIo for T {}

// === Node and statistics ===

/// Resource statistics of one container, for `/stats/summary` and `/metrics/resource`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerStats {
    /// Container name.
    pub name: String,
    /// When the container started.
    pub start_time: Option<Timestamp>,
    /// CPU usage in nanocores.
    pub cpu_usage_nano_cores: Option<u64>,
    /// Cumulative CPU time in core-nanoseconds.
    pub cpu_usage_core_nano_seconds: Option<u64>,
    /// Working set memory in bytes.
    pub memory_working_set_bytes: Option<u64>,
    /// When the values above were measured; `None`: now. A backend that reads usage from a
    /// metrics service gives the end of the data's window, so rates computed between two
    /// scrapes (metrics-server divides the CPU counter's change by the change of this time)
    /// are right even when a scrape returns the same data twice.
    pub time: Option<Timestamp>,
}

/// Resource statistics of one pod.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodStats {
    /// The pod.
    pub key: PodKey,
    /// Its UID.
    pub uid: String,
    /// When it started.
    pub start_time: Option<Timestamp>,
    /// Its containers.
    pub containers: Vec<ContainerStats>,
    /// Network bytes received, if known.
    pub rx_bytes: Option<u64>,
    /// Network bytes sent, if known.
    pub tx_bytes: Option<u64>,
}

// === Provider ===

/// A backend that runs pods: implement this and hand it to the runtime.
///
/// Calls may run concurrently for different pods; the runtime never runs two lifecycle
/// calls for the same pod at once. Every call should finish in bounded time (the runtime
/// also applies its own timeouts).
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Short provider name for the taint value, node labels and events (e.g. `azure`).
    fn name(&self) -> &str;

    /// Create the pod in the backend. Called once per pod UID; after a restart the runtime
    /// first lists the provider's pods and does not create those it already has.
    async fn create_pod(&self, pod: &Pod, resources: &PodResources) -> Result<()>;

    /// Apply a spec change of a running pod (image updates, for instance). Return
    /// [`ProviderError::Unsupported`] for changes the backend cannot make in place.
    async fn update_pod(&self, pod: &Pod, resources: &PodResources) -> Result<()>;

    /// Delete the pod from the backend. Deleting a pod the backend does not have is
    /// success (or [`ProviderError::NotFound`], which the runtime treats as success).
    async fn delete_pod(&self, pod: &Pod) -> Result<()>;

    /// The pod's current status as the backend sees it, or `None` when it has no such pod.
    async fn pod_status(&self, key: &PodKey) -> Result<Option<PodStatus>>;

    /// Every pod the backend runs for this node.
    async fn list_pods(&self) -> Result<Vec<ProviderPod>>;

    /// Register for pushed status changes (and [`PodNotifier::event`]s). A provider that
    /// pushes returns `true` and keeps the notifier; one that returns `false` (the default)
    /// is polled with [`Provider::pod_status`] instead, and may still keep the notifier to
    /// send events.
    fn notify_pods(&self, notifier: PodNotifier) -> bool {
        let _ = notifier;
        false
    }

    /// The Secrets (`(namespace, name)`) the runtime reads for a PersistentVolume a pod of
    /// `namespace` mounts, handed back in [`PodResources::volume_secrets`]. The default
    /// names the CSI `nodeStageSecretRef` and `nodePublishSecretRef`; a backend whose
    /// volume drivers find their credentials elsewhere (a driver's default Secret name)
    /// says so here. A Secret listed but missing keeps the pod Pending.
    fn volume_secrets(&self, pv: &PersistentVolume, namespace: &str) -> Vec<(String, String)> {
        crate::pods::claims::csi_secret_refs(pv, namespace)
    }

    /// Decorate the Node before it is registered and on every status update: capacity,
    /// allocatable, extra labels, node info. The runtime has already set name, labels,
    /// taints, addresses and the kubelet endpoint.
    fn configure_node(&self, node: &mut Node) {
        let _ = node;
    }

    /// Whether the backend is healthy; the Node's Ready condition follows it.
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    /// A container's logs.
    async fn logs(&self, key: &PodKey, container: &str, opts: &LogOptions) -> Result<LogStream> {
        let _ = (key, container, opts);
        Err(ProviderError::unsupported(
            "this provider does not serve container logs",
        ))
    }

    /// Run `command` in a container and return its exit code.
    async fn exec(
        &self,
        key: &PodKey,
        container: &str,
        command: &[String],
        io: ExecIo,
    ) -> Result<i32> {
        let _ = (key, container, command, io);
        Err(ProviderError::unsupported(
            "this provider does not support exec",
        ))
    }

    /// Attach to a container's main process and return its exit code when it ends.
    async fn attach(&self, key: &PodKey, container: &str, io: ExecIo) -> Result<i32> {
        let _ = (key, container, io);
        Err(ProviderError::unsupported(
            "this provider does not support attach",
        ))
    }

    /// Forward one connection to `port` in the pod.
    async fn port_forward(&self, key: &PodKey, port: u16, stream: Box<dyn DuplexIo>) -> Result<()> {
        let _ = (key, port, stream);
        Err(ProviderError::unsupported(
            "this provider does not support port-forward",
        ))
    }

    /// Resource statistics of every running pod, for `kubectl top` and metrics-server.
    async fn stats(&self) -> Result<Vec<PodStats>> {
        Err(ProviderError::unsupported(
            "this provider does not report statistics",
        ))
    }
}

/// A provider shared by the runtime's tasks.
pub type SharedProvider = Arc<dyn Provider>;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn shared_provider_is_send_and_sync() {
        assert_send_sync::<SharedProvider>();
        assert_send_sync::<PodNotifier>();
    }

    #[tokio::test]
    async fn notifier_coalesces_updates_for_the_same_pod() {
        let n = PodNotifier::new();
        let key = PodKey::new("default", "a");
        n.notify(key.clone(), None);
        n.notify(key.clone(), Some(PodStatus::default()));
        n.notify(PodKey::new("default", "b"), None);
        let mut batch = n.next_batch().await;
        batch.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].key, key);
        assert!(batch[0].status.is_some(), "the latest update wins");
        assert!(n.drain().is_empty());
    }

    #[tokio::test]
    async fn provider_events_should_come_out_in_order() {
        let n = PodNotifier::new();
        let key = PodKey::new("default", "a");
        n.event(ProviderEvent::warning(
            key.clone(),
            "FailedPostStartHook",
            "m1",
        ));
        n.event(ProviderEvent::normal(key.clone(), "Other", "m2"));
        let events = n.next_events().await;
        assert_eq!(events.len(), 2);
        assert!(events[0].is_warning() && events[0].reason() == "FailedPostStartHook");
        assert!(!events[1].is_warning() && events[1].message() == "m2");
        assert!(n.drain().is_empty(), "events are not status updates");
    }

    #[test]
    fn only_transient_and_other_errors_are_retryable() {
        assert!(ProviderError::transient("Throttled", "slow down").is_retryable());
        assert!(!ProviderError::unsupported("no").is_retryable());
        assert!(!ProviderError::not_found("x").is_retryable());
    }
}
