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

use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio::task::JoinHandle;
use tokio::time::{self, Duration, Instant};
use tokio_util::sync::CancellationToken;

use crate::clock::{SharedClock, SystemClock};
use crate::provider::{
    DuplexIo, ExecIo, LogOptions, LogStream, PodKey, PodNotifier, PodResources, PodStats, Provider,
    ProviderError, ProviderPod, Result as ProviderResult, SharedProvider,
};

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
        Arc::new(Fenced {
            inner: provider,
            lost: self.lost.clone(),
        })
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

// === impl Fenced ===

/// A provider that acts only while a Lease is held (see [`Leadership::fence`]).
struct Fenced {
    inner: SharedProvider,
    lost: CancellationToken,
}

impl Fenced {
    /// Run a runtime call; once the Lease is lost it is dropped and never completes.
    async fn held<T>(&self, call: impl Future<Output = ProviderResult<T>>) -> ProviderResult<T> {
        if self.lost.is_cancelled() {
            return std::future::pending().await;
        }
        tokio::select! {
            biased;
            () = self.lost.cancelled() => std::future::pending().await,
            out = call => out,
        }
    }

    /// Run a kubelet API call; once the Lease is lost it fails with `LeaseLost`.
    async fn serving<T>(&self, call: impl Future<Output = ProviderResult<T>>) -> ProviderResult<T> {
        if self.lost.is_cancelled() {
            return Err(lease_lost());
        }
        tokio::select! {
            biased;
            () = self.lost.cancelled() => Err(lease_lost()),
            out = call => out,
        }
    }
}

fn lease_lost() -> ProviderError {
    ProviderError::transient(
        "LeaseLost",
        "this virtual kubelet lost the node's lease; another process acts on the node now",
    )
}

#[async_trait]
impl Provider for Fenced {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn create_pod(&self, pod: &Pod, resources: &PodResources) -> ProviderResult<()> {
        self.held(self.inner.create_pod(pod, resources)).await
    }

    async fn update_pod(&self, pod: &Pod, resources: &PodResources) -> ProviderResult<()> {
        self.held(self.inner.update_pod(pod, resources)).await
    }

    async fn delete_pod(&self, pod: &Pod) -> ProviderResult<()> {
        self.held(self.inner.delete_pod(pod)).await
    }

    async fn pod_status(
        &self,
        key: &PodKey,
    ) -> ProviderResult<Option<k8s_openapi::api::core::v1::PodStatus>> {
        self.held(self.inner.pod_status(key)).await
    }

    async fn list_pods(&self) -> ProviderResult<Vec<ProviderPod>> {
        self.held(self.inner.list_pods()).await
    }

    fn notify_pods(&self, notifier: PodNotifier) -> bool {
        self.inner.notify_pods(notifier)
    }

    fn volume_secrets(&self, pv: &PersistentVolume, namespace: &str) -> Vec<(String, String)> {
        self.inner.volume_secrets(pv, namespace)
    }

    fn configure_node(&self, node: &mut Node) {
        self.inner.configure_node(node);
    }

    async fn ping(&self) -> ProviderResult<()> {
        // Fails at once rather than hanging: the node's status loop would otherwise hold
        // the runtime's shutdown for a whole provider timeout.
        self.serving(self.inner.ping()).await
    }

    async fn logs(
        &self,
        key: &PodKey,
        container: &str,
        opts: &LogOptions,
    ) -> ProviderResult<LogStream> {
        let stream = self.serving(self.inner.logs(key, container, opts)).await?;
        let lost = self.lost.clone().cancelled_owned();
        let fenced: LogStream = Box::pin(stream.take_until(lost));
        Ok(fenced)
    }

    async fn exec(
        &self,
        key: &PodKey,
        container: &str,
        command: &[String],
        io: ExecIo,
    ) -> ProviderResult<i32> {
        self.serving(self.inner.exec(key, container, command, io))
            .await
    }

    async fn attach(&self, key: &PodKey, container: &str, io: ExecIo) -> ProviderResult<i32> {
        self.serving(self.inner.attach(key, container, io)).await
    }

    async fn port_forward(
        &self,
        key: &PodKey,
        port: u16,
        stream: Box<dyn DuplexIo>,
    ) -> ProviderResult<()> {
        self.serving(self.inner.port_forward(key, port, stream))
            .await
    }

    async fn stats(&self) -> ProviderResult<Vec<PodStats>> {
        self.serving(self.inner.stats()).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

    use super::*;
    use crate::clock::FixedClock;

    /// The Lease store of a fake API server: GET, POST and PUT (with resourceVersion
    /// checks) of one Lease, answering at once on tokio's clock. `hang` makes every
    /// request after it is set wait forever, as a partitioned API server does.
    #[derive(Clone, Default)]
    struct Leases {
        lease: Arc<Mutex<Option<Lease>>>,
        version: Arc<Mutex<u64>>,
        hang: Arc<AtomicBool>,
        fail: Arc<AtomicBool>,
    }

    impl Leases {
        fn client(&self) -> kube::Client {
            let leases = self.clone();
            let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
                let leases = leases.clone();
                async move { Ok::<_, std::convert::Infallible>(leases.answer(req).await) }
            });
            kube::Client::new(service, "default")
        }

