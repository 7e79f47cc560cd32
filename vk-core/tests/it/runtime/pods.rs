//! Pod lifecycle: create, status, update, deletion, failures, references.
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use tokio::time::Duration;
use vk_core::ProviderError;
use vk_testing::FakeApiServer;

use super::harness::{
    TestProvider, bind, builder, eventually, key, phase, pod, progress, start, wait_phase,
};

async fn events_for(api: &FakeApiServer, name: &str) -> Vec<Event> {
    Api::<Event>::namespaced(api.client(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .collect()
}

async fn wait_event(api: &FakeApiServer, name: &str, reason: &str) -> Event {
    eventually(&format!("event {reason} for {name}"), || async {
        events_for(api, name)
            .await
            .into_iter()
            .find(|e| e.reason.as_deref() == Some(reason))
    })
    .await
}

#[tokio::test]
async fn bound_pod_should_be_created_and_running_in_the_api() {
    for push in [false, true] {
        let api = FakeApiServer::start().await;
        let provider = Arc::new(if push {
            TestProvider::pushing()
        } else {
            TestProvider::default()
        });
        let rt = start(builder(&api, provider.clone()));
        bind(&api, &pod("web")).await;
        let p = wait_phase(&api, "web", "Running").await;
        let status = p.status.unwrap();
        assert_eq!(status.pod_ip.as_deref(), Some("10.1.0.5"), "push={push}");
        assert!(status.container_statuses.unwrap()[0].ready);
        wait_event(&api, "web", "ProviderCreateSuccess").await;
        assert_eq!(provider.count_for("create", &key("web")), 1);
        assert!(rt.store.get(&key("web")).is_some());
        rt.stop().await;
    }
}

#[tokio::test]
async fn twenty_pods_bound_then_eighteen_deleted_should_leave_two() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::pushing());
    let rt = start(builder(&api, provider.clone()));
    for i in 0..20 {
        bind(&api, &pod(&format!("p{i}"))).await;
    }
    for i in 0..20 {
        wait_phase(&api, &format!("p{i}"), "Running").await;
    }
    let pods: Api<Pod> = Api::namespaced(api.client(), "default");
    for i in 2..20 {
        pods.delete(&format!("p{i}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    eventually("18 pods to be gone from the API", || async {
        let left = pods.list(&ListParams::default()).await.unwrap().items.len();
        (left == 2).then_some(())
    })
    .await;
    assert_eq!(provider.pods.lock().unwrap().len(), 2);
    assert!(provider.has(&key("p0")) && provider.has(&key("p1")));
    assert_eq!(provider.count("create"), 20, "one create per pod");
    assert_eq!(provider.count("delete"), 18, "one delete per deleted pod");
    rt.stop().await;
}

#[tokio::test]
async fn graceful_deletion_should_delete_in_the_provider_then_remove_the_pod() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::default());
    let rt = start(builder(&api, provider.clone()));
    bind(&api, &pod("web")).await;
    wait_phase(&api, "web", "Running").await;
    let pods: Api<Pod> = Api::namespaced(api.client(), "default");
    pods.delete(
        "web",
        &DeleteParams {
            grace_period_seconds: Some(30),
            ..DeleteParams::default()
        },
    )
    .await
    .unwrap();
    eventually("the pod object to be removed", || async {
        phase(&api, "web").await.is_none().then_some(())
    })
    .await;
    assert!(!provider.has(&key("web")));
    assert_eq!(provider.count_for("delete", &key("web")), 1);
    rt.stop().await;
}

/// The containers' state in one watched version of the pod: (deleting, phase, reasons of
/// terminated containers).
fn seen(pod: &Pod) -> (bool, Option<String>, Vec<String>) {
    let status = pod.status.clone().unwrap_or_default();
    let ended = status
        .container_statuses
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| c.state?.terminated?.reason)
        .collect();
    (
        pod.metadata.deletion_timestamp.is_some(),
        status.phase,
        ended,
    )
}

