//! One node, one actor: the coordination Lease election against the fake API server.
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use tokio::time::{self, Duration};
use vk_core::leader::LeaderElection;
use vk_testing::FakeApiServer;

fn election(api: &FakeApiServer, identity: &str) -> LeaderElection {
    LeaderElection::new(api.client(), "kube-node-lease", "vk-aci-node-a", identity).timing(
        Duration::from_secs(2),
        Duration::from_millis(300),
        Duration::from_millis(100),
    )
}

async fn holder(api: &FakeApiServer) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(api.client(), "kube-node-lease");
    leases
        .get("vk-aci-node-a")
        .await
        .unwrap()
        .spec
        .and_then(|s| s.holder_identity)
}

#[tokio::test]
async fn a_second_candidate_should_wait_while_the_first_holds_the_lease() {
    let api = FakeApiServer::start().await;
    let first = election(&api, "first")
        .acquire(std::future::pending())
        .await
        .expect("the free lease is acquired");
    assert_eq!(holder(&api).await.as_deref(), Some("first"));

    // The holder keeps renewing: the second candidate waits well past the lease duration.
    let second = time::timeout(
        Duration::from_secs(4),
        election(&api, "second").acquire(std::future::pending()),
    )
    .await;
    assert!(
        second.is_err(),
        "the second candidate must not acquire a renewed lease"
    );
    assert!(!first.is_lost());
    assert_eq!(holder(&api).await.as_deref(), Some("first"));
}

#[tokio::test]
async fn a_released_lease_should_be_taken_over_at_once() {
    let api = FakeApiServer::start().await;
    let first = election(&api, "first")
        .acquire(std::future::pending())
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let second = election(&api, "second");
        async move { second.acquire(std::future::pending()).await }
    });
    time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "second waits while first holds");
    first.release().await;
    let second = time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the successor takes over")
        .unwrap()
        .expect("acquired");
    assert_eq!(holder(&api).await.as_deref(), Some("second"));
    second.release().await;
}

#[tokio::test]
async fn a_lease_whose_holder_died_should_be_taken_over_after_it_expires() {
    let api = FakeApiServer::start().await;
    let first = election(&api, "first")
        .acquire(std::future::pending())
        .await
        .unwrap();
    // Dropping stops renewals without releasing: the holder "crashed".
    drop(first);
    let second = time::timeout(
        Duration::from_secs(10),
        election(&api, "second").acquire(std::future::pending()),
    )
    .await
    .expect("the expired lease is taken over")
    .expect("acquired");
    assert_eq!(holder(&api).await.as_deref(), Some("second"));

    // The old holder, coming back, sees it lost the lease.
    let old = election(&api, "first");
    let again = time::timeout(Duration::from_secs(1), old.acquire(std::future::pending())).await;
    assert!(again.is_err(), "the old holder must wait for the new one");
    assert!(!second.is_lost());
}

#[tokio::test]
async fn acquire_should_return_none_on_shutdown() {
    let api = FakeApiServer::start().await;
    let _first = election(&api, "first")
        .acquire(std::future::pending())
        .await
        .unwrap();
    let none = election(&api, "second")
        .acquire(time::sleep(Duration::from_millis(300)))
        .await;
    assert!(none.is_none());
}

#[tokio::test]
async fn a_candidate_whose_clock_runs_an_hour_ahead_should_not_take_a_renewed_lease() {
    use std::sync::Arc;
    use vk_core::clock::{Clock, FixedClock, SystemClock};

    let api = FakeApiServer::start().await;
    let first = election(&api, "first")
        .acquire(std::future::pending())
        .await
        .expect("the free lease is acquired");
    // Every renewTime the holder writes is an hour old by this candidate's clock.
    let ahead = FixedClock::new(
        SystemClock
            .now()
            .checked_add(jiff::SignedDuration::from_hours(1))
            .unwrap(),
    );
    let second = time::timeout(
        Duration::from_secs(4),
        election(&api, "second")
            .clock(Arc::new(ahead))
            .acquire(std::future::pending()),
    )
    .await;
    assert!(second.is_err(), "a renewed lease must not be taken over");
    assert!(!first.is_lost());
    assert_eq!(holder(&api).await.as_deref(), Some("first"));
}