        async fn answer(
            &self,
            req: http::Request<kube::client::Body>,
        ) -> http::Response<Full<Bytes>> {
            if self.hang.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if self.fail.load(Ordering::SeqCst) {
                return http::Response::builder()
                    .status(500)
                    .body(Full::new(Bytes::from_static(b"{}")))
                    .unwrap();
            }
            let method = req.method().clone();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let mut stored = self.lease.lock().unwrap();
            let mut version = self.version.lock().unwrap();
            let status = |code: u16| {
                let body = serde_json::json!({
                    "kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "code": code, "reason": if code == 404 { "NotFound" } else { "Conflict" },
                    "message": "fake",
                });
                http::Response::builder()
                    .status(code)
                    .body(Full::new(Bytes::from(body.to_string())))
                    .unwrap()
            };
            let ok = |lease: &Lease| {
                http::Response::new(Full::new(Bytes::from(serde_json::to_vec(lease).unwrap())))
            };
            match method {
                http::Method::GET => match stored.as_ref() {
                    Some(lease) => ok(lease),
                    None => status(404),
                },
                http::Method::POST | http::Method::PUT => {
                    let mut lease: Lease = serde_json::from_slice(&body).unwrap();
                    let current = stored
                        .as_ref()
                        .and_then(|l| l.metadata.resource_version.clone());
                    let conflict = if method == http::Method::POST {
                        stored.is_some()
                    } else {
                        lease.metadata.resource_version != current
                    };
                    if conflict {
                        return status(409);
                    }
                    *version += 1;
                    lease.metadata.resource_version = Some(version.to_string());
                    *stored = Some(lease.clone());
                    ok(&lease)
                }
                _ => status(404),
            }
        }

