//! One node, one actor: a coordination Lease held by the process that acts on the node.
//!
//! Two processes started with the same node name (a rolling update, a mistaken second
//! replica) must never both act on its pods. [`LeaderElection::acquire`] waits until this
//! process holds the Lease (creating it, or taking it over once its holder stopped renewing
//! for a whole lease duration), then a background task renews it; [`Leadership::lost`]
//! resolves if a renewal fails for a whole lease duration or another holder appears, and
//! [`Leadership::release`] gives the Lease up on a graceful shutdown so a successor starts
//! at once. Writes use the Lease's `resourceVersion`, so two candidates racing for an
//! expired Lease cannot both win.
use std::sync::Arc;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio::task::JoinHandle;
use tokio::time::{self, Duration, Instant};
use tokio_util::sync::CancellationToken;

use crate::clock::{SharedClock, SystemClock};

/// Bound on each Lease read or write.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

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
    name: String,
    identity: String,
    duration: Duration,
    renew_interval: Duration,
    retry_interval: Duration,
    clock: SharedClock,
}

/// What one attempt found.
enum Attempt {
    /// This process holds the Lease now.
    Held,
    /// Someone else holds it.
    Taken {
        /// The holder's identity.
        holder: String,
    },
}

impl LeaderElection {
    /// Elect a holder of Lease `namespace/name`; this process is `identity` (unique per
    /// process, e.g. pod name plus a random suffix).
    ///
    /// Defaults follow client-go's leader election: 15 s lease, renewed every 5 s (client-go
    /// gives up after a 10 s renew deadline), candidates retry every 2 s.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew_interval: Duration::from_secs(5),
            retry_interval: Duration::from_secs(2),
            clock: Arc::new(SystemClock),
        }
    }

    /// Lease duration, renew interval and candidates' retry interval.
    #[must_use]
    pub fn timing(mut self, duration: Duration, renew: Duration, retry: Duration) -> Self {
        self.duration = duration;
        self.renew_interval = renew;
        self.retry_interval = retry;
        self
    }

    /// The wall clock written into `renewTime` and compared with other holders' times.
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

    /// Wait until this process holds the Lease, then keep renewing it in the background.
    /// Returns `None` if `shutdown` resolves first. While another process holds the Lease
    /// this logs, once per holder, that it is waiting.
    pub async fn acquire(&self, shutdown: impl Future<Output = ()> + Send) -> Option<Leadership> {
        tokio::pin!(shutdown);
        let mut last_holder: Option<String> = None;
        loop {
            match self.try_acquire().await {
                Ok(Attempt::Held) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "lease acquired; acting on the node");
                    return Some(self.spawn_renewal());
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

    /// One read and, if the Lease is free, expired or ours, one write.
    async fn try_acquire(&self) -> Result<Attempt, LeaderError> {
        let existing = call("read", self.api.get_opt(&self.name)).await?;
        let now = self.clock.now();
        let Some(mut lease) = existing else {
            let lease = self.lease(None, now, 0);
            call("create", self.api.create(&PostParams::default(), &lease)).await?;
            return Ok(Attempt::Held);
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == self.identity;
        if !holder.is_empty() && !ours && !expired(&spec, now) {
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
        Ok(Attempt::Held)
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

    fn spawn_renewal(&self) -> Leadership {
        let lost = CancellationToken::new();
        let stop = CancellationToken::new();
        let election = self.clone();
        let task = {
            let lost = lost.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut last_ok = Instant::now();
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = time::sleep(election.renew_interval) => {}
                    }
                    match election.renew().await {
                        Ok(true) => last_ok = Instant::now(),
                        Ok(false) => {
                            tracing::error!(lease = %election.name, "another process took the lease; stopping");
                            lost.cancel();
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(lease = %election.name, error = %e, "lease renewal failed");
                            if last_ok.elapsed() >= election.duration {
                                tracing::error!(lease = %election.name, "lease not renewed for a whole lease duration; stopping");
                                lost.cancel();
                                return;
                            }
                        }
                    }
                }
            })
        };
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

/// Whether the Lease's holder stopped renewing for a whole lease duration.
fn expired(spec: &LeaseSpec, now: jiff::Timestamp) -> bool {
    let Some(renewed) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        return true;
    };
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0).max(0));
    let until = renewed.0.as_second().saturating_add(seconds);
    // Whole seconds, rounding in the holder's favour.
    now.as_second() > until
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

/// The Lease held by this process, renewed in the background until released or lost.
#[derive(Debug)]
pub struct Leadership {
    election: LeaderElection,
    lost: CancellationToken,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Leadership {
    /// Resolves when the Lease is lost (another holder, or renewals failing for a whole
    /// lease duration): stop acting on the node at once.
    pub async fn lost(&self) {
        self.lost.cancelled().await;
    }

    /// Whether the Lease has been lost.
    #[must_use]
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
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
mod tests {
    use super::*;

    fn spec(renewed_at: i64, duration: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some("a".into()),
            lease_duration_seconds: Some(duration),
            renew_time: Some(MicroTime(jiff::Timestamp::from_second(renewed_at).unwrap())),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_lease_should_expire_only_after_its_whole_duration() {
        let at = |s| jiff::Timestamp::from_second(s).unwrap();
        assert!(!expired(&spec(1000, 15), at(1010)));
        assert!(!expired(&spec(1000, 15), at(1015)));
        assert!(expired(&spec(1000, 15), at(1016)));
        assert!(expired(&LeaseSpec::default(), at(0)));
    }
}
