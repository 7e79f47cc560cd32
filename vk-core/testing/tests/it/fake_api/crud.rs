//! Create, get, replace, patch and delete through kube-rs.
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::core::Status;
use serde_json::json;
use vk_testing::FakeApiServer;

pub(crate) fn pod(name: &str, node: Option<&str>) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "nginx:1.27"}],
        },
    }))
    .unwrap()
}

fn api_error(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_new_cluster_should_have_the_system_namespaces_and_default_service_accounts() {
    let server = FakeApiServer::start().await;
    let client = server.client();
    let names: Vec<String> = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for ns in ["default", "kube-system", "kube-node-lease"] {
        assert!(names.contains(&ns.to_owned()), "{names:?}");
        let sa = Api::<ServiceAccount>::namespaced(client.clone(), ns);
        sa.get("default").await.unwrap();
    }
}

#[tokio::test]
async fn create_should_fill_metadata_and_a_second_create_should_conflict() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let created = pods
        .create(&PostParams::default(), &pod("web", None))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.resource_version.is_some());
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    assert_eq!(
        created.status.unwrap().phase.as_deref(),
        Some("Pending"),
        "a new pod is Pending"
    );

    let err = api_error(
        pods.create(&PostParams::default(), &pod("web", None))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));

    let err = api_error(pods.get("nope").await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert_eq!(err.message, "pods \"nope\" not found");
}

#[tokio::test]
async fn generate_name_should_give_a_unique_name_with_the_prefix() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let mut p = pod("", None);
    p.metadata.name = None;
    p.metadata.generate_name = Some("job-".into());
    let a = pods.create(&PostParams::default(), &p).await.unwrap();
    let b = pods.create(&PostParams::default(), &p).await.unwrap();
    let (a, b) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(a.starts_with("job-") && a.len() == 9, "{a}");
    assert_ne!(a, b);
}

#[tokio::test]
async fn replace_with_a_stale_resource_version_should_conflict() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let first = pods
        .create(&PostParams::default(), &pod("web", None))
        .await
        .unwrap();
    let mut a = first.clone();
    a.metadata.labels = Some([("v".to_owned(), "1".to_owned())].into());
    let replaced = pods
        .replace("web", &PostParams::default(), &a)
        .await
        .unwrap();
    assert_ne!(
        replaced.metadata.resource_version,
        first.metadata.resource_version
    );
    assert_eq!(replaced.metadata.generation, Some(1), "labels are not spec");

    let mut stale = first.clone();
    stale.metadata.labels = Some([("v".to_owned(), "2".to_owned())].into());
    let err = api_error(
        pods.replace("web", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains("the object has been modified"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn spec_changes_should_bump_generation_and_status_writes_should_not_touch_spec() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("web", None))
        .await
        .unwrap();
    let patched = pods
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"activeDeadlineSeconds": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(2));

    // The main resource ignores status; the status subresource takes only status.
    let p = pods
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running"}})),
        )
        .await
        .unwrap();
    assert_eq!(p.status.unwrap().phase.as_deref(), Some("Pending"));
    let p = pods
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"phase": "Running"}, "spec": {"activeDeadlineSeconds": 9}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(p.status.unwrap().phase.as_deref(), Some("Running"));
    assert_eq!(p.spec.unwrap().active_deadline_seconds, Some(5));
}

#[tokio::test]
async fn strategic_merge_patch_should_merge_pod_conditions_by_type() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("web", None))
        .await
        .unwrap();
    for cond in [
        json!({"type": "PodScheduled", "status": "True"}),
        json!({"type": "Ready", "status": "False"}),
        json!({"type": "Ready", "status": "True"}),
    ] {
        pods.patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"status": {"conditions": [cond]}})),
        )
        .await
        .unwrap();
    }
    let conds = pods
        .get("web")
        .await
        .unwrap()
        .status
        .unwrap()
        .conditions
        .unwrap();
    let got: Vec<(String, String)> = conds.into_iter().map(|c| (c.type_, c.status)).collect();
    assert_eq!(
        got,
        vec![
            ("PodScheduled".to_owned(), "True".to_owned()),
            ("Ready".to_owned(), "True".to_owned())
        ]
    );
}

#[tokio::test]
async fn deleting_a_bound_pod_should_be_graceful_until_grace_zero() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("web", Some("vk")))
        .await
        .unwrap();
    let res = pods.delete("web", &DeleteParams::default()).await.unwrap();
    let terminating = res.left().expect("a graceful delete returns the pod");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(30));
    assert!(
        pods.get("web").await.is_ok(),
        "the pod stays while terminating"
    );

    pods.delete("web", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let err = api_error(pods.get("web").await.unwrap_err());
    assert_eq!(err.code, 404);
}

#[tokio::test]
async fn deleting_an_unbound_pod_should_remove_it_at_once() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("web", None))
        .await
        .unwrap();
    pods.delete("web", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_error(pods.get("web").await.unwrap_err()).code, 404);
}

#[tokio::test]
async fn a_delete_with_a_wrong_uid_precondition_should_conflict() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    pods.create(&PostParams::default(), &pod("web", Some("vk")))
        .await
        .unwrap();
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("not-the-uid".into()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let err = api_error(pods.delete("web", &dp).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains("Precondition failed"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn creating_in_a_missing_namespace_should_be_not_found() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "nowhere");
    let err = api_error(
        pods.create(&PostParams::default(), &pod("web", None))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 404);
    assert_eq!(err.message, "namespaces \"nowhere\" not found");
}

#[tokio::test]
async fn list_should_page_with_limit_and_continue() {
    let server = FakeApiServer::start().await;
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    for i in 0..5 {
        pods.create(&PostParams::default(), &pod(&format!("p{i}"), None))
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(2);
    loop {
        let page = pods.list(&lp).await.unwrap();
        assert!(page.items.len() <= 2);
        names.extend(page.items.into_iter().filter_map(|p| p.metadata.name));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4"]);
}
