//! HTTPS with a certificate from the fake cluster CA, for kube-rs and kubectl.
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use vk_testing::FakeApiServer;

use super::crud::pod;

#[tokio::test]
async fn kube_rs_should_work_over_https_with_the_fake_ca() {
    let server = FakeApiServer::builder().tls(true).start().await.unwrap();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let client = server.client();
    let ns = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(ns.items.len() >= 3);
    let pods: Api<Pod> = Api::default_namespaced(client);
    let rv = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = pods
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    pods.create(&PostParams::default(), &pod("web", None))
        .await
        .unwrap();
    let ev = tokio::time::timeout(std::time::Duration::from_secs(10), stream.try_next())
        .await
        .expect("watch over https stalled")
        .unwrap()
        .unwrap();
    assert!(
        matches!(ev, WatchEvent::Added(ref p) if p.metadata.name.as_deref() == Some("web")),
        "{ev:?}"
    );
}

#[tokio::test]
async fn a_kubeconfig_read_back_by_kube_rs_should_reach_the_https_server() {
    let server = FakeApiServer::builder().tls(true).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path).unwrap();
    let kc = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    Api::<Pod>::default_namespaced(client)
        .list(&ListParams::default())
        .await
        .unwrap();

    let out = tokio::process::Command::new("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
        .arg("--kubeconfig")
        .arg(&path)
        .args(["get", "namespaces"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("kube-system"));
}
