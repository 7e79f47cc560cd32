//! The [`Provider`] trait a backend implements to become a virtual node, and its error type.
//!
//! The shape follows the Go virtual-kubelet's `PodLifecycleHandler` + `PodNotifier` +
//! `NodeProvider`, plus the streaming calls behind `kubectl logs/exec/attach/port-forward`
//! and `kubectl top`. Only the pod lifecycle calls are required; every streaming and
//! statistics call has a default that answers [`ProviderError::Unsupported`].
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, Pod, PodStatus};

mod error;
mod notifier;
mod pod;
mod stats;
mod streaming;
mod volume_secrets;

pub use error::{BoxError, ProviderError, Result};
pub use notifier::{PodNotifier, PodStatusUpdate, PodUpdates, ProviderEvent};
pub use pod::{PodKey, PodResources, ProviderPod};
pub use stats::{ContainerStats, PodStats};
pub use streaming::{BoxRead, BoxWrite, DuplexIo, ExecIo, LogOptions, LogStream, TerminalSize};
pub use volume_secrets::csi_secret_refs;

// === Provider ===

/// A backend that runs pods: implement this and hand it to the runtime.
///
/// Calls may run concurrently for different pods; the runtime never runs two lifecycle
/// calls for the same pod at once. Every call should finish in bounded time (the runtime
/// also applies its own timeouts: 2 minutes per lifecycle call by default, see
/// [`RuntimeBuilder::provider_timeout`](crate::RuntimeBuilder::provider_timeout)).
///
/// # Who does what
///
/// - **The runtime** watches the pods bound to the node, resolves what they reference
///   ([`PodResources`]), calls [`create_pod`](Self::create_pod) once per pod UID,
///   [`update_pod`](Self::update_pod) when the spec changes and
///   [`delete_pod`](Self::delete_pod) when the pod is deleted, retries
///   [`ProviderError::Transient`] errors with backoff, turns other errors into a
///   `Failed` pod with the error's reason and message (and an event), writes only the
///   status fields that changed, and after a deletion writes the terminal status and
///   removes the pod.
/// - **The provider** runs the pod and reports its status. `restartPolicy` is the
///   backend's: the runtime never restarts containers, it reports what
///   [`pod_status`](Self::pod_status) says (restart counts, `waiting`/`terminated`
///   states, and a `Succeeded` or `Failed` phase once a `Never` or `OnFailure` pod is
///   done). A backend that cannot honour a pod's restart policy refuses the pod with
///   [`ProviderError::unsupported`].
///
/// # What `pod_status` fills in
///
/// The status the backend sees, as a kubelet would write it:
/// - `phase` (`Pending`, `Running`, `Succeeded`, `Failed`);
/// - `conditions`: `PodScheduled`, `PodReadyToStartContainers`, `Initialized`,
///   `ContainersReady` and `Ready` with their `status` and `lastTransitionTime` (the
///   status replaces the pod's whole status, so the scheduler's `PodScheduled` is
///   repeated);
/// - `containerStatuses` (and `initContainerStatuses`) with `name`, `image`, `imageID`,
///   `ready`, `started`, `restartCount` and `state` (`waiting` with a reason, `running`
///   with `startedAt`, `terminated` with `exitCode`, `reason`, `startedAt`, `finishedAt`);
/// - `podIP`/`podIPs` once the pod has an address.
///
/// The runtime adds `hostIP` (the node's InternalIP) when it is missing and keeps
/// `startTime` and `qosClass` from the current status when the provider leaves them out.
/// `None` means the backend has no such pod: for a pod it created, the runtime reads
/// again to be sure, then marks the pod `Failed` (`ProviderPodNotFound`), as the Go
/// virtual-kubelet does.
///
/// # Streaming calls
///
/// [`logs`](Self::logs), [`exec`](Self::exec), [`attach`](Self::attach) and
/// [`port_forward`](Self::port_forward) serve `kubectl logs/exec/attach/port-forward`
/// through the kubelet API, after authentication and authorization. An error before any
/// output reaches kubectl as an HTTP error with the error's message; an error from a
/// running exec reaches it on the error stream (`error: <message>`), and a non-zero exit
/// code as `command terminated with exit code N`.
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

    /// The pod's current status as the backend sees it, or `None` when it has no such pod
    /// (see [What `pod_status` fills in](Self#what-pod_status-fills-in)).
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
        csi_secret_refs(pv, namespace)
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

    /// A container's logs, as a stream of bytes (lines ending in `\n`).
    ///
    /// Honour `follow` (keep the stream open and send new lines until the client goes),
    /// `tail_lines`, `since` and `timestamps` (each line prefixed with its RFC 3339 time
    /// and a space); answer [`ProviderError::unsupported`] for `previous` when the backend
    /// keeps no logs of a previous instance. `limit_bytes` is enforced by the server as
    /// well, so a provider may ignore it. A follow stream ends when the client
    /// disconnects: the server drops it.
    async fn logs(&self, key: &PodKey, container: &str, opts: &LogOptions) -> Result<LogStream> {
        let _ = (key, container, opts);
        Err(ProviderError::unsupported(
            "this provider does not serve container logs",
        ))
    }

    /// Run `command` in a container and return its exit code.
    ///
    /// The I/O contract ([`ExecIo`]): `stdin` reads what the user types until they close it
    /// (end of file); write the command's output to `stdout` and `stderr` and drop (or shut
    /// down) them when it ends: the server closes the client's streams once the writers
    /// are gone and this call returned, waiting at most 5 s for output still in flight.
    /// With `tty`, `stderr` is `None` (the terminal merges it into `stdout`) and `resize`
    /// yields the terminal size, first the initial one, then every change. Return
    /// `Ok(code)` for a command that ran (kubectl exits with `code`), an error when it
    /// could not run.
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

    /// Attach to a container's main process and return its exit code when it ends; the
    /// I/O contract is [`exec`](Self::exec)'s.
    async fn attach(&self, key: &PodKey, container: &str, io: ExecIo) -> Result<i32> {
        let _ = (key, container, io);
        Err(ProviderError::unsupported(
            "this provider does not support attach",
        ))
    }

    /// Whether [`port_forward`](Self::port_forward) is implemented (default `false`).
    /// When it is not, the kubelet API answers `/portForward` with a clear error before
    /// any upgrade, which kubectl shows.
    fn supports_port_forward(&self) -> bool {
        false
    }

    /// Forward one connection to `port` in the pod (see
    /// [`supports_port_forward`](Self::supports_port_forward)).
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
        let (n, updates) = PodNotifier::channel();
        let key = PodKey::new("default", "a");
        n.notify(key.clone(), None);
        n.notify(key.clone(), Some(PodStatus::default()));
        n.notify(PodKey::new("default", "b"), None);
        let mut batch = updates.next_batch().await;
        batch.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].key, key);
        assert!(batch[0].status.is_some(), "the latest update wins");
        assert!(updates.drain().is_empty());
    }

    #[tokio::test]
    async fn provider_events_should_come_out_in_order() {
        let (n, updates) = PodNotifier::channel();
        let key = PodKey::new("default", "a");
        n.event(ProviderEvent::warning(
            key.clone(),
            "FailedPostStartHook",
            "m1",
        ));
        n.event(ProviderEvent::normal(key.clone(), "Other", "m2"));
        let events = updates.next_events().await;
        assert_eq!(events.len(), 2);
        assert!(events[0].is_warning() && events[0].reason() == "FailedPostStartHook");
        assert!(!events[1].is_warning() && events[1].message() == "m2");
        assert!(updates.drain().is_empty(), "events are not status updates");
    }

    #[test]
    fn only_transient_and_other_errors_are_retryable() {
        assert!(ProviderError::transient("Throttled", "slow down").is_retryable());
        assert!(!ProviderError::unsupported("no").is_retryable());
        assert!(!ProviderError::not_found("x").is_retryable());
    }
}