        fn holder(&self) -> Option<String> {
            self.lease
                .lock()
                .unwrap()
                .as_ref()
                .and_then(|l| l.spec.as_ref()?.holder_identity.clone())
        }
    }

    fn at(second: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(second).unwrap()
    }

    /// client-go's timing: 15 s lease, renewed every 5 s, retried every 2 s.
    fn election(leases: &Leases, identity: &str, clock: &FixedClock) -> LeaderElection {
        LeaderElection::new(leases.client(), "kube-node-lease", "node-a", identity)
            .timing(
                Duration::from_secs(15),
                Duration::from_secs(5),
                Duration::from_secs(2),
            )
            .clock(Arc::new(clock.clone()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_candidate_whose_clock_runs_ahead_should_not_take_a_live_lease() {
        let leases = Leases::default();
        let holder_clock = FixedClock::new(at(1_000_000));
        let first = election(&leases, "first", &holder_clock)
            .acquire(std::future::pending())
            .await
            .expect("the free lease is acquired");
        // An hour ahead: every renewTime the holder writes looks long expired to it.
        let skewed = FixedClock::new(at(1_000_000 + 3600));
        let second = time::timeout(
            Duration::from_secs(120),
            election(&leases, "second", &skewed).acquire(std::future::pending()),
        )
        .await;
        assert!(second.is_err(), "a live lease must not be taken over");
        assert_eq!(leases.holder().as_deref(), Some("first"));
        assert!(!first.is_lost());
    }

    #[tokio::test(start_paused = true)]
    async fn a_candidate_should_wait_a_lease_duration_of_its_own_time_whatever_renew_time_says() {
        let leases = Leases::default();
        // A holder that wrote its last renewTime an hour before the candidate's clock, and
        // (for all the candidate knows) is still renewing on a clock an hour behind.
        let old = FixedClock::new(at(1_000_000));
        let dead = election(&leases, "dead", &old)
            .acquire(std::future::pending())
            .await
            .unwrap();
        drop(dead);
        let clock = FixedClock::new(at(1_000_000 + 3600));
        let started = Instant::now();
        let second = election(&leases, "second", &clock)
            .acquire(std::future::pending())
            .await
            .expect("acquired once expired");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(15),
            "took the lease after {waited:?}, before a whole lease duration of its own time"
        );
        assert!(waited <= Duration::from_secs(15 + 2), "waited {waited:?}");
        assert_eq!(leases.holder().as_deref(), Some("second"));
        drop(second);
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_whose_renewals_hang_should_stop_at_the_renew_deadline() {
        let leases = Leases::default();
        let clock = FixedClock::new(at(1_000_000));
        let acquired = Instant::now();
        let leadership = election(&leases, "first", &clock)
            .acquire(std::future::pending())
            .await
            .unwrap();
        // The renewal at 5 s succeeds (it started at 5 s); every call from 6 s on hangs.
        time::sleep(Duration::from_secs(6)).await;
        leases.hang.store(true, Ordering::SeqCst);
        time::timeout(Duration::from_secs(60), leadership.lost())
            .await
            .expect("the holder gives up");
        let stopped = acquired.elapsed();
        // Last successful renewal started at 5 s: the deadline is 5 + 10 s, and a candidate
        // that saw that renewal cannot take the lease before 5 + 15 s.
        assert!(
            stopped >= Duration::from_secs(15)
                && stopped < Duration::from_secs(15) + Duration::from_millis(100),
            "gave up after {stopped:?}, not at the renew deadline (15 s)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_whose_first_renewal_hangs_should_stop_before_the_lease_duration_passes() {
        let leases = Leases::default();
        let clock = FixedClock::new(at(1_000_000));
        let acquired = Instant::now();
        let leadership = election(&leases, "first", &clock)
            .acquire(std::future::pending())
            .await
            .unwrap();
        leases.hang.store(true, Ordering::SeqCst);
        time::timeout(Duration::from_secs(60), leadership.lost())
            .await
            .expect("the holder gives up");
        let stopped = acquired.elapsed();
        assert!(
            stopped <= Duration::from_secs(10),
            "acted for {stopped:?} after the acquiring write started; a candidate may take over at 15 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_whose_renewals_fail_briefly_should_retry_within_the_deadline_and_keep_the_lease()
     {
        let leases = Leases::default();
        let clock = FixedClock::new(at(1_000_000));
        let leadership = election(&leases, "first", &clock)
            .acquire(std::future::pending())
            .await
            .unwrap();
        // The renewals at 5 s and 7 s get 500; the retry at 9 s, before the 10 s deadline,
        // succeeds.
        time::sleep(Duration::from_secs(4)).await;
        leases.fail.store(true, Ordering::SeqCst);
        time::sleep(Duration::from_secs(4)).await;
        leases.fail.store(false, Ordering::SeqCst);
        time::sleep(Duration::from_secs(60)).await;
        assert!(!leadership.is_lost());
        assert_eq!(leases.holder().as_deref(), Some("first"));
    }

    /// A provider whose calls wait until dropped, counting the calls that reached it and
    /// the ones cancelled.
    #[derive(Default)]
    struct Hanging {
        started: std::sync::atomic::AtomicUsize,
        dropped: Arc<std::sync::atomic::AtomicUsize>,
    }

    struct OnDrop(Arc<std::sync::atomic::AtomicUsize>);

    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[async_trait]
    impl Provider for Hanging {
        fn name(&self) -> &str {
            "hanging"
        }
        async fn create_pod(&self, _: &Pod, _: &PodResources) -> ProviderResult<()> {
            self.started.fetch_add(1, Ordering::SeqCst);
            let _guard = OnDrop(Arc::clone(&self.dropped));
            std::future::pending().await
        }
        async fn update_pod(&self, _: &Pod, _: &PodResources) -> ProviderResult<()> {
            Ok(())
        }
        async fn delete_pod(&self, _: &Pod) -> ProviderResult<()> {
            Ok(())
        }
        async fn pod_status(
            &self,
            _: &PodKey,
        ) -> ProviderResult<Option<k8s_openapi::api::core::v1::PodStatus>> {
            Ok(None)
        }
        async fn list_pods(&self) -> ProviderResult<Vec<ProviderPod>> {
            Ok(Vec::new())
        }
        async fn stats(&self) -> ProviderResult<Vec<PodStats>> {
            Ok(Vec::new())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_fenced_provider_should_cancel_calls_in_flight_and_refuse_new_ones_once_the_lease_is_lost()
     {
        let leases = Leases::default();
        let clock = FixedClock::new(at(1_000_000));
        let leadership = election(&leases, "first", &clock)
            .acquire(std::future::pending())
            .await
            .unwrap();
        let inner = Arc::new(Hanging::default());
        let fenced = leadership.fence(Arc::clone(&inner) as SharedProvider);
        assert!(
            fenced.stats().await.is_ok(),
            "calls pass while the lease is held"
        );
        let in_flight = tokio::spawn({
            let fenced = Arc::clone(&fenced);
            async move {
                fenced
                    .create_pod(&Pod::default(), &PodResources::default())
                    .await
            }
        });
        time::sleep(Duration::from_secs(1)).await;
        assert_eq!(inner.started.load(Ordering::SeqCst), 1);
        leases.hang.store(true, Ordering::SeqCst);
        time::timeout(Duration::from_secs(60), leadership.lost())
            .await
            .expect("the holder gives up");
        tokio::task::yield_now().await;
        assert_eq!(
            inner.dropped.load(Ordering::SeqCst),
            1,
            "the call in flight is cancelled at once"
        );
        // Nothing is written back for it: the runtime's call never completes.
        time::sleep(Duration::from_secs(300)).await;
        assert!(!in_flight.is_finished());
        in_flight.abort();
        // New runtime calls never reach the provider; kubelet API calls fail.
        let late = time::timeout(
            Duration::from_secs(300),
            fenced.create_pod(&Pod::default(), &PodResources::default()),
        )
        .await;
        assert!(late.is_err());
        assert_eq!(inner.started.load(Ordering::SeqCst), 1);
        let refused = fenced.stats().await;
        assert!(
            matches!(&refused, Err(ProviderError::Transient { reason, .. }) if reason == "LeaseLost"),
            "{refused:?}"
        );
    }
}
