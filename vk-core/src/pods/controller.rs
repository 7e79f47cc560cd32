//! The reconcile of one pod: create, update, status, deletion.
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::events::EventType;
use tokio::time::{Duration, Instant};

use tracing::Instrument as _;

use super::state::{CallError, Inner, PodState, lock};
use super::status::{self, PodFailure};
use super::termination;
use crate::api_call::{ApiCall, api_call};
use crate::provider::PodKey;

/// What happens after a reconcile: `None` waits for the next change, `Some(d)` retries.
type Requeue = Option<Duration>;

fn hash_of<T: serde::Serialize>(v: &T) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    serde_json::to_vec(v).unwrap_or_default().hash(&mut h);
    h.finish()
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn is_daemonset_pod(pod: &Pod) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet")
}

/// A minimal pod for calls about a pod the API no longer has.
pub(crate) fn minimal_pod(key: &PodKey, uid: Option<String>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(key.name.clone()),
            namespace: Some(key.namespace.clone()),
            uid,
            ..ObjectMeta::default()
        },
        ..Pod::default()
    }
}

/// Reconcile the pod `key`, in a `reconcile` span carrying the pod's key and UID.
pub(crate) async fn reconcile(inner: &Inner, key: &PodKey) -> Requeue {
    let span = tracing::debug_span!("reconcile", pod = %key, uid = tracing::field::Empty);
    reconcile_pod(inner, key).instrument(span).await
}

