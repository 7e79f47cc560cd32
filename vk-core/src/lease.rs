//! The node Lease in `kube-node-lease`, renewed on a timer.
//!
//! Like the kubelet: the Lease is named after the Node, owned by it (so it goes when the
//! Node goes), renewed every 10 s with a 40 s duration (kubelet `nodeLeaseDurationSeconds`
//! = 40, renew interval = 1/4 of it, `pkg/kubelet/kubelet.go`), recreated when deleted, and
//! on a write conflict re-read and written again.
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};
use tokio::time::{self, Duration};

use crate::api_call::{ApiCall, api_call};
use crate::clock::SharedClock;
use crate::error::RuntimeError;
use crate::metrics::Metrics;

/// The namespace node Leases live in.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// The kubelet's `nodeLeaseDurationSeconds` default.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(40);

/// The kubelet renews at a quarter of the duration (`NodeLeaseRenewIntervalFraction` 0.25).
pub const DEFAULT_RENEW_INTERVAL: Duration = Duration::from_secs(10);

/// Keeps the node Lease renewed.
pub(crate) struct LeaseController {
    pub(crate) api: Api<Lease>,
    pub(crate) node_name: String,
    pub(crate) node_uid: String,
    pub(crate) clock: SharedClock,
    pub(crate) metrics: Metrics,
    pub(crate) duration: Duration,
    pub(crate) renew_interval: Duration,
}

/// The Lease as it should be after a renewal: `existing` (when there is one) with the
/// holder, duration and renew time set and the owner reference to the Node in place.
#[must_use]
pub fn renewed_lease(
    existing: Option<Lease>,
    node_name: &str,
    node_uid: &str,
    duration: Duration,
    now: jiff::Timestamp,
) -> Lease {
    let mut lease = existing.unwrap_or_else(|| Lease {
        metadata: ObjectMeta {
            name: Some(node_name.to_owned()),
            namespace: Some(LEASE_NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        spec: None,
    });
    if !node_uid.is_empty() {
        let owner = OwnerReference {
            api_version: "v1".to_owned(),
            kind: "Node".to_owned(),
            name: node_name.to_owned(),
            uid: node_uid.to_owned(),
            ..OwnerReference::default()
        };
        let owners = lease.metadata.owner_references.get_or_insert_with(Vec::new);
        if !owners.iter().any(|o| o.uid == node_uid) {
            owners.push(owner);
        }
    }
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = Some(node_name.to_owned());
    spec.lease_duration_seconds = Some(i32::try_from(duration.as_secs()).unwrap_or(i32::MAX));
    spec.renew_time = Some(MicroTime(now));
    lease
}

impl LeaseController {
    /// Renew once: read, then replace (or create when missing). A conflict re-reads and
    /// tries again, a few times.
    pub(crate) async fn renew(&self) -> Result<(), RuntimeError> {
        let mut last = None;
        for _ in 0..3 {
            let existing = api_call(
                &self.metrics,
                ApiCall::ReadLease,
                self.api.get_opt(&self.node_name),
            )
            .await?;
            let create = existing.is_none();
            let lease = renewed_lease(
                existing,
                &self.node_name,
                &self.node_uid,
                self.duration,
                self.clock.now(),
            );
            let result = if create {
                api_call(
                    &self.metrics,
                    ApiCall::WriteLease,
                    self.api.create(&PostParams::default(), &lease),
                )
                .await
            } else {
                api_call(
                    &self.metrics,
                    ApiCall::WriteLease,
                    self.api
                        .replace(&self.node_name, &PostParams::default(), &lease),
                )
                .await
            };
            match result {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() => {
                    tracing::debug!("lease write conflict; re-reading");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(RuntimeError::Unreachable("lease retry loop ran no attempt")))
    }

    /// Renew every `renew_interval` until `shutdown`; failures are logged and retried at a
    /// shorter interval (the kubelet retries with backoff capped at 7 s).
    pub(crate) async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let wait = match self.renew().await {
                Ok(()) => self.renew_interval,
                Err(e) => {
                    tracing::warn!(error = %e, "lease renewal failed");
                    (self.renew_interval / 4).max(Duration::from_millis(50))
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_lease_is_owned_by_the_node_and_held_by_it() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let lease = renewed_lease(None, "vk", "uid-1", DEFAULT_LEASE_DURATION, now);
        assert_eq!(lease.metadata.namespace.as_deref(), Some(LEASE_NAMESPACE));
        let owner = &lease.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Node", "uid-1"));
        let spec = lease.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("vk"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
        assert_eq!(spec.renew_time, Some(MicroTime(now)));
    }

    #[test]
    fn renewal_keeps_resource_version_and_does_not_duplicate_owner() {
        let t0: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: jiff::Timestamp = "2026-01-01T00:00:10Z".parse().unwrap();
        let mut first = renewed_lease(None, "vk", "uid-1", DEFAULT_LEASE_DURATION, t0);
        first.metadata.resource_version = Some("7".to_owned());
        let second = renewed_lease(Some(first), "vk", "uid-1", DEFAULT_LEASE_DURATION, t1);
        assert_eq!(second.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(second.metadata.owner_references.unwrap().len(), 1);
        assert_eq!(second.spec.unwrap().renew_time, Some(MicroTime(t1)));
    }

    #[test]
    fn renew_interval_is_a_quarter_of_the_duration() {
        assert_eq!(DEFAULT_RENEW_INTERVAL * 4, DEFAULT_LEASE_DURATION);
    }
}
