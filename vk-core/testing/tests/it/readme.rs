//! The provider-author example of `vk-core/testing/README.md`, kept compiling and passing.
//! Keep the two in step.
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::wait::{await_condition, conditions::is_pod_running};
use tokio::sync::oneshot;
use tokio::time::{Duration, timeout};
use vk_core::{NodeConfig, Runtime};
use vk_testing::{FakeApiServer, MockProvider};

#[tokio::test]
async fn a_pod_bound_to_the_provider_node_should_run() {
    // A fake cluster on loopback, and your provider (here the MockProvider) as node `vk`.
    let api = FakeApiServer::start().await;
    let provider = Arc::new(MockProvider::new());
    let runtime = Runtime::builder(api.client(), provider, NodeConfig::named("vk")).build();
    let (stop, stopped) = oneshot::channel::<()>();
    let node = tokio::spawn(async move {
        runtime
            .run(async move {
                let _ = stopped.await;
            })
            .await
    });

    // A pod bound to the node (no scheduler needed), then wait for the provider to run it.
    let pods: Api<Pod> = Api::namespaced(api.client(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"nodeName": "vk", "containers": [{"name": "web", "image": "nginx"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    timeout(
        Duration::from_secs(30),
        await_condition(pods, "web", is_pod_running()),
    )
    .await
    .expect("the pod never ran: did the runtime register the node?")
    .unwrap();

    let _ = stop.send(());
    node.await.unwrap().unwrap();
}
