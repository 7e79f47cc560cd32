//! One node, one actor: a coordination Lease held by the process that acts on the node.
//!
//! Two processes started with the same node name (a rolling update, a mistaken second
//! replica) must never both act on its pods. [`LeaderElection::acquire`] waits until this
//! process holds the Lease (creating it, or taking it over once its holder stopped renewing
//! for a whole lease duration), then a background task renews it; [`Leadership::lost`]
//! resolves if another holder appears or no renewal succeeded within the renew deadline,
//! and [`Leadership::release`] gives the Lease up on a graceful shutdown so a successor
//! starts at once. Writes use the Lease's `resourceVersion`, so two candidates racing for
//! an expired Lease cannot both win.
//!
//! Time follows client-go's leader election, so no two processes act at once whatever
//! their wall clocks say:
//!
//! - A candidate never compares the holder's `renewTime` with its own clock. It notes when
//!   it first saw the Lease's current record (holder, times, `resourceVersion`) and takes
//!   the Lease over only once that record stayed unchanged for a whole lease duration of
//!   its own monotonic time.
//! - The holder gives up when no renewal succeeded within the renew deadline, measured
//!   from the *start* of its last successful renewal, and the renew deadline is shorter
//!   than the lease duration. A renewal that started at `t` was written after `t`, so no
//!   candidate can see it expire before `t + lease duration`, while the holder stops at
//!   `t + renew deadline`. The margin between the two absorbs the holder's shutdown
//!   (see [`Leadership::fence`]) and clocks running at slightly different rates.
use std::sync::Arc;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio::task::JoinHandle;
use tokio::time::{self, Duration, Instant};
use tokio_util::sync::CancellationToken;

mod fence;

use self::fence::Fenced;
use crate::clock::{SharedClock, SystemClock};
use crate::provider::SharedProvider;

/// Bound on each Lease read or write.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Far enough never to come: what a deadline that overflows `Instant` becomes.
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Why a Lease call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeaderError {
    /// The API server answered with an error.
    #[error("lease {what}")]
    Api {
        /// What the call was for.
        what: &'static str,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The API server did not answer in time.
    #[error("lease {0} timed out")]
    Timeout(&'static str),
}

impl LeaderError {
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Api { source: kube::Error::Api(s), .. } if s.code == 409)
    }
}

/// Elects one holder of a named coordination Lease.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    duration: Duration,
    renew_interval: Duration,
    renew_deadline: Option<Duration>,
    retry_interval: Duration,
    clock: SharedClock,
}

/// What one attempt found.
enum Attempt {
    /// This process holds the Lease now; the attempt that took it started at `started`.
    Held {
        /// When the successful attempt started (before its read).
        started: Instant,
    },
    /// Someone else holds it.
    Taken {
        /// The holder's identity.
        holder: String,
    },
}

/// A candidate's view of the Lease: the record it last read and when (on its own
/// monotonic clock) it first saw that record.
#[derive(Default)]
struct Observed {
    record: Option<(Option<String>, LeaseSpec)>,
    since: Option<Instant>,
}

impl Observed {
    /// Note `lease` as read at `now`; returns when its record was first seen.
    fn see(&mut self, lease: &Lease, now: Instant) -> Instant {
        let record = (
            lease.metadata.resource_version.clone(),
            lease.spec.clone().unwrap_or_default(),
        );
        match self.since {
            Some(since) if self.record.as_ref() == Some(&record) => since,
            _ => {
                self.record = Some(record);
                self.since = Some(now);
                now
            }
        }
    }
}

