//! Fault injection and request counters: what tests turn to make the fake misbehave the
//! way a real API server sometimes does, and to see what clients asked.
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Duration;

use super::store::Store;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Who asks and what for, as a SubjectAccessReview (or the fake's own policy) sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessRequest {
    /// User name, e.g. `system:serviceaccount:default:default`.
    pub user: String,
    /// Groups of the user.
    pub groups: Vec<String>,
    /// Verb (`get`, `create`, ...).
    pub verb: String,
    /// Resource (`pods`, `nodes`), empty for non-resource requests.
    pub resource: String,
    /// Subresource (`log`, `exec`, `proxy`, ...), possibly empty.
    pub subresource: String,
    /// Namespace, possibly empty.
    pub namespace: String,
    /// Object name, possibly empty.
    pub name: String,
    /// Non-resource path, e.g. `/healthz`.
    pub path: String,
}

/// A test's access policy for SubjectAccessReviews: `true` allows.
pub type AccessPolicy = Arc<dyn Fn(&AccessRequest) -> bool + Send + Sync>;

#[derive(Default)]
struct Faults {
    watch_gone: u32,
    conflicts: HashMap<String, u32>,
    throttle: u32,
    throttle_after: u64,
    latency: Duration,
    deny_service_accounts: bool,
    policy: Option<AccessPolicy>,
    auto_approve_csrs: bool,
}

/// Shared knob state.
#[derive(Default)]
pub(crate) struct KnobState {
    faults: Mutex<Faults>,
}

impl KnobState {
    /// Take one injected 410 for a watch, if any are left.
    pub fn take_watch_gone(&self) -> bool {
        let mut f = lock(&self.faults);
        if f.watch_gone > 0 {
            f.watch_gone -= 1;
            true
        } else {
            false
        }
    }

    /// Take one injected 409 for a write of `resource`, if any are left.
    pub fn take_conflict(&self, resource: &str) -> bool {
        let mut f = lock(&self.faults);
        match f.conflicts.get_mut(resource) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Take one injected 429, returning its Retry-After seconds.
    pub fn take_throttle(&self) -> Option<u64> {
        let mut f = lock(&self.faults);
        if f.throttle > 0 {
            f.throttle -= 1;
            Some(f.throttle_after)
        } else {
            None
        }
    }

    /// Whether pending kubelet-serving CertificateSigningRequests are approved at once.
    pub fn auto_approve_csrs(&self) -> bool {
        lock(&self.faults).auto_approve_csrs
    }

    /// The injected latency.
    pub fn latency(&self) -> Duration {
        lock(&self.faults).latency
    }

    /// Decide an access request: the test's policy if set, else the default policy
    /// (cluster admins allowed, service accounts allowed unless denied, anonymous denied,
    /// anyone else authenticated allowed).
    pub fn allows(&self, req: &AccessRequest) -> bool {
        let (policy, deny_sa) = {
            let f = lock(&self.faults);
            (f.policy.clone(), f.deny_service_accounts)
        };
        if let Some(p) = policy {
            return p(req);
        }
        if req.groups.iter().any(|g| g == "system:masters") {
            return true;
        }
        if req.user == "system:anonymous"
            || req.groups.iter().any(|g| g == "system:unauthenticated")
        {
            return false;
        }
        if req.user.starts_with("system:serviceaccount:") {
            return !deny_sa;
        }
        !req.user.is_empty()
    }
}

/// Fault injection for one fake API server. Cheap to clone.
#[derive(Clone)]
pub struct Knobs {
    pub(crate) state: Arc<KnobState>,
    pub(crate) store: Arc<Store>,
}

impl fmt::Debug for Knobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Knobs").finish_non_exhaustive()
    }
}

impl Knobs {
    /// Close every open watch now, as when an API server restarts or a connection drops.
    /// Returns how many were closed.
    pub fn disconnect_watches(&self) -> usize {
        self.store.close_watches()
    }

    /// Number of watches currently open.
    #[must_use]
    pub fn open_watches(&self) -> usize {
        self.store.open_watches()
    }

    /// Approve every pending `kubernetes.io/kubelet-serving` CertificateSigningRequest as
    /// it comes (default off: as in a real cluster, a test or `kubectl certificate
    /// approve` has to). Approved requests are signed by the fake cluster CA.
    pub fn auto_approve_csrs(&self, on: bool) {
        lock(&self.state.faults).auto_approve_csrs = on;
    }

    /// Answer the next `n` watch requests with a `410 Expired` error event.
    pub fn expire_next_watches(&self, n: u32) {
        lock(&self.state.faults).watch_gone += n;
    }

    /// Forget the event history: any watch from a resourceVersion older than now gets
    /// `410 Expired` (as after etcd compaction).
    pub fn compact(&self) {
        self.store.compact();
    }

    /// Answer the next `n` writes (create, update, patch, delete) of `resource` (plural,
    /// optionally with subresource, e.g. `pods/status`) with `409 Conflict`.
    pub fn conflict_next_writes(&self, resource: &str, n: u32) {
        *lock(&self.state.faults)
            .conflicts
            .entry(resource.to_owned())
            .or_default() += n;
    }

    /// Answer the next `n` requests with `429 Too Many Requests` and `Retry-After`.
    pub fn throttle_next_requests(&self, n: u32, retry_after_secs: u64) {
        let mut f = lock(&self.state.faults);
        f.throttle += n;
        f.throttle_after = retry_after_secs;
    }

    /// Delay every request by `latency` (on the tokio clock).
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.state.faults).latency = latency;
    }

    /// Make SubjectAccessReviews deny (or again allow) service accounts.
    pub fn deny_service_accounts(&self, deny: bool) {
        lock(&self.state.faults).deny_service_accounts = deny;
    }

    /// Replace the SubjectAccessReview policy (`None` restores the default).
    pub fn set_access_policy(&self, policy: Option<AccessPolicy>) {
        lock(&self.state.faults).policy = policy;
    }

    /// Clear every injected fault (latency, 410s, 409s, 429s, policy).
    pub fn reset(&self) {
        *lock(&self.state.faults) = Faults::default();
    }
}

/// Requests served, by verb and resource. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Counters(Arc<Mutex<BTreeMap<(String, String), u64>>>);

impl Counters {
    pub(crate) fn hit(&self, verb: &str, resource: &str) {
        *lock(&self.0)
            .entry((verb.to_owned(), resource.to_owned()))
            .or_default() += 1;
    }

    /// How many requests of `verb` (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection`, `proxy`) on `resource` (`pods`, `pods/status`,
    /// `leases`, ...) were served.
    #[must_use]
    pub fn get(&self, verb: &str, resource: &str) -> u64 {
        lock(&self.0)
            .get(&(verb.to_owned(), resource.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Every counter, keyed by `(verb, resource)`.
    #[must_use]
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        lock(&self.0).clone()
    }

    /// Total requests of `verb` over all resources.
    #[must_use]
    pub fn total(&self, verb: &str) -> u64 {
        lock(&self.0)
            .iter()
            .filter(|((v, _), _)| v == verb)
            .map(|(_, n)| n)
            .sum()
    }

    /// Reset every counter to zero.
    pub fn reset(&self) {
        lock(&self.0).clear();
    }
}
