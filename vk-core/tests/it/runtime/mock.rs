//! The runtime driven by the testing kit's MockProvider: pushed status and pod lifecycles.
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use tokio::time::Duration;
use vk_core::{NodeConfig, Runtime, RuntimeBuilder};
use vk_testing::{FakeApiServer, MockProvider};

use super::harness::{NODE, bind, eventually, key, pod, start, wait_phase};

fn builder(api: &FakeApiServer, mock: &MockProvider) -> RuntimeBuilder {
    Runtime::builder(
        api.client(),
        Arc::new(mock.clone()),
        NodeConfig::named(NODE),
    )
    .resync_period(Duration::from_millis(500))
    .status_coalescing(Duration::from_millis(10))
    .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
    .lease(Duration::from_secs(40), Duration::from_millis(200))
    .node_status(Duration::from_millis(100), Duration::from_secs(300))
}

fn ready(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

#[tokio::test]
async fn node_ready_should_follow_the_providers_health() {
    let api = FakeApiServer::start().await;
    let mock = MockProvider::new();
    let rt = start(builder(&api, &mock));
    let nodes: Api<Node> = Api::all(api.client());
    let wait_ready = |want: &'static str| {
        let nodes = nodes.clone();
        async move {
            eventually(&format!("Ready={want}"), || async {
                let n = nodes.get_opt(NODE).await.unwrap()?;
                (ready(&n).as_deref() == Some(want)).then_some(())
            })
            .await;
        }
    };
    wait_ready("True").await;
    mock.set_healthy(false);
    wait_ready("False").await;
    mock.set_healthy(true);
    wait_ready("True").await;
    rt.stop().await;
}

#[tokio::test]
async fn pod_should_go_pending_running_succeeded_with_pushed_status() {
    let api = FakeApiServer::start().await;
    let mock = MockProvider::builder()
        .start_delay(Duration::from_millis(300))
        .build();
    let rt = start(builder(&api, &mock));
    let mut p = pod("job");
    p.metadata.annotations =
        Some([("mock.vk.io/exit-after".to_owned(), "500ms".to_owned())].into());
    bind(&api, &p).await;
    wait_phase(&api, "job", "Running").await;
    let done = wait_phase(&api, "job", "Succeeded").await;
    let status = done.status.unwrap();
    let state = status.container_statuses.unwrap()[0].state.clone().unwrap();
    assert_eq!(state.terminated.unwrap().exit_code, 0);
    rt.stop().await;
}

#[tokio::test]
async fn pod_lost_by_the_backend_should_be_marked_failed() {
    let api = FakeApiServer::start().await;
    let mock = MockProvider::builder().start_delay(Duration::ZERO).build();
    let rt = start(builder(&api, &mock));
    bind(&api, &pod("web")).await;
    wait_phase(&api, "web", "Running").await;
    mock.lose(&key("web"));
    let failed = wait_phase(&api, "web", "Failed").await;
    assert_eq!(
        failed.status.unwrap().reason.as_deref(),
        Some("ProviderPodNotFound")
    );
    rt.stop().await;
}

#[tokio::test]
async fn mock_rejected_pod_should_fail_and_invalid_input_too() {
    let api = FakeApiServer::start().await;
    let mock = MockProvider::new();
    let rt = start(builder(&api, &mock));
    for (name, rule, reason) in [
        ("no", "unsupported", "ProviderUnsupported"),
        ("bad", "invalid", "ProviderInvalidInput"),
    ] {
        let mut p: Pod = pod(name);
        p.metadata.annotations =
            Some([("mock.vk.io/create-error".to_owned(), rule.to_owned())].into());
        bind(&api, &p).await;
        let failed = wait_phase(&api, name, "Failed").await;
        assert_eq!(failed.status.unwrap().reason.as_deref(), Some(reason));
    }
    rt.stop().await;
}
