//! Bearer tokens and SubjectAccessReviews against the fake API server, over TLS.
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Empty;
use vk_core::server::auth::Credentials;
use vk_core::server::{Auth, AuthConfig};
use vk_testing::{AccessRequest, FakeApiServer};

use super::harness::{EchoProvider, request, start_with_auth};
use super::pki::Pki;

const READER: &str = "system:serviceaccount:default:reader";
const OPERATOR: &str = "system:serviceaccount:default:operator";

/// A WebSocket upgrade (an HTTP GET) of `uri`, as `kubectl` 1.30+ sends it.
fn websocket(uri: &str, token: &str) -> http::Request<Empty<Bytes>> {
    http::Request::get(uri)
        .header("host", "127.0.0.1")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-protocol", "v5.channel.k8s.io")
        .header("authorization", format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap()
}

/// The fake API server where `reader` may only `get` nodes/proxy and `operator` may also
/// `create` it, recording every SubjectAccessReview it answers.
async fn cluster() -> (FakeApiServer, Arc<Mutex<Vec<AccessRequest>>>) {
    let api = FakeApiServer::start().await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    api.knobs()
        .set_access_policy(Some(Arc::new(move |r: &AccessRequest| {
            seen.lock().unwrap().push(r.clone());
            let verbs: &[&str] = match r.user.as_str() {
                READER => &["get"],
                OPERATOR => &["get", "create"],
                _ => &[],
            };
            r.resource == "nodes"
                && r.subresource == "proxy"
                && r.name == "vk"
                && verbs.contains(&r.verb.as_str())
        })));
    (api, asked)
}

// Issue 15, item 6: a WebSocket exec is an HTTP GET; `get` on nodes/proxy must not be
// enough to run commands, attach or forward ports.
#[tokio::test]
async fn streaming_over_a_websocket_get_should_need_create_on_nodes_proxy() {
    let (api, asked) = cluster().await;
    let pki = Pki::new("kube-apiserver-kubelet-client");
    let auth = Auth::new(AuthConfig::default(), Some(api.client()));
    let (addr, _dir) = start_with_auth(&pki, Arc::new(EchoProvider), auth).await;
    let reader = api.service_account_token("default", "reader", &[]);
    let operator = api.service_account_token("default", "operator", &[]);

    for uri in [
        "/exec/default/web/c?command=echo&command=hi&output=1",
        "/attach/default/web/c?output=1",
        "/portForward/default/web",
        "/run/default/web/c?cmd=echo+hi",
    ] {
        let res = request(addr, pki.client_config(false), websocket(uri, &reader))
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "get on nodes/proxy must not allow {uri}");
    }
    assert!(
        asked
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.user == READER)
            .all(|r| r.verb == "create"),
        "streaming endpoints are reviewed with the create verb"
    );

    // Reading stays a `get`, and `create` is what lets a WebSocket exec through.
    let pods = http::Request::get("/pods")
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {reader}"))
        .body(Empty::new())
        .unwrap();
    let res = request(addr, pki.client_config(false), pods).await.unwrap();
    assert_eq!(res.status(), 200);
    let uri = "/exec/default/web/c?command=echo&command=hi&output=1";
    let res = request(addr, pki.client_config(false), websocket(uri, &operator))
        .await
        .unwrap();
    assert_eq!(res.status(), 101);
}

fn bearer(token: &str) -> Credentials {
    Credentials {
        token: Some(token.to_owned()),
        ..Credentials::default()
    }
}

// Issue 15, item 13: random bearer tokens must neither push authenticated tokens out of
// the cache nor turn into one TokenReview each.
#[tokio::test]
async fn a_flood_of_unknown_tokens_should_neither_evict_known_ones_nor_hammer_the_api_server() {
    let (api, _) = cluster().await;
    let auth = Auth::new(
        AuthConfig {
            cache_capacity: 8,
            ..AuthConfig::default()
        },
        Some(api.client()),
    );
    let reader = api.service_account_token("default", "reader", &[]);
    let user = auth.authenticate(&bearer(&reader)).await.unwrap();
    assert_eq!(user.username, READER);
    let reviews = || api.counters().get("create", "tokenreviews");
    assert_eq!(reviews(), 1);

    for i in 0..200 {
        let refused = auth.authenticate(&bearer(&format!("random-{i}"))).await;
        assert!(refused.is_err(), "random token {i} was accepted");
    }
    let flood = reviews() - 1;
    assert!(
        flood < 60,
        "{flood} TokenReviews for 200 unknown tokens: reviews of uncached tokens are bounded"
    );

    let again = auth.authenticate(&bearer(&reader)).await.unwrap();
    assert_eq!(again.username, READER);
    assert_eq!(
        reviews(),
        flood + 1,
        "the authenticated token is still cached after the flood"
    );
}
