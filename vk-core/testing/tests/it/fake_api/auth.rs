//! TokenRequest, TokenReview, SubjectAccessReview and request authentication.
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenReview};
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use vk_testing::FakeApiServer;

async fn review(server: &FakeApiServer, token: &str, audiences: &[&str]) -> TokenReview {
    let reviews: Api<TokenReview> = Api::all(server.client());
    let tr: TokenReview = serde_json::from_value(json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": token, "audiences": audiences},
    }))
    .unwrap();
    reviews.create(&PostParams::default(), &tr).await.unwrap()
}

#[tokio::test]
async fn a_token_request_should_mint_a_token_the_token_review_recognises() {
    let server = FakeApiServer::start().await;
    let sas: Api<ServiceAccount> = Api::default_namespaced(server.client());
    let req: TokenRequest = serde_json::from_value(json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"audiences": ["vk-aci"], "expirationSeconds": 3600},
    }))
    .unwrap();
    let minted = sas
        .create_token_request("default", &PostParams::default(), &req)
        .await
        .unwrap();
    let token = minted.status.unwrap().token.unwrap();

    let ok = review(&server, &token, &["vk-aci"]).await.status.unwrap();
    assert_eq!(ok.authenticated, Some(true));
    let user = ok.user.unwrap();
    assert_eq!(
        user.username.as_deref(),
        Some("system:serviceaccount:default:default")
    );
    assert!(
        user.groups
            .unwrap()
            .contains(&"system:serviceaccounts:default".to_owned())
    );

    let wrong_audience = review(&server, &token, &["someone-else"])
        .await
        .status
        .unwrap();
    assert_eq!(wrong_audience.authenticated, Some(false));
    let bogus = review(&server, "bogus", &[]).await.status.unwrap();
    assert_eq!(bogus.authenticated, Some(false));
    let admin = review(&server, server.admin_token(), &[])
        .await
        .status
        .unwrap();
    assert_eq!(admin.authenticated, Some(true));
}

#[tokio::test]
async fn subject_access_reviews_should_follow_the_policy_and_the_knobs() {
    let server = FakeApiServer::start().await;
    let sars: Api<SubjectAccessReview> = Api::all(server.client());
    let ask = |user: &str, groups: &[&str]| {
        serde_json::from_value::<SubjectAccessReview>(json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "proxy", "name": "vk"}},
        }))
        .unwrap()
    };
    let allowed = |r: SubjectAccessReview| r.status.unwrap().allowed;
    let sa = ask(
        "system:serviceaccount:monitoring:prometheus",
        &["system:serviceaccounts"],
    );
    assert!(allowed(
        sars.create(&PostParams::default(), &sa).await.unwrap()
    ));
    assert!(allowed(
        sars.create(
            &PostParams::default(),
            &ask("kube-apiserver-kubelet-client", &["system:masters"])
        )
        .await
        .unwrap()
    ));
    assert!(!allowed(
        sars.create(
            &PostParams::default(),
            &ask("system:anonymous", &["system:unauthenticated"])
        )
        .await
        .unwrap()
    ));
    server.knobs().deny_service_accounts(true);
    assert!(!allowed(
        sars.create(&PostParams::default(), &sa).await.unwrap()
    ));
}

#[tokio::test]
async fn a_service_account_token_should_authenticate_requests_and_an_unknown_token_should_not() {
    let server = FakeApiServer::start().await;
    let token = server.service_account_token("default", "default", &[]);
    let client = server.client_with_token(&token).unwrap();
    Api::<Pod>::default_namespaced(client)
        .list(&ListParams::default())
        .await
        .unwrap();

    let bad = server.client_with_token("not-a-token").unwrap();
    let err = Api::<Pod>::default_namespaced(bad)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!(s.code, 401),
        other => panic!("expected 401, got {other:?}"),
    }
}