impl LeaderElection {
    /// Elect a holder of Lease `namespace/name`; this process is `identity` (unique per
    /// process, e.g. pod name plus a random suffix).
    ///
    /// Defaults follow client-go's leader election (`leaseDuration` 15 s, `renewDeadline`
    /// 10 s, `retryPeriod` 2 s): 15 s lease, renewed every 5 s, given up 10 s after the
    /// start of the last successful renewal; failed renewals and candidates retry every
    /// 2 s.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            name: name.into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew_interval: Duration::from_secs(5),
            renew_deadline: Some(Duration::from_secs(10)),
            retry_interval: Duration::from_secs(2),
            clock: Arc::new(SystemClock),
        }
    }

    /// Lease duration, renew interval and retry interval (of candidates, and of a holder
    /// after a failed renewal). The renew deadline becomes two thirds of the lease duration
    /// (client-go's 10 s of 15 s) unless [`renew_deadline`](Self::renew_deadline) sets it.
    #[must_use]
    pub fn timing(mut self, duration: Duration, renew: Duration, retry: Duration) -> Self {
        self.duration = duration;
        self.renew_interval = renew;
        self.retry_interval = retry;
        self.renew_deadline = None;
        self
    }

    /// How long after the start of its last successful renewal the holder gives the Lease
    /// up when renewals fail or hang. It must be shorter than the lease duration; a longer
    /// one is cut to two thirds of the lease duration.
    #[must_use]
    pub fn renew_deadline(mut self, deadline: Duration) -> Self {
        self.renew_deadline = Some(deadline);
        self
    }

    /// The wall clock written into `renewTime` and `acquireTime`. Expiry is never judged
    /// by it: candidates use their own monotonic time.
    #[must_use]
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// This candidate's identity.
    #[must_use]
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The Lease's namespace.
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Lease's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The renew deadline in effect: shorter than the lease duration.
    fn deadline(&self) -> Duration {
        let fallback = self.duration.mul_f64(2.0 / 3.0);
        match self.renew_deadline {
            Some(d) if d < self.duration => d,
            _ => fallback,
        }
    }

    /// Wait until this process holds the Lease, then keep renewing it in the background.
    /// Returns `None` if `shutdown` resolves first. While another process holds the Lease
    /// this logs, once per holder, that it is waiting.
    pub async fn acquire(&self, shutdown: impl Future<Output = ()> + Send) -> Option<Leadership> {
        tokio::pin!(shutdown);
        let mut last_holder: Option<String> = None;
        let mut observed = Observed::default();
        loop {
            match self.try_acquire(&mut observed).await {
                Ok(Attempt::Held { started }) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "lease acquired; acting on the node");
                    return Some(self.spawn_renewal(started));
                }
                Ok(Attempt::Taken { holder }) => {
                    if last_holder.as_deref() != Some(holder.as_str()) {
                        tracing::info!(lease = %self.name, %holder, "another process holds the lease; waiting for it to stop renewing");
                        last_holder = Some(holder);
                    }
                }
                Err(e) if e.is_conflict() => {
                    tracing::debug!(lease = %self.name, "lease write conflict; retrying");
                }
                Err(e) => {
                    tracing::warn!(lease = %self.name, error = %e, "lease election attempt failed");
                }
            }
            tokio::select! {
                () = &mut shutdown => return None,
                () = time::sleep(self.retry_interval) => {}
            }
        }
    }

    /// One read and, if the Lease is free, expired by this candidate's own observation,
    /// or ours, one write.
    async fn try_acquire(&self, observed: &mut Observed) -> Result<Attempt, LeaderError> {
        let started = Instant::now();
        let existing = call("read", self.api.get_opt(&self.name)).await?;
        let now = self.clock.now();
        let Some(mut lease) = existing else {
            let lease = self.lease(None, now, 0);
            call("create", self.api.create(&PostParams::default(), &lease)).await?;
            return Ok(Attempt::Held { started });
        };
        let seen = Instant::now();
        let since = observed.see(&lease, seen);
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == self.identity;
        if !holder.is_empty() && !ours && !self.expired(&spec, since, seen) {
            return Ok(Attempt::Taken { holder });
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
        let acquire_time = if ours { spec.acquire_time } else { None };
        lease.spec = Some(self.spec(acquire_time, now, transitions));
        // `replace` carries the resourceVersion read above: a racing candidate gets 409.
        call(
            "update",
            self.api.replace(&self.name, &PostParams::default(), &lease),
        )
        .await?;
        Ok(Attempt::Held { started })
    }

    /// Whether a record first seen at `since` stayed unchanged for the lease duration it
    /// states (this election's duration when it states none), by `now`.
    fn expired(&self, spec: &LeaseSpec, since: Instant, now: Instant) -> bool {
        let duration = spec.lease_duration_seconds.map_or(self.duration, |s| {
            Duration::from_secs(u64::try_from(s).unwrap_or(0))
        });
        since
            .checked_add(duration)
            .is_some_and(|until| now >= until)
    }

    fn spec(
        &self,
        acquire_time: Option<MicroTime>,
        now: jiff::Timestamp,
        transitions: i32,
    ) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.duration.as_secs().max(1)).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(acquire_time.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    fn lease(
        &self,
        acquire_time: Option<MicroTime>,
        now: jiff::Timestamp,
        transitions: i32,
    ) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(self.spec(acquire_time, now, transitions)),
        }
    }

    /// Renew once: fails if someone else holds the Lease now.
    async fn renew(&self) -> Result<bool, LeaderError> {
        let existing = call("read", self.api.get_opt(&self.name)).await?;
        let now = self.clock.now();
        let Some(mut lease) = existing else {
            // Deleted under us: take it again.
            let lease = self.lease(None, now, 0);
            call("create", self.api.create(&PostParams::default(), &lease)).await?;
            return Ok(true);
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(false);
        }
        lease.spec = Some(self.spec(spec.acquire_time, now, spec.lease_transitions.unwrap_or(0)));
        call(
            "update",
            self.api.replace(&self.name, &PostParams::default(), &lease),
        )
        .await?;
        Ok(true)
    }

    /// Renew until stopped; `lost` is cancelled when another holder appears or the renew
    /// deadline, counted from the start of the last successful renewal (first: the
    /// acquiring attempt, started at `started`), passes.
    async fn renew_until_lost(
        self,
        started: Instant,
        lost: CancellationToken,
        stop: CancellationToken,
    ) {
        let deadline_after = self.deadline();
        let mut last_ok = started;
        let mut next = after(Instant::now(), self.renew_interval);
        loop {
            let deadline = after(last_ok, deadline_after);
            tokio::select! {
                biased;
                () = stop.cancelled() => return,
                () = time::sleep_until(deadline) => break,
                () = time::sleep_until(next) => {}
            }
            let attempt = Instant::now();
            match time::timeout_at(deadline, self.renew()).await {
                Ok(Ok(true)) => {
                    last_ok = attempt;
                    next = after(Instant::now(), self.renew_interval);
                }
                Ok(Ok(false)) => {
                    tracing::error!(lease = %self.name, "another process took the lease; stopping");
                    lost.cancel();
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.name, error = %e, "lease renewal failed; retrying");
                    next = after(Instant::now(), self.retry_interval);
                }
                Err(_) => break,
            }
        }
        tracing::error!(
            lease = %self.name,
            renew_deadline = ?deadline_after,
            "lease not renewed within the renew deadline; stopping"
        );
        lost.cancel();
    }

    fn spawn_renewal(&self, started: Instant) -> Leadership {
        let lost = CancellationToken::new();
        let stop = CancellationToken::new();
        let task = tokio::spawn(
            self.clone()
                .renew_until_lost(started, lost.clone(), stop.clone()),
        );
        Leadership {
            election: self.clone(),
            lost,
            stop,
            task: Some(task),
        }
    }

    /// Give the Lease up if this process holds it (holder cleared, 1 s duration), so a
    /// waiting successor takes over at its next attempt.
    async fn give_up(&self) -> Result<(), LeaderError> {
        let Some(mut lease) = call("read", self.api.get_opt(&self.name)).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(self.clock.now()));
        call(
            "update",
            self.api.replace(&self.name, &PostParams::default(), &lease),
        )
        .await?;
        Ok(())
    }
}