#[tokio::test]
async fn graceful_deletion_should_show_the_containers_terminated_before_the_pod_goes() {
    use futures::StreamExt;
    use kube::runtime::watcher;

    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::pushing());
    let rt = start(builder(&api, provider.clone()));
    bind(&api, &pod("web")).await;
    wait_phase(&api, "web", "Running").await;
    let pods: Api<Pod> = Api::namespaced(api.client(), "default");
    let config = watcher::Config::default().fields("metadata.name=web");
    let mut versions = Box::pin(watcher(pods.clone(), config));
    // The watch has listed the running pod before the deletion starts.
    while !matches!(versions.next().await, Some(Ok(watcher::Event::InitDone))) {}
    pods.delete(
        "web",
        &DeleteParams {
            grace_period_seconds: Some(30),
            ..DeleteParams::default()
        },
    )
    .await
    .unwrap();

    let mut history = Vec::new();
    let deleted = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = versions.next().await {
            match event.unwrap() {
                watcher::Event::Apply(p) => history.push(seen(&p)),
                watcher::Event::Delete(_) => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(deleted.is_ok(), "the pod was not removed; saw {history:?}");
    // The last version before removal: deleting, terminal, every container terminated.
    let last = history.last().cloned();
    assert_eq!(
        last,
        Some((
            true,
            Some("Succeeded".to_owned()),
            vec!["Completed".to_owned()]
        )),
        "versions seen: {history:?}"
    );
    assert_eq!(provider.count_for("delete", &key("web")), 1);
    rt.stop().await;
}

#[tokio::test]
async fn unsupported_pod_should_fail_with_the_providers_message_and_an_event() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::default());
    provider.on_create(|_| Some(ProviderError::unsupported("GPU type K80 is not offered")));
    let rt = start(builder(&api, provider.clone()));
    bind(&api, &pod("gpu")).await;
    let p = wait_phase(&api, "gpu", "Failed").await;
    let status = p.status.unwrap();
    assert_eq!(status.reason.as_deref(), Some("ProviderUnsupported"));
    assert_eq!(
        status.message.as_deref(),
        Some("GPU type K80 is not offered")
    );
    let ev = wait_event(&api, "gpu", "ProviderCreateFailed").await;
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert!(ev.note.unwrap().contains("GPU type K80 is not offered"));
    // Not retried: two resyncs queue every pod again, and no create follows.
    progress(&provider, "list", None, 2).await;
    assert_eq!(provider.count("create"), 1);
    rt.stop().await;
}

#[tokio::test]
async fn daemonset_pod_should_be_refused() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::default());
    let rt = start(builder(&api, provider.clone()));
    let mut p = pod("ds-abc");
    p.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "DaemonSet".into(),
            name: "ds".into(),
            uid: "ds-uid".into(),
            ..Default::default()
        },
    ]);
    bind(&api, &p).await;
    let failed = wait_phase(&api, "ds-abc", "Failed").await;
    assert_eq!(
        failed.status.unwrap().message.as_deref(),
        Some("DaemonSet pods are not scheduled to virtual nodes")
    );
    wait_event(&api, "ds-abc", "DaemonSetNotSupported").await;
    assert_eq!(provider.count("create"), 0);
    rt.stop().await;
}

#[tokio::test]
async fn transient_failure_should_stay_pending_with_the_reason_then_run() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::default());
    let failures = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = failures.clone();
    provider.on_create(move |_| {
        (seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 3)
            .then(|| ProviderError::transient("QuotaExceeded", "regional core quota reached"))
    });
    let rt = start(
        builder(&api, provider.clone())
            .retry_backoff(Duration::from_millis(200), Duration::from_secs(1)),
    );
    bind(&api, &pod("web")).await;
    let pods: Api<Pod> = Api::namespaced(api.client(), "default");
    eventually("the reason to show while pending", || async {
        let p = pods.get("web").await.unwrap();
        let s = p.status?;
        (s.phase.as_deref() == Some("Pending") && s.reason.as_deref() == Some("QuotaExceeded"))
            .then_some(())
    })
    .await;
    let p = wait_phase(&api, "web", "Running").await;
    assert_eq!(
        p.status.unwrap().reason,
        None,
        "the pending reason is cleared"
    );
    assert_eq!(provider.count("create"), 4);
    rt.stop().await;
}