async fn reconcile_pod(inner: &Inner, key: &PodKey) -> Requeue {
    let Some(pod) = inner.store.get(key) else {
        return gone(inner, key).await;
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    tracing::Span::current().record("uid", uid.as_str());
    let mut state = lock(&inner.states).get(key).cloned().unwrap_or_default();

    // A new pod under an old name: the provider's pod for the old UID goes first.
    if state.uid != uid {
        if state.created || state.maybe_created {
            let old = minimal_pod(key, Some(state.uid.clone()));
            if let Err(e) = delete_in_provider(inner, &old).await {
                tracing::warn!(pod = %key, error = ?e, "deleting the replaced pod failed");
                return Some(retry(inner, key, &mut state));
            }
        }
        state = PodState {
            uid: uid.clone(),
            ..PodState::default()
        };
    }

    // Adopted pods read their status from the provider once, like freshly created ones.
    let mut fresh = false;
    if !state.created {
        let adopted = lock(&inner.adopted).remove(key);
        if let Some(adopted) = adopted {
            if adopted.uid.as_deref().is_none_or(|u| u == uid) {
                tracing::debug!(pod = %key, "adopted from the provider");
                state.created = true;
                state.spec_hash = hash_of(&pod.spec);
                fresh = true;
            } else {
                let old = minimal_pod(key, adopted.uid.clone());
                if let Err(e) = delete_in_provider(inner, &old).await {
                    tracing::warn!(pod = %key, error = ?e, "deleting a stale provider pod failed");
                    lock(&inner.adopted).insert(key.clone(), adopted);
                    return Some(retry(inner, key, &mut state));
                }
            }
        }
    }

    // An orphan scan found a provider pod of an older pod with this name.
    let orphan = lock(&inner.orphans).remove(key);
    if let Some(orphan) = orphan
        && orphan.uid.as_deref() != Some(uid.as_str())
    {
        let old = minimal_pod(key, orphan.uid.clone());
        if let Err(e) = delete_in_provider(inner, &old).await {
            tracing::warn!(pod = %key, error = ?e, "deleting an orphaned provider pod failed");
        }
    }

    if pod.metadata.deletion_timestamp.is_some() {
        return delete(inner, key, &pod, state).await;
    }
    // A retry is scheduled: changes seen meanwhile (often our own status write) wait for it.
    if let Some(at) = state.not_before {
        if at > Instant::now() {
            save(inner, key, state);
            return None;
        }
        state.not_before = None;
    }
    if state.failed {
        save(inner, key, state);
        return None;
    }

    let requeue = if state.created {
        update_and_sync(inner, key, &pod, &mut state, fresh).await
    } else if is_terminal(&pod) {
        // Finished before the runtime saw it (or before a restart): nothing to run.
        None
    } else {
        create(inner, key, &pod, &mut state).await
    };
    save(inner, key, state);
    requeue
}

fn save(inner: &Inner, key: &PodKey, state: PodState) {
    lock(&inner.states).insert(key.clone(), state);
}

/// The longest wait a provider's hint may impose on a pod (ACI's create quota refills
/// within minutes; a longer hint is an error or a hostile answer).
pub(crate) const MAX_RETRY_HINT: Duration = Duration::from_secs(15 * 60);

/// Count a failure and return the backoff delay.
fn retry(inner: &Inner, key: &PodKey, state: &mut PodState) -> Duration {
    retry_hinted(inner, key, state, None)
}

/// Count a failure and return the delay: the provider's hint, else the backoff. Until then
/// watch events for the pod do not cut the wait short.
fn retry_hinted(
    inner: &Inner,
    key: &PodKey,
    state: &mut PodState,
    hint: Option<Duration>,
) -> Duration {
    // A hint comes from outside (a Retry-After): never longer than MAX_RETRY_HINT, and
    // never an instant the clock cannot represent.
    let d = hint.map_or_else(
        || inner.backoff(key, state.attempts),
        |h| h.min(MAX_RETRY_HINT),
    );
    state.attempts = state.attempts.saturating_add(1);
    state.not_before = Instant::now().checked_add(d);
    save(inner, key, state.clone());
    d
}

/// Create the pod in the provider.
async fn create(inner: &Inner, key: &PodKey, pod: &Arc<Pod>, state: &mut PodState) -> Requeue {
    if is_daemonset_pod(pod) {
        return fail(inner, key, pod, state, &PodFailure::daemonset(), "Create").await;
    }
    let resources = match inner.resolver.resolve(pod).await {
        Ok(r) => r,
        Err(failure) => return wait(inner, key, pod, state, &failure, "Create").await,
    };
    let created = inner
        .provider_call("create_pod", inner.provider.create_pod(pod, &resources))
        .await;
    drop(resources);
    match created {
        Ok(()) => {
            tracing::debug!(pod = %key, "created in the provider");
            state.created = true;
            state.maybe_created = false;
            state.attempts = 0;
            state.spec_hash = hash_of(&pod.spec);
            inner.event(
                pod,
                EventType::Normal,
                "ProviderCreateSuccess",
                format!("created pod in provider {}", inner.provider.name()),
                "Create",
            );
            save(inner, key, state.clone());
            sync_status(inner, pod, state, true).await
        }
        Err(e) => {
            let failure = e.failure();
            // Only a refusal says the backend has nothing; anything else may have landed.
            state.maybe_created |= !failure.is_terminal();
            inner.event(
                pod,
                EventType::Warning,
                "ProviderCreateFailed",
                format!("{}: {}", failure.reason(), failure.message()),
                "Create",
            );
            if failure.is_terminal() {
                fail(inner, key, pod, state, &failure, "Create").await
            } else {
                wait(inner, key, pod, state, &failure, "Create").await
            }
        }
    }
}

/// Mark the pod Failed with `failure` (and a Warning event unless one was just sent).
async fn fail(
    inner: &Inner,
    key: &PodKey,
    pod: &Arc<Pod>,
    state: &mut PodState,
    failure: &PodFailure,
    action: &'static str,
) -> Requeue {
    // A failed create has announced itself already (ProviderCreateFailed).
    if action != "Create" || failure.reason() == PodFailure::daemonset().reason() {
        inner.event(
            pod,
            EventType::Warning,
            failure.reason(),
            failure.message(),
            action,
        );
    }
    let desired = status::failed_status(pod.status.as_ref(), failure);
    match write_status(inner, pod, state, desired).await {
        Ok(()) => {
            state.failed = true;
            None
        }
        Err(()) => Some(retry(inner, key, state)),
    }
}

/// Keep the pod Pending with `failure` visible, and retry later.
async fn wait(
    inner: &Inner,
    key: &PodKey,
    pod: &Arc<Pod>,
    state: &mut PodState,
    failure: &PodFailure,
    action: &'static str,
) -> Requeue {
    let _ = action;
    let desired = status::pending_status(pod.status.as_ref(), failure, inner.clock.now());
    // Only the reason and message matter; the condition's time would make every write new.
    let visible = pod.status.as_ref().is_some_and(|s| {
        s.reason.as_deref() == Some(failure.reason())
            && s.message.as_deref() == Some(failure.message())
    });
    if !visible && write_status(inner, pod, state, desired).await.is_err() {
        tracing::debug!(pod = %key, "writing the pending reason failed");
    }
    Some(retry_hinted(inner, key, state, failure.retry_after()))
}

/// Push spec changes to the provider, then sync status.
async fn update_and_sync(
    inner: &Inner,
    key: &PodKey,
    pod: &Arc<Pod>,
    state: &mut PodState,
    fresh: bool,
) -> Requeue {
    let spec_hash = hash_of(&pod.spec);
    if spec_hash != state.spec_hash {
        let resources = match inner.resolver.resolve(pod).await {
            Ok(r) => r,
            Err(failure) => {
                tracing::warn!(pod = %key, reason = failure.reason(), "resolving for an update failed");
                return Some(retry(inner, key, state));
            }
        };
        match inner
            .provider_call("update_pod", inner.provider.update_pod(pod, &resources))
            .await
        {
            Ok(()) => {
                state.spec_hash = spec_hash;
                state.attempts = 0;
            }
            Err(e) => {
                let failure = e.failure();
                inner.event(
                    pod,
                    EventType::Warning,
                    "ProviderUpdateFailed",
                    format!("{}: {}", failure.reason(), failure.message()),
                    "Update",
                );
                if failure.is_terminal() {
                    // The backend cannot make this change; the running pod stays as it is.
                    state.spec_hash = spec_hash;
                } else {
                    return Some(retry_hinted(inner, key, state, failure.retry_after()));
                }
            }
        }
    }
    sync_status(inner, pod, state, fresh).await
}

/// Bring the API status in line with the provider's.
async fn sync_status(inner: &Inner, pod: &Arc<Pod>, state: &mut PodState, fresh: bool) -> Requeue {
    let key = PodKey::of(pod);
    let push = inner.push.load(Ordering::Relaxed);
    let reported = if push && !fresh {
        match lock(&inner.pushed).remove(&key) {
            Some(s) => s,
            None => return None,
        }
    } else {
        match inner
            .provider_call("pod_status", inner.provider.pod_status(&key))
            .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(pod = %key, error = ?e, "reading status from the provider failed");
                return Some(retry(inner, &key, state));
            }
        }
    };
    // A pushed "gone" may come from a read made for an earlier pod of this name (deleted
    // and recreated meanwhile): ask the provider once more before failing this pod.
    let reported = match reported {
        None if push && !fresh && !is_terminal(pod) => {
            match inner
                .provider_call("pod_status", inner.provider.pod_status(&key))
                .await
            {
                Ok(confirmed) => confirmed,
                Err(e) => {
                    tracing::debug!(pod = %key, error = ?e, "confirming a gone pod with the provider failed");
                    return Some(retry(inner, &key, state));
                }
            }
        }
        other => other,
    };
    let Some(mut desired) = reported else {
        if fresh || is_terminal(pod) {
            return None;
        }
        let failure = PodFailure::terminal(
            "ProviderPodNotFound",
            "the provider no longer has this pod; it may have been deleted from the backend",
        );
        return fail(inner, &key, pod, state, &failure, "Sync").await;
    };
    status::complete(&mut desired, pod.status.as_ref(), inner.host_ip.as_deref());
    match write_status(inner, pod, state, desired.clone()).await {
        Ok(()) => {
            state.attempts = 0;
            None
        }
        Err(()) => {
            if push {
                lock(&inner.pushed)
                    .entry(key.clone())
                    .or_insert(Some(desired));
            }
            Some(retry(inner, &key, state))
        }
    }
}

