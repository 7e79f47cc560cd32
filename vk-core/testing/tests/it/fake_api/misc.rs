//! Events through kube's recorder, leases, a paused clock, and the standalone binary.
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::Resource;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::{Duration, timeout};
use vk_testing::FakeApiServer;

use super::crud::pod;

#[tokio::test]
async fn the_kube_event_recorder_should_publish_events() {
    let server = FakeApiServer::start().await;
    let client = server.client();
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let p = pods
        .create(&PostParams::default(), &pod("web", Some("vk")))
        .await
        .unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "vk-aci".into(),
            instance: Some("vk".into()),
        },
    );
    let ev = KubeEvent {
        type_: EventType::Warning,
        reason: "ProviderCreateFailed".into(),
        note: Some("quota exceeded".into()),
        action: "Create".into(),
        secondary: None,
    };
    recorder.publish(&ev, &p.object_ref(&())).await.unwrap();
    recorder.publish(&ev, &p.object_ref(&())).await.unwrap();
    let events = Api::<Event>::default_namespaced(client)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(
        events.items.len(),
        1,
        "the repeat is a patch of the same event"
    );
    assert_eq!(
        events.items[0].reason.as_deref(),
        Some("ProviderCreateFailed")
    );
}

#[tokio::test]
async fn a_lease_should_be_created_and_renewed_with_optimistic_concurrency() {
    let server = FakeApiServer::start().await;
    let leases: Api<Lease> = Api::namespaced(server.client(), "kube-node-lease");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "vk"},
        "spec": {"holderIdentity": "vk", "leaseDurationSeconds": 40},
    }))
    .unwrap();
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    let mut renewed = created.clone();
    renewed.spec.as_mut().unwrap().lease_duration_seconds = Some(41);
    leases
        .replace("vk", &PostParams::default(), &renewed)
        .await
        .unwrap();
    let err = leases
        .replace("vk", &PostParams::default(), &renewed)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_fake_should_answer_a_client_on_a_paused_clock() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("web", None))
        .await
        .unwrap();
    assert_eq!(
        pods.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
}

#[tokio::test]
async fn the_standalone_binary_should_print_its_url_and_write_a_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fake-apiserver"))
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--kubeconfig")
        .arg(&kc)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the binary printed nothing")
        .unwrap()
        .unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kc).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    Api::<Pod>::default_namespaced(client)
        .list(&ListParams::default())
        .await
        .unwrap();
    child.kill().await.unwrap();
}
