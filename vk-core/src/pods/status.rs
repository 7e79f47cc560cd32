//! Pod status: provider errors mapped to what the user sees, and status comparison.
//!
//! [`PodFailure`] is the one place a [`ProviderError`] becomes a pod status reason and
//! message (and the event that goes with it).
use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tokio::time::Duration;

use crate::provider::ProviderError;

// === PodFailure ===

/// What the user sees when the runtime could not run a pod (yet): a CamelCase reason and a
/// message, and whether the pod is done for (`Failed`) or waits for a retry (`Pending`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodFailure {
    reason: String,
    message: String,
    terminal: bool,
    retry_after: Option<Duration>,
}

impl PodFailure {
    /// A failure that ends the pod: phase `Failed`.
    pub fn terminal(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            message: message.into(),
            terminal: true,
            retry_after: None,
        }
    }

    /// A failure that is retried: the pod stays `Pending` and shows the reason meanwhile.
    pub fn retry(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            message: message.into(),
            terminal: false,
            retry_after: None,
        }
    }

    /// DaemonSet pods are refused: a DaemonSet means "one per machine", which a virtual
    /// node is not.
    #[must_use]
    pub fn daemonset() -> Self {
        Self::terminal(
            "DaemonSetNotSupported",
            "DaemonSet pods are not scheduled to virtual nodes",
        )
    }

    /// The provider did not answer `op` within the runtime's timeout.
    #[must_use]
    pub fn timeout(op: &str) -> Self {
        Self::retry(
            "ProviderTimeout",
            format!("the provider did not finish {op} in time; retrying"),
        )
    }

    /// The CamelCase reason.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The message for the user.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the pod is marked `Failed` (no retry).
    #[must_use]
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// When to retry, if the provider said.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl From<&ProviderError> for PodFailure {
    fn from(e: &ProviderError) -> Self {
        match e {
            ProviderError::Unsupported { reason, message } => {
                Self::terminal(reason.clone(), message.clone())
            }
            ProviderError::InvalidInput(message) => {
                Self::terminal("ProviderInvalidInput", message.clone())
            }
            ProviderError::Transient {
                reason,
                message,
                retry_after,
                ..
            } => Self {
                retry_after: *retry_after,
                ..Self::retry(reason.clone(), message.clone())
            },
            ProviderError::NotFound(what) => {
                Self::retry("ProviderNotFound", format!("not found: {what}"))
            }
            ProviderError::Other(source) => {
                Self::retry("ProviderError", crate::error_chain(source.as_ref()))
            }
        }
    }
}

// === Status documents ===

/// The status of a pod the runtime gave up on: phase `Failed` with the reason and message.
#[must_use]
pub(crate) fn failed_status(current: Option<&PodStatus>, failure: &PodFailure) -> PodStatus {
    PodStatus {
        phase: Some("Failed".to_owned()),
        reason: Some(failure.reason.clone()),
        message: Some(failure.message.clone()),
        host_ip: current.and_then(|s| s.host_ip.clone()),
        host_ips: current.and_then(|s| s.host_ips.clone()),
        start_time: current.and_then(|s| s.start_time.clone()),
        qos_class: current.and_then(|s| s.qos_class.clone()),
        ..PodStatus::default()
    }
}

/// The status of a pod waiting for a retry: still `Pending`, with the reason and message
/// on the status and on a `ContainersReady=False` condition.
#[must_use]
pub(crate) fn pending_status(
    current: Option<&PodStatus>,
    failure: &PodFailure,
    now: jiff::Timestamp,
) -> PodStatus {
    let mut status = current.cloned().unwrap_or_default();
    status.phase = Some("Pending".to_owned());
    status.reason = Some(failure.reason.clone());
    status.message = Some(failure.message.clone());
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    conditions.retain(|c| c.type_ != "ContainersReady");
    conditions.push(PodCondition {
        type_: "ContainersReady".to_owned(),
        status: "False".to_owned(),
        reason: Some(failure.reason.clone()),
        message: Some(failure.message.clone()),
        last_transition_time: Some(Time(now)),
        ..PodCondition::default()
    });
    status
}

/// Fill in what the runtime knows and the provider may not: the host IP and, from the
/// current status, start time and QoS class.
pub(crate) fn complete(status: &mut PodStatus, current: Option<&PodStatus>, host_ip: Option<&str>) {
    if status.host_ip.is_none() {
        status.host_ip = host_ip.map(str::to_owned);
    }
    if let Some(current) = current {
        if status.start_time.is_none() {
            status.start_time.clone_from(&current.start_time);
        }
        if status.qos_class.is_none() {
            status.qos_class.clone_from(&current.qos_class);
        }
    }
}