/// Write `desired` into `pods/status` unless it is what the API (or our last write) has.
async fn write_status(
    inner: &Inner,
    pod: &Pod,
    state: &mut PodState,
    desired: PodStatus,
) -> Result<(), ()> {
    if !status::differs(pod.status.as_ref(), &desired) {
        state.status_hash = hash_of(&desired);
        return Ok(());
    }
    let desired_hash = hash_of(&desired);
    if desired_hash == state.status_hash {
        // Written already; the watch has not caught up yet.
        return Ok(());
    }
    let key = PodKey::of(pod);
    let patch = status::merge_patch(pod.status.as_ref(), &desired);
    let result = api_call(
        &inner.metrics,
        ApiCall::PatchPodStatus,
        inner.pods(&key.namespace).patch_status(
            &key.name,
            &PatchParams::default(),
            &Patch::Merge(patch),
        ),
    )
    .await;
    match result {
        Ok(_) => {
            state.status_hash = desired_hash;
            Ok(())
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => {
            tracing::warn!(pod = %key, error = %e, "status write failed");
            Err(())
        }
    }
}

/// Delete in the provider, treating "not found" as done.
async fn delete_in_provider(inner: &Inner, pod: &Pod) -> Result<(), CallError> {
    match inner
        .provider_call("delete_pod", inner.provider.delete_pod(pod))
        .await
    {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// The pod is being deleted: delete it in the provider, show its containers terminated,
/// then remove the object (grace 0, UID precondition so a new pod of the same name is
/// never touched).
async fn delete(inner: &Inner, key: &PodKey, pod: &Arc<Pod>, mut state: PodState) -> Requeue {
    if state.created || state.maybe_created {
        if let Err(e) = delete_in_provider(inner, pod).await {
            let failure = e.failure();
            inner.event(
                pod,
                EventType::Warning,
                "ProviderDeleteFailed",
                format!("{}: {}", failure.reason(), failure.message()),
                "Delete",
            );
            return Some(retry_hinted(inner, key, &mut state, failure.retry_after()));
        }
        // Like a kubelet, report the stopped containers before the object goes. A failed
        // write only costs the user that view: the removal goes ahead.
        if state.created
            && let Some(last) = termination::final_status(pod.status.as_ref(), inner.clock.now())
            && write_status(inner, pod, &mut state, last).await.is_err()
        {
            tracing::debug!(pod = %key, "writing the final status failed");
        }
    }
    state.created = false;
    state.maybe_created = false;
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let result = api_call(
        &inner.metrics,
        ApiCall::DeletePod,
        inner.pods(&key.namespace).delete(&key.name, &params),
    )
    .await;
    match result {
        Ok(_) => {}
        // Gone already, or a different pod now has the name.
        Err(e) if e.is_not_found() || e.is_conflict() => {}
        Err(e) => {
            tracing::warn!(pod = %key, error = %e, "deleting the pod object failed");
            return Some(retry(inner, key, &mut state));
        }
    }
    // Keep the state (not created) until the watch reports the pod gone.
    state.attempts = 0;
    save(inner, key, state);
    lock(&inner.pushed).remove(key);
    None
}

/// The API no longer has the pod: remove what the provider still runs for it.
async fn gone(inner: &Inner, key: &PodKey) -> Requeue {
    let state = lock(&inner.states).remove(key);
    lock(&inner.pushed).remove(key);
    if let Some(mut state) = state
        && (state.created || state.maybe_created)
    {
        let pod = minimal_pod(key, Some(state.uid.clone()));
        if let Err(e) = delete_in_provider(inner, &pod).await {
            tracing::warn!(pod = %key, error = ?e, "deleting a removed pod in the provider failed");
            let d = inner.backoff(key, state.attempts);
            state.attempts = state.attempts.saturating_add(1);
            save(inner, key, state);
            return Some(d);
        }
        return None;
    }
    let orphan = lock(&inner.orphans).remove(key);
    if let Some(orphan) = orphan {
        let pod = minimal_pod(key, orphan.uid.clone());
        match delete_in_provider(inner, &pod).await {
            Ok(()) => {
                tracing::info!(pod = %key, "deleted an orphaned provider pod");
                lock(&inner.adopted).remove(key);
            }
            Err(e) => {
                tracing::warn!(pod = %key, error = ?e, "deleting an orphaned provider pod failed");
                // The next orphan scan finds it again.
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    #[test]
    fn daemonset_owned_pods_are_recognised() {
        let mut pod = minimal_pod(&PodKey::new("ns", "p"), None);
        assert!(!is_daemonset_pod(&pod));
        pod.metadata.owner_references = Some(vec![OwnerReference {
            kind: "DaemonSet".into(),
            ..OwnerReference::default()
        }]);
        assert!(is_daemonset_pod(&pod));
    }

    #[test]
    fn spec_hash_changes_with_the_spec_only() {
        let a = minimal_pod(&PodKey::new("ns", "p"), None);
        let mut b = a.clone();
        b.metadata.resource_version = Some("9".into());
        assert_eq!(hash_of(&a.spec), hash_of(&b.spec));
        b.spec = Some(k8s_openapi::api::core::v1::PodSpec::default());
        assert_ne!(hash_of(&a.spec), hash_of(&b.spec));
    }
}
