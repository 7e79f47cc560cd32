//! Authentication and authorization of kubelet API requests, as the kubelet does them.
//!
//! A request is authenticated by a client certificate verified against the configured
//! client CA (the API server's kubelet client certificate; the TLS layer verifies it and
//! records a [`ClientCertUser`]), or by a bearer token checked with a `TokenReview`.
//! Anything else is refused with 401: there is no anonymous access. The user is then
//! authorized with a `SubjectAccessReview` on the node with the kubelet's mapping of paths
//! to `nodes` subresources (see [`Attributes::of`]), except that exec, attach, run and
//! portForward always need the `create` verb, also over a WebSocket GET. Decisions are
//! cached briefly.
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use http::Method;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};
use tokio::time::{self, Duration, Instant};

use super::error::{Error, Result};

/// An authenticated user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserInfo {
    /// The user name (a certificate's CN, a token's user).
    pub username: String,
    /// The user's UID, if known.
    pub uid: String,
    /// Groups (a certificate's O entries).
    pub groups: Vec<String>,
    /// Extra attributes from TokenReview.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The identity of a client certificate that the TLS layer verified against the client CA,
/// stored as a request extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertUser(pub UserInfo);

/// How requests are authorized (the kubelet's `--authorization-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationMode {
    /// Every authenticated request is allowed.
    AlwaysAllow,
    /// Each request is checked with a SubjectAccessReview.
    Webhook,
}

/// Authentication and authorization settings, named after the kubelet's flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// `--authentication-token-webhook`: accept bearer tokens, checked with TokenReview.
    pub token_webhook: bool,
    /// `--authentication-token-webhook-cache-ttl`.
    pub token_cache_ttl: Duration,
    /// `--authorization-mode`.
    pub authorization: AuthorizationMode,
    /// `--authorization-webhook-cache-authorized-ttl`.
    pub authorized_ttl: Duration,
    /// `--authorization-webhook-cache-unauthorized-ttl`.
    pub unauthorized_ttl: Duration,
    /// Most cached decisions of each kind.
    pub cache_capacity: usize,
    /// Timeout of each TokenReview or SubjectAccessReview call.
    pub review_timeout: Duration,
    /// Most TokenReviews per second, on average, of tokens in neither the cache of
    /// authenticated tokens nor that of refused ones; a request whose token would need a
    /// review beyond it is answered `429 Too Many Requests`. `0` removes the bound.
    pub token_review_qps: u32,
    /// Most TokenReviews in a burst above `token_review_qps`.
    pub token_review_burst: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            token_webhook: true,
            // The kubelet's defaults for the flags above.
            token_cache_ttl: Duration::from_secs(2 * 60),
            authorization: AuthorizationMode::Webhook,
            authorized_ttl: Duration::from_secs(5 * 60),
            unauthorized_ttl: Duration::from_secs(30),
            cache_capacity: 1024,
            review_timeout: Duration::from_secs(10),
            // The kubelet has no such bound. A fifth of its whole API budget
            // (`kubeAPIQPS` 50, `kubeAPIBurst` 100): tokens are reviewed once per
            // `token_cache_ttl`, so real clients need far less, and a flood of random
            // tokens costs the API server at most this.
            token_review_qps: 10,
            token_review_burst: 20,
        }
    }
}

/// The endpoints that run commands in containers or open connections to them. They are
/// authorized as `create` whatever the HTTP method: a WebSocket upgrade is a GET, and
/// `get` on `nodes/proxy` must not be enough to exec into every pod of the node.
const STREAMING_PATHS: [&str; 4] = ["/exec", "/attach", "/portForward", "/run"];

/// What a request asks to do, in SubjectAccessReview terms.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attributes {
    /// `get`, `create`, `update`, `patch` or `delete`, from the HTTP method; always
    /// `create` for exec, attach, portForward and run.
    pub verb: &'static str,
    /// The `nodes` subresource.
    pub subresource: &'static str,
}

