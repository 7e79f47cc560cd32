//! The kubelet's words a pod status is written in: phases, reasons, the exit code of a lost
//! container and the condition types [`pod_status`](super::pod_status) owns.

/// Pod phase `Pending`.
pub(super) const PENDING: &str = "Pending";
/// Pod phase `Running`.
pub(super) const RUNNING: &str = "Running";
/// Pod phase `Succeeded`.
pub(super) const SUCCEEDED: &str = "Succeeded";
/// Pod phase `Failed`.
pub(super) const FAILED: &str = "Failed";

/// Reason of a failed group when no ACI event says more.
pub(super) const PROVIDER_FAILED: &str = "ProviderFailed";
/// Waiting reason of a container ACI has not started yet.
pub(super) const CONTAINER_CREATING: &str = "ContainerCreating";
/// Exit code and reason the kubelet uses for a container whose exit status was lost.
pub(super) const UNKNOWN_EXIT_CODE: i32 = 137;
/// See [`UNKNOWN_EXIT_CODE`].
pub(super) const CONTAINER_STATUS_UNKNOWN: &str = "ContainerStatusUnknown";

/// The conditions [`pod_status`](super::pod_status) owns; any other condition on the pod is
/// carried over untouched.
pub(super) const POD_SCHEDULED: &str = "PodScheduled";
/// See [`POD_SCHEDULED`].
pub(super) const INITIALIZED: &str = "Initialized";
/// See [`POD_SCHEDULED`].
pub(super) const CONTAINERS_READY: &str = "ContainersReady";
/// See [`POD_SCHEDULED`].
pub(super) const READY: &str = "Ready";

/// `value` when it is usable as a Kubernetes reason (one CamelCase word), else `None`.
pub(super) fn reason_word(value: &str) -> Option<&str> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric());
    ok.then_some(value)
}
