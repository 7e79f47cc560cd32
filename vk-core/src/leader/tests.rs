//! Leader election against a Lease store on tokio's paused clock.
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;

use super::*;
use crate::clock::FixedClock;
use crate::provider::{
    PodKey, PodResources, PodStats, Provider, ProviderError, ProviderPod, Result as ProviderResult,
};

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

    async fn answer(&self, req: http::Request<kube::client::Body>) -> http::Response<Full<Bytes>> {
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
