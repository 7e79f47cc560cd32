//! list and watch: resourceVersion resumption, 410 Expired, bookmarks and selectors.
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::json;
use tokio::time::{Duration, timeout};
use vk_testing::FakeApiServer;

use super::crud::pod;

const PATIENCE: Duration = Duration::from_secs(10);

fn name_of(e: &WatchEvent<Pod>) -> (String, String) {
    match e {
        WatchEvent::Added(p) => ("ADDED".into(), p.metadata.name.clone().unwrap()),
        WatchEvent::Modified(p) => ("MODIFIED".into(), p.metadata.name.clone().unwrap()),
        WatchEvent::Deleted(p) => ("DELETED".into(), p.metadata.name.clone().unwrap()),
        WatchEvent::Bookmark(_) => ("BOOKMARK".into(), String::new()),
        WatchEvent::Error(e) => ("ERROR".into(), e.code.to_string()),
    }
}

#[tokio::test]
async fn a_watch_from_a_list_resource_version_should_replay_later_changes_in_order() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("before", None))
        .await
        .unwrap();
    let list = pods.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    pods.create(&PostParams::default(), &pod("a", None))
        .await
        .unwrap();
    pods.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
    )
    .await
    .unwrap();
    pods.delete("a", &Default::default()).await.unwrap();

    let mut stream = pods
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let mut got = Vec::new();
    while got.len() < 3 {
        let ev = timeout(PATIENCE, stream.try_next())
            .await
            .expect("watch stalled")
            .unwrap()
            .unwrap();
        got.push(name_of(&ev));
    }
    assert_eq!(
        got,
        vec![
            ("ADDED".into(), "a".into()),
            ("MODIFIED".into(), "a".into()),
            ("DELETED".into(), "a".into())
        ]
    );
}

#[tokio::test]
async fn a_watch_from_a_compacted_resource_version_should_get_410_expired() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let rv = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    pods.create(&PostParams::default(), &pod("a", None))
        .await
        .unwrap();
    server.knobs().compact();
    let mut stream = pods
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let ev = timeout(PATIENCE, stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match ev {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410, got {other:?}"),
    }
}

#[tokio::test]
async fn a_field_selected_watch_should_see_a_pod_arrive_when_it_is_bound_to_the_node() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let all: Api<Pod> = Api::all(server.client());
    let wp = WatchParams::default().fields("spec.nodeName=vk");
    let mut stream = all.watch(&wp, "0").await.unwrap().boxed();
    pods.create(&PostParams::default(), &pod("elsewhere", Some("other")))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("unbound", None))
        .await
        .unwrap();
    // Binding moves the pod into the selection: ADDED, not MODIFIED.
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "unbound"}, "target": {"kind": "Node", "name": "vk"}});
    let _: serde_json::Value = server
        .client()
        .request(
            http::Request::post("/api/v1/namespaces/default/pods/unbound/binding")
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&binding).unwrap())
                .unwrap(),
        )
        .await
        .unwrap();
    let ev = timeout(PATIENCE, stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(name_of(&ev), ("ADDED".into(), "unbound".into()));

    let listed = all
        .list(&ListParams::default().fields("spec.nodeName=vk"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let listed = all
        .list(&ListParams::default().fields("spec.nodeName!=vk,metadata.namespace=default"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn label_selectors_should_filter_lists() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let mut a = pod("a", None);
    a.metadata
        .labels
        .get_or_insert_default()
        .insert("tier".to_owned(), "fe".to_owned());
    pods.create(&PostParams::default(), &a).await.unwrap();
    pods.create(&PostParams::default(), &pod("b", None))
        .await
        .unwrap();
    let n = |sel: &str| {
        let pods = pods.clone();
        let sel = sel.to_owned();
        async move {
            pods.list(&ListParams::default().labels(&sel))
                .await
                .unwrap()
                .items
                .len()
        }
    };
    assert_eq!(n("tier=fe").await, 1);
    assert_eq!(n("tier in (fe,be)").await, 1);
    assert_eq!(n("!tier").await, 1);
    assert_eq!(n("app=web,tier notin (fe)").await, 1);
    assert_eq!(n("app").await, 2);
}

#[tokio::test]
async fn bookmarks_should_arrive_when_asked_for() {
    let server = FakeApiServer::builder()
        .bookmark_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let pods: Api<Pod> = Api::default_namespaced(server.client());
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
    let ev = timeout(PATIENCE, stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match ev {
        WatchEvent::Bookmark(b) => assert_eq!(b.metadata.resource_version, rv),
        other => panic!("expected a bookmark, got {other:?}"),
    }
}

#[tokio::test]
async fn the_kube_watcher_should_recover_from_410_and_disconnects_by_relisting() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let mut events = watcher(pods.clone(), watcher::Config::default()).boxed();
    // Wait for the initial list to be done.
    loop {
        let ev = timeout(PATIENCE, events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if matches!(ev, watcher::Event::InitDone) {
            break;
        }
    }
    server.knobs().expire_next_watches(1);
    server.knobs().disconnect_watches();
    pods.create(&PostParams::default(), &pod("after", None))
        .await
        .unwrap();
    let saw = timeout(PATIENCE, async {
        while let Some(ev) = events.next().await {
            if let Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) = ev
                && p.metadata.name.as_deref() == Some("after")
            {
                return true;
            }
        }
        false
    })
    .await
    .expect("the watcher did not recover");
    assert!(saw);
    assert!(
        server.counters().get("list", "pods") >= 2,
        "{:?}",
        server.counters().snapshot()
    );
}

#[tokio::test]
async fn the_kube_watcher_should_work_with_streaming_lists() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("before", None))
        .await
        .unwrap();
    let mut events = watcher(pods.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        match timeout(PATIENCE, events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            watcher::Event::InitApply(p) => initial.push(p.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["before"]);
    pods.create(&PostParams::default(), &pod("after", None))
        .await
        .unwrap();
    let ev = timeout(PATIENCE, events.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        matches!(ev, watcher::Event::Apply(ref p) if p.metadata.name.as_deref() == Some("after")),
        "{ev:?}"
    );
    assert_eq!(
        server.counters().get("list", "pods"),
        0,
        "no list with streaming lists"
    );
}