/// A status with list order and empty-vs-absent noise removed, for comparison.
fn normalized(status: &PodStatus) -> PodStatus {
    let mut s = status.clone();
    if let Some(c) = s.conditions.as_mut() {
        c.sort_by(|a, b| a.type_.cmp(&b.type_));
    }
    for list in [
        &mut s.container_statuses,
        &mut s.init_container_statuses,
        &mut s.ephemeral_container_statuses,
    ] {
        if let Some(l) = list.as_mut() {
            l.sort_by(|a, b| a.name.cmp(&b.name));
        }
        if list.as_ref().is_some_and(Vec::is_empty) {
            *list = None;
        }
    }
    if s.conditions.as_ref().is_some_and(Vec::is_empty) {
        s.conditions = None;
    }
    if s.pod_ips.as_ref().is_some_and(Vec::is_empty) {
        s.pod_ips = None;
    }
    if s.host_ips.as_ref().is_some_and(Vec::is_empty) {
        s.host_ips = None;
    }
    s
}

/// Whether writing `desired` over `current` would change anything a reader can see.
#[must_use]
pub(crate) fn differs(current: Option<&PodStatus>, desired: &PodStatus) -> bool {
    let current = current.map(normalized).unwrap_or_default();
    current != normalized(desired)
}

/// A JSON merge patch that makes the pod's status `desired`: fields of `current` that
/// `desired` lacks are nulled, lists are replaced whole.
#[must_use]
pub(crate) fn merge_patch(current: Option<&PodStatus>, desired: &PodStatus) -> serde_json::Value {
    let mut body = serde_json::to_value(desired).unwrap_or_default();
    if let (Some(current), Some(obj)) = (
        current.and_then(|c| serde_json::to_value(c).ok()),
        body.as_object_mut(),
    ) && let Some(cur) = current.as_object()
    {
        for key in cur.keys() {
            if !obj.contains_key(key) {
                obj.insert(key.clone(), serde_json::Value::Null);
            }
        }
    }
    serde_json::json!({ "status": body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ContainerStatus;

    #[test]
    fn unsupported_errors_fail_the_pod_with_the_providers_words() {
        let f = PodFailure::from(&ProviderError::unsupported(
            "GPUs of type x are not offered",
        ));
        assert!(f.is_terminal());
        assert_eq!(f.reason(), "ProviderUnsupported");
        assert_eq!(f.message(), "GPUs of type x are not offered");
    }

    #[test]
    fn transient_errors_keep_the_pod_pending_and_carry_the_delay() {
        let e = ProviderError::Transient {
            reason: "QuotaExceeded".into(),
            message: "regional quota reached".into(),
            retry_after: Some(Duration::from_secs(30)),
            source: None,
        };
        let f = PodFailure::from(&e);
        assert!(!f.is_terminal());
        assert_eq!(f.retry_after(), Some(Duration::from_secs(30)));
        let s = pending_status(None, &f, "2026-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        assert_eq!(s.reason.as_deref(), Some("QuotaExceeded"));
        let c = &s.conditions.unwrap()[0];
        assert_eq!(c.message.as_deref(), Some("regional quota reached"));
    }

    #[test]
    fn other_errors_show_their_whole_chain() {
        let io = std::io::Error::other("connection reset");
        let e = ProviderError::Other(Box::new(io));
        assert_eq!(PodFailure::from(&e).message(), "connection reset");
    }

    #[test]
    fn reordered_lists_are_not_a_change() {
        let cs = |n: &str| ContainerStatus {
            name: n.to_owned(),
            ..ContainerStatus::default()
        };
        let a = PodStatus {
            phase: Some("Running".into()),
            container_statuses: Some(vec![cs("a"), cs("b")]),
            ..PodStatus::default()
        };
        let b = PodStatus {
            container_statuses: Some(vec![cs("b"), cs("a")]),
            conditions: Some(vec![]),
            ..a.clone()
        };
        assert!(!differs(Some(&a), &b));
        let c = PodStatus {
            phase: Some("Succeeded".into()),
            ..a.clone()
        };
        assert!(differs(Some(&a), &c));
    }

    #[test]
    fn merge_patch_nulls_fields_the_new_status_drops() {
        let current = PodStatus {
            phase: Some("Pending".into()),
            reason: Some("QuotaExceeded".into()),
            ..PodStatus::default()
        };
        let desired = PodStatus {
            phase: Some("Running".into()),
            ..PodStatus::default()
        };
        let p = merge_patch(Some(&current), &desired);
        assert_eq!(p["status"]["phase"], "Running");
        assert!(p["status"]["reason"].is_null());
        assert!(p["status"].as_object().unwrap().contains_key("reason"));
    }
}