impl Attributes {
    /// The kubelet's mapping: `/stats` -> `nodes/stats`, `/metrics` -> `nodes/metrics`,
    /// `/logs` -> `nodes/log`, `/spec` -> `nodes/spec`, everything else (exec, attach,
    /// portForward, run, containerLogs, pods, healthz) -> `nodes/proxy`.
    ///
    /// The verb comes from the HTTP method, except for `/exec`, `/attach`, `/portForward`
    /// and `/run`, which always need `create`: their WebSocket form is an HTTP GET, and
    /// the kubelet's own mapping would let `get` on `nodes/proxy` (often granted to
    /// monitoring) run commands (kubernetes/kubernetes#136550; the API server requires
    /// `create` for `pods/exec` over WebSocket since 1.35, KEP-4006).
    #[must_use]
    pub fn of(method: &Method, path: &str) -> Self {
        let under = |prefix: &str| {
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        let verb = if STREAMING_PATHS.iter().any(|p| under(p)) {
            "create"
        } else {
            match *method {
                Method::POST => "create",
                Method::PUT => "update",
                Method::PATCH => "patch",
                Method::DELETE => "delete",
                _ => "get",
            }
        };
        let subresource = if under("/stats") {
            "stats"
        } else if under("/metrics") {
            "metrics"
        } else if under("/logs") {
            "log"
        } else if under("/spec") {
            "spec"
        } else {
            "proxy"
        };
        Self { verb, subresource }
    }
}

// === impl TtlCache ===

/// A small cache whose entries expire; bounded by dropping everything when full.
#[derive(Debug)]
struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(v, _)| v.clone())
    }

    fn insert(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let now = Instant::now();
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, expires)| *expires > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (value, now + ttl));
    }
}

// === impl ReviewBudget ===

/// A token bucket bounding the TokenReviews of tokens not in a cache.
#[derive(Debug)]
struct ReviewBudget {
    qps: u32,
    burst: u32,
    /// Reviews left and when they were counted.
    left: Mutex<(f64, Instant)>,
}

impl ReviewBudget {
    fn new(qps: u32, burst: u32) -> Self {
        let burst = burst.max(1);
        Self {
            qps,
            burst,
            left: Mutex::new((f64::from(burst), Instant::now())),
        }
    }

