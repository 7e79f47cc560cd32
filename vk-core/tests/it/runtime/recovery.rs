//! Restart adoption, orphan clean-up, watch disconnects and 410s.
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use tokio::time::Duration;
use vk_core::ProviderError;
use vk_testing::FakeApiServer;

use super::harness::{
    TestProvider, bind, builder, eventually, key, phase, pod, progress, start, wait_phase,
};

#[tokio::test]
async fn restarted_runtime_should_adopt_without_duplicate_creates_or_deletes() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::pushing());
    let first = start(builder(&api, provider.clone()));
    for name in ["a", "b", "c"] {
        bind(&api, &pod(name)).await;
    }
    for name in ["a", "b", "c"] {
        wait_phase(&api, name, "Running").await;
    }
    first.stop().await;
    assert_eq!(provider.count("create"), 3);

    // A new runtime over the same backend.
    let second = start(builder(&api, provider.clone()));
    bind(&api, &pod("d")).await;
    wait_phase(&api, "d", "Running").await;
    // Two resync scans (each lists the provider's pods and looks for orphans) had their
    // chance to make a wrong move.
    progress(&provider, "list", None, 2).await;
    assert_eq!(provider.count("create"), 4, "only the new pod was created");
    assert_eq!(provider.count("delete"), 0, "no healthy pod was deleted");
    for name in ["a", "b", "c"] {
        assert_eq!(phase(&api, name).await.as_deref(), Some("Running"));
    }
    // Adopted pods are managed: deleting one deletes it in the provider.
    Api::<Pod>::namespaced(api.client(), "default")
        .delete("a", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the adopted pod to be deleted in the provider", || async {
        (!provider.has(&key("a"))).then_some(())
    })
    .await;
    second.stop().await;
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_should_still_be_deleted_in_the_provider() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::pushing());
    *provider.lose_create_answers.lock().unwrap() = true;
    // No orphan sweep and no create retry before the deletion: only the deletion itself
    // can remove what the lost create left.
    let running = start(
        builder(&api, provider.clone())
            .orphan_grace(Duration::from_secs(3600))
            .retry_backoff(Duration::from_secs(60), Duration::from_secs(60)),
    );
    bind(&api, &pod("lost")).await;
    eventually("the create to reach the backend", || async {
        provider.has(&key("lost")).then_some(())
    })
    .await;
    Api::<Pod>::namespaced(api.client(), "default")
        .delete("lost", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the pod object to go", || async {
        phase(&api, "lost").await.is_none().then_some(())
    })
    .await;
    assert!(
        !provider.has(&key("lost")),
        "an uncertain create is treated as created: its deletion reaches the backend"
    );
    running.stop().await;
}

#[tokio::test]
async fn an_absurd_retry_hint_should_neither_kill_a_worker_nor_park_the_pod() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::pushing());
    // The backend asks for a wait no clock can add (a hostile or broken Retry-After).
    provider.on_create(|pod| {
        (pod.metadata.name.as_deref() == Some("hinted")).then(|| ProviderError::Transient {
            reason: "Throttled".into(),
            message: "come back much later".into(),
            retry_after: Some(Duration::MAX),
            source: None,
        })
    });
    // One worker: if it dies, nothing else is ever created.
    let running = start(builder(&api, provider.clone()).workers(1));
    bind(&api, &pod("hinted")).await;
    eventually("the hinted create", || async {
        (provider.count_for("create", &key("hinted")) > 0).then_some(())
    })
    .await;
    bind(&api, &pod("next")).await;
    wait_phase(&api, "next", "Running").await;
    running.stop().await;
}

#[tokio::test]
async fn a_stale_gone_push_should_not_fail_a_pod_the_backend_still_runs() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::pushing());
    let running = start(builder(&api, provider.clone()));
    bind(&api, &pod("kept")).await;
    wait_phase(&api, "kept", "Running").await;
    // A read made for an earlier pod of this name comes back empty and is pushed.
    let reads = provider.count_for("status", &key("kept"));
    provider.push_gone(&key("kept"));
    // The runtime checks the push with a read of its own, and a resync scan passes.
    eventually("the gone push to be checked", || async {
        (provider.count_for("status", &key("kept")) > reads).then_some(())
    })
    .await;
    progress(&provider, "list", None, 1).await;
    assert_eq!(
        phase(&api, "kept").await.as_deref(),
        Some("Running"),
        "the backend still runs the pod: a gone push is checked before failing it"
    );
    // A pod that really went is still reported.
    provider.pods.lock().unwrap().remove(&key("kept"));
    provider.push_gone(&key("kept"));
    wait_phase(&api, "kept", "Failed").await;
    running.stop().await;
}

#[tokio::test]
async fn orphaned_provider_pod_should_be_deleted_after_the_grace_period() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::with_pods(
        false,
        &[(key("ghost"), "uid-of-a-pod-long-gone".to_owned())],
    ));
    let rt = start(builder(&api, provider.clone()).orphan_grace(Duration::from_millis(800)));
    bind(&api, &pod("live")).await;
    wait_phase(&api, "live", "Running").await;
    assert!(
        provider.has(&key("ghost")),
        "not deleted before the grace period"
    );
    eventually("the orphan to be deleted", || async {
        (!provider.has(&key("ghost"))).then_some(())
    })
    .await;
    assert!(provider.has(&key("live")), "pods with an API pod stay");
    rt.stop().await;
}

#[tokio::test]
async fn watch_disconnects_and_410s_should_be_recovered() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::pushing());
    let rt = start(builder(&api, provider.clone()));
    bind(&api, &pod("before")).await;
    wait_phase(&api, "before", "Running").await;

    // The connection drops; the next watch attempts get 410 Gone.
    api.knobs().expire_next_watches(2);
    api.knobs().compact();
    api.knobs().disconnect_watches();
    bind(&api, &pod("during")).await;
    wait_phase(&api, "during", "Running").await;

    // A deletion that happens while the watch is down is still noticed.
    api.knobs().disconnect_watches();
    Api::<Pod>::namespaced(api.client(), "default")
        .delete("before", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the pod deleted during a disconnect to go", || async {
        (!provider.has(&key("before")) && phase(&api, "before").await.is_none()).then_some(())
    })
    .await;
    bind(&api, &pod("after")).await;
    wait_phase(&api, "after", "Running").await;
    assert_eq!(provider.count("create"), 3);
    rt.stop().await;
}

#[tokio::test]
async fn pods_bound_while_the_watch_relists_should_run_without_waiting_for_a_resync() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::pushing());
    // No periodic resync within the test: only the relist can bring the pods in.
    let rt = start(builder(&api, provider.clone()).resync_period(Duration::from_secs(3600)));
    bind(&api, &pod("before")).await;
    wait_phase(&api, "before", "Running").await;

    // The watch drops and must relist (410 Gone); pods are bound meanwhile.
    api.knobs().expire_next_watches(2);
    api.knobs().compact();
    api.knobs().disconnect_watches();
    for i in 0..5 {
        bind(&api, &pod(&format!("during-{i}"))).await;
    }
    for i in 0..5 {
        wait_phase(&api, &format!("during-{i}"), "Running").await;
    }
    assert_eq!(provider.count("create"), 6);
    rt.stop().await;
}