#[tokio::test]
async fn referenced_secrets_and_configmaps_should_reach_the_provider() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::default());
    let rt = start(builder(&api, provider.clone()));
    let mut p: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {
            "nodeName": super::harness::NODE,
            "containers": [{
                "name": "app", "image": "nginx",
                "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
                "envFrom": [{"configMapRef": {"name": "settings"}}, {"secretRef": {"name": "maybe", "optional": true}}],
            }],
            "volumes": [{"name": "token", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token", "audience": "vault", "expirationSeconds": 3600}}
            ]}}],
        },
    }))
    .unwrap();
    p.metadata.labels = None;
    bind(&api, &p).await;
    // The secret is missing: the pod waits with the kubelet's reason.
    let pods: Api<Pod> = Api::namespaced(api.client(), "default");
    eventually(
        "CreateContainerConfigError while the secret is missing",
        || async {
            let s = pods.get("app").await.unwrap().status?;
            (s.reason.as_deref() == Some("CreateContainerConfigError")).then_some(())
        },
    )
    .await;
    assert_eq!(provider.count("create"), 0);

    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("db".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "password".to_owned(),
            ByteString(b"hunter2".to_vec()),
        )])),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(api.client(), "default")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("settings".into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("MODE".to_owned(), "prod".to_owned())])),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(api.client(), "default")
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();

    wait_phase(&api, "app", "Running").await;
    let res = provider.resources.lock().unwrap()[&key("app")].clone();
    assert_eq!(
        res.secrets["db"].data.as_ref().unwrap()["password"].0,
        b"hunter2"
    );
    assert!(!res.secrets.contains_key("maybe"), "optional and missing");
    assert_eq!(
        res.config_maps["settings"].data.as_ref().unwrap()["MODE"],
        "prod"
    );
    assert!(!res.service_account_tokens["token/token"].is_empty());
    rt.stop().await;
}

#[tokio::test]
async fn spec_change_should_be_pushed_with_update_pod() {
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::default());
    let rt = start(builder(&api, provider.clone()));
    bind(&api, &pod("web")).await;
    wait_phase(&api, "web", "Running").await;
    assert_eq!(
        provider.count("update"),
        0,
        "status writes are not spec changes"
    );
    let pods: Api<Pod> = Api::namespaced(api.client(), "default");
    pods.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"activeDeadlineSeconds": 600}})),
    )
    .await
    .unwrap();
    eventually("update_pod to be called", || async {
        (provider.count("update") == 1).then_some(())
    })
    .await;
    rt.stop().await;
}

#[tokio::test]
async fn pushed_statuses_and_deletions_should_not_wait_behind_slow_creates() {
    // Regression (ACI load scenario at 10,000 pods): creates held up by ARM's write budget
    // kept every worker busy, and pushed statuses waited behind the whole backlog.
    let api = FakeApiServer::start().await;
    let provider = Arc::new(TestProvider::pushing());
    let rt = start(builder(&api, provider.clone()).workers(2));
    bind(&api, &pod("first")).await;
    wait_phase(&api, "first", "Running").await;

    *provider.create_delay.lock().unwrap() = Duration::from_millis(500);
    for i in 0..20 {
        bind(&api, &pod(&format!("slow-{i}"))).await;
    }
    eventually("the slow creates to start", || async {
        (provider.count("create") > 1).then_some(())
    })
    .await;
    let mut done = TestProvider::running(&key("first"));
    done.phase = Some("Succeeded".into());
    provider.push_status(&key("first"), done);
    wait_phase(&api, "first", "Succeeded").await;
    let creates = provider.count("create") - 1;
    assert!(
        creates < 12,
        "the status waited for {creates} of 20 slow creates"
    );

    let pods: Api<Pod> = Api::namespaced(api.client(), "default");
    pods.delete("first", &DeleteParams::default())
        .await
        .unwrap();
    eventually("first to be gone", || async {
        pods.get_opt("first").await.unwrap().is_none().then_some(())
    })
    .await;
    let creates = provider.count("create") - 1;
    assert!(
        creates < 16,
        "the deletion waited for {creates} of 20 slow creates"
    );
    assert_eq!(provider.count_for("delete", &key("first")), 1);
    rt.stop().await;
}