    /// Take one review, if the budget has one.
    fn take(&self) -> bool {
        if self.qps == 0 {
            return true;
        }
        let now = Instant::now();
        let mut left = self
            .left
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let refilled = now.saturating_duration_since(left.1).as_secs_f64() * f64::from(self.qps);
        *left = ((left.0 + refilled).min(f64::from(self.burst)), now);
        if left.0 >= 1.0 {
            left.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

// === impl Auth ===

/// The request authenticator and authorizer of one server.
pub struct Auth {
    config: AuthConfig,
    client: Option<kube::Client>,
    /// Authenticated tokens. Refused ones have a cache of their own, so random tokens
    /// filling it never push out a client that authenticated.
    tokens: TtlCache<[u8; 32], UserInfo>,
    refused: TtlCache<[u8; 32], ()>,
    reviews: ReviewBudget,
    decisions: TtlCache<(UserInfo, Attributes), bool>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.config)
            .field("client", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

/// The credentials a request carries.
#[derive(Clone, Default)]
pub struct Credentials {
    /// The verified client certificate's user.
    pub cert: Option<UserInfo>,
    /// A bearer token.
    pub token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never printed.
        f.debug_struct("Credentials")
            .field("cert", &self.cert)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Credentials {
    /// The credentials of a request.
    #[must_use]
    pub fn of(req: &Request) -> Self {
        let cert = req
            .extensions()
            .get::<ClientCertUser>()
            .map(|ClientCertUser(u)| u.clone());
        let token = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Self { cert, token }
    }
}

impl Auth {
    /// An authenticator using `client` for TokenReview and SubjectAccessReview. Without a
    /// client, bearer tokens are refused and only `AlwaysAllow` authorization works
    /// (webhook authorization then refuses everything).
    #[must_use]
    pub fn new(config: AuthConfig, client: Option<kube::Client>) -> Self {
        let capacity = config.cache_capacity;
        Self {
            reviews: ReviewBudget::new(config.token_review_qps, config.token_review_burst),
            config,
            client,
            tokens: TtlCache::new(capacity),
            refused: TtlCache::new(capacity),
            decisions: TtlCache::new(capacity),
        }
    }

    /// Who sent the request.
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<UserInfo> {
        if let Some(user) = &credentials.cert {
            return Ok(user.clone());
        }
        let Some(token) = credentials.token.as_deref() else {
            return Err(Error::Unauthenticated);
        };
        if !self.config.token_webhook {
            return Err(Error::InvalidToken("bearer tokens are not accepted".into()));
        }
        // Tokens are cached by digest only: the secret itself is never stored or logged.
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let refused = || Error::InvalidToken("token not authenticated".into());
        if let Some(user) = self.tokens.get(&digest) {
            return Ok(user);
        }
        if self.refused.get(&digest).is_some() {
            return Err(refused());
        }
        if !self.reviews.take() {
            tracing::debug!("tokenreview budget spent: refusing an unknown bearer token");
            return Err(Error::TooManyTokenReviews);
        }
        let ttl = self.config.token_cache_ttl;
        match self.token_review(token).await? {
            Some(user) => {
                self.tokens.insert(digest, user.clone(), ttl);
                Ok(user)
            }
            None => {
                self.refused.insert(digest, (), ttl);
                Err(refused())
            }
        }
    }

    async fn token_review(&self, token: &str) -> Result<Option<UserInfo>> {
        let Some(client) = &self.client else {
            return Err(Error::InvalidToken("no api server to review tokens".into()));
        };
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_owned(),
                audiences: None,
            },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(client.clone());
        let answer = time::timeout(
            self.config.review_timeout,
            api.create(&PostParams::default(), &review),
        )
        .await
        .map_err(|_| Error::AuthUnavailable(timeout_error("tokenreview")))?
        .map_err(Error::AuthUnavailable)?;
        let Some(status) = answer.status else {
            return Ok(None);
        };
        if status.authenticated != Some(true) {
            return Ok(None);
        }
        let user = status.user.unwrap_or_default();
        Ok(Some(UserInfo {
            username: user.username.unwrap_or_default(),
            uid: user.uid.unwrap_or_default(),
            groups: user.groups.unwrap_or_default(),
            extra: user.extra.unwrap_or_default(),
        }))
    }

    /// Whether `user` may do `attrs` on node `node`.
    pub async fn authorize(&self, user: &UserInfo, attrs: &Attributes, node: &str) -> Result<()> {
        let forbidden = || Error::Forbidden {
            user: user.username.clone(),
            verb: attrs.verb.to_owned(),
            subresource: attrs.subresource.to_owned(),
        };
        if self.config.authorization == AuthorizationMode::AlwaysAllow {
            return Ok(());
        }
        let key = (user.clone(), attrs.clone());
        let allowed = match self.decisions.get(&key) {
            Some(allowed) => allowed,
            None => {
                let allowed = self.access_review(user, attrs, node).await?;
                let ttl = if allowed {
                    self.config.authorized_ttl
                } else {
                    self.config.unauthorized_ttl
                };
                self.decisions.insert(key, allowed, ttl);
                allowed
            }
        };
        if allowed { Ok(()) } else { Err(forbidden()) }
    }

    async fn access_review(&self, user: &UserInfo, attrs: &Attributes, node: &str) -> Result<bool> {
        let Some(client) = &self.client else {
            return Ok(false);
        };
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.username.clone()),
                uid: (!user.uid.is_empty()).then(|| user.uid.clone()),
                groups: Some(user.groups.clone()),
                extra: (!user.extra.is_empty()).then(|| user.extra.clone()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(attrs.verb.to_owned()),
                    resource: Some("nodes".to_owned()),
                    subresource: Some(attrs.subresource.to_owned()),
                    name: Some(node.to_owned()),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(client.clone());
        let answer = time::timeout(
            self.config.review_timeout,
            api.create(&PostParams::default(), &review),
        )
        .await
        .map_err(|_| Error::AuthUnavailable(timeout_error("subjectaccessreview")))?
        .map_err(Error::AuthUnavailable)?;
        Ok(answer.status.is_some_and(|s| s.allowed))
    }
}

fn timeout_error(what: &str) -> kube::Error {
    kube::Error::Service(format!("{what} timed out").into())
}

/// The user of a verified client certificate: CN is the user name, O entries the groups.
#[must_use]
pub fn user_of_certificate(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let username = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())?
        .to_owned();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_owned))
        .collect();
    Some(UserInfo {
        username,
        groups,
        ..UserInfo::default()
    })
}

/// Shared authenticator handle.
pub type SharedAuth = Arc<Auth>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_should_map_to_the_kubelets_subresources() {
        let get = Method::GET;
        let post = Method::POST;
        let cases = [
            (&post, "/exec/default/p/c", "create", "proxy"),
            (&get, "/exec/default/p/c", "create", "proxy"),
            (&post, "/attach/default/p/c", "create", "proxy"),
            (&get, "/attach/default/p/c", "create", "proxy"),
            (&post, "/portForward/default/p", "create", "proxy"),
            (&get, "/portForward/default/p", "create", "proxy"),
            (&post, "/run/default/p/c", "create", "proxy"),
            (&get, "/run/default/p/c", "create", "proxy"),
            (&Method::PUT, "/exec/default/p/c", "create", "proxy"),
            (&get, "/exec", "create", "proxy"),
            (&get, "/executor", "get", "proxy"),
            (&get, "/portforward/default/p", "get", "proxy"),
            (&get, "/containerLogs/default/p/c", "get", "proxy"),
            (&get, "/pods", "get", "proxy"),
            (&get, "/stats/summary", "get", "stats"),
            (&get, "/stats", "get", "stats"),
            (&get, "/metrics", "get", "metrics"),
            (&get, "/metrics/resource", "get", "metrics"),
            (&get, "/logs/messages", "get", "log"),
            (&get, "/statsfoo", "get", "proxy"),
        ];
        for (method, path, verb, sub) in cases {
            assert_eq!(
                Attributes::of(method, path),
                Attributes {
                    verb,
                    subresource: sub
                },
                "{path}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn cached_decisions_should_expire() {
        let cache = TtlCache::new(2);
        cache.insert("a", true, Duration::from_secs(10));
        assert_eq!(cache.get(&"a"), Some(true));
        time::advance(Duration::from_secs(11)).await;
        assert_eq!(cache.get(&"a"), None);
        for k in ["b", "c", "d"] {
            cache.insert(k, true, Duration::from_secs(10));
        }
        assert!(
            cache.entries.lock().unwrap().len() <= 2,
            "the cache is bounded"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_token_review_budget_should_allow_a_burst_then_refill_at_its_rate() {
        let budget = ReviewBudget::new(2, 3);
        assert!((0..3).all(|_| budget.take()), "the burst");
        assert!(!budget.take(), "spent");
        time::advance(Duration::from_millis(500)).await;
        assert!(budget.take(), "one review every 1/qps seconds");
        assert!(!budget.take());
        time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            (0..10).filter(|_| budget.take()).count(),
            3,
            "never above the burst"
        );
        let unbounded = ReviewBudget::new(0, 0);
        assert!((0..1000).all(|_| unbounded.take()), "qps 0 is no bound");
    }

    #[tokio::test]
    async fn a_request_without_credentials_should_be_unauthenticated() {
        let auth = Auth::new(AuthConfig::default(), None);
        let req = Request::builder()
            .uri("/exec/default/p/c")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(matches!(
            auth.authenticate(&Credentials::of(&req)).await,
            Err(Error::Unauthenticated)
        ));
        let req = Request::builder()
            .uri("/exec/default/p/c")
            .header("authorization", "Bearer abc")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(matches!(
            auth.authenticate(&Credentials::of(&req)).await,
            Err(Error::InvalidToken(_))
        ));
    }

    #[tokio::test]
    async fn webhook_authorization_without_a_client_should_refuse() {
        let auth = Auth::new(AuthConfig::default(), None);
        let user = UserInfo {
            username: "someone".into(),
            ..UserInfo::default()
        };
        let attrs = Attributes::of(&Method::POST, "/exec/a/b/c");
        assert!(matches!(
            auth.authorize(&user, &attrs, "node").await,
            Err(Error::Forbidden { .. })
        ));
    }
}