/// `at + d`, or far in the future when that overflows.
fn after(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

async fn call<T>(
    what: &'static str,
    fut: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, LeaderError> {
    match time::timeout(CALL_TIMEOUT, fut).await {
        Ok(r) => r.map_err(|source| LeaderError::Api { what, source }),
        Err(_) => Err(LeaderError::Timeout(what)),
    }
}

// === impl Leadership ===

/// The Lease held by this process, renewed in the background until released or lost.
#[derive(Debug)]
pub struct Leadership {
    election: LeaderElection,
    lost: CancellationToken,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Leadership {
    /// Resolves when the Lease is lost (another holder, or no successful renewal within the
    /// renew deadline): stop acting on the node at once. It resolves at the deadline
    /// itself, not when a hanging renewal call gives up.
    pub async fn lost(&self) {
        self.lost.cancelled().await;
    }

    /// Whether the Lease has been lost.
    #[must_use]
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// `provider`, fenced by this Lease: once the Lease is lost, calls in flight are
    /// cancelled (their futures dropped) and no new call reaches `provider`.
    ///
    /// The runtime's pod calls (create, update, delete, status, list) then never complete,
    /// so nothing is written back for them; the runtime, stopped on [`lost`](Self::lost),
    /// drops them within its shutdown drain (5 s). Health checks and the kubelet API's
    /// calls (logs, exec, attach, port-forward, stats) fail at once with a transient
    /// `LeaseLost` error, and log streams already open end. Work a provider started on its
    /// own background tasks is not covered: a process that lost its Lease should exit.
    #[must_use]
    pub fn fence(&self, provider: SharedProvider) -> SharedProvider {
        Arc::new(Fenced::new(provider, self.lost.clone()))
    }

    /// Stop renewing and give the Lease up (graceful shutdown).
    pub async fn release(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if !self.lost.is_cancelled()
            && let Err(e) = self.election.give_up().await
        {
            tracing::warn!(error = %e, "releasing the lease failed; a successor waits for it to expire");
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests;
