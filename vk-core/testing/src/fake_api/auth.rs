//! Authentication: the admin token, service-account tokens minted by TokenRequest, and the
//! TokenReview and SubjectAccessReview answers built on them.
use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use serde_json::{Value, json};

use super::knobs::{AccessRequest, KnobState};

/// The audience tokens get when a TokenRequest names none (the API server's own).
pub(crate) const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct User {
    /// User name.
    pub name: String,
    /// UID, empty for the admin.
    pub uid: String,
    /// Groups.
    pub groups: Vec<String>,
}

impl User {
    /// The anonymous user of a request without credentials.
    pub fn anonymous() -> Self {
        Self {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
        }
    }
}

#[derive(Clone, Debug)]
struct Minted {
    user: User,
    audiences: Vec<String>,
    /// Unix seconds.
    expires: i64,
}

/// Known tokens.
pub(crate) struct Auth {
    admin_token: String,
    minted: Mutex<HashMap<String, Minted>>,
}

fn random_hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| format!("{:x}", rng.random_range(0u8..16)))
        .collect()
}

impl Auth {
    /// A fresh admin token and no service-account tokens.
    pub fn new() -> Self {
        Self {
            admin_token: format!("fake-admin-{}", random_hex(32)),
            minted: Mutex::new(HashMap::new()),
        }
    }

    /// The admin bearer token.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    fn admin() -> User {
        User {
            name: "kubernetes-admin".into(),
            uid: String::new(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }

    /// Mint a service-account token (a JWT-shaped string, unsigned in any meaningful way).
    pub fn mint(
        &self,
        ns: &str,
        name: &str,
        sa_uid: &str,
        audiences: Vec<String>,
        now_unix: i64,
        expiration_seconds: i64,
    ) -> (String, i64) {
        let audiences = if audiences.is_empty() {
            vec![API_AUDIENCE.to_owned()]
        } else {
            audiences
        };
        let expires = now_unix + expiration_seconds;
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"fake"}"#);
        let claims = json!({
            "aud": audiences,
            "exp": expires,
            "iat": now_unix,
            "nbf": now_unix,
            "iss": API_AUDIENCE,
            "jti": random_hex(16),
            "sub": format!("system:serviceaccount:{ns}:{name}"),
            "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": name, "uid": sa_uid}},
        });
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let token = format!("{header}.{payload}.{}", random_hex(64));
        let user = User {
            name: format!("system:serviceaccount:{ns}:{name}"),
            uid: sa_uid.to_owned(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".into(),
            ],
        };
        self.minted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                token.clone(),
                Minted {
                    user,
                    audiences,
                    expires,
                },
            );
        (token, expires)
    }

    /// Who a bearer token belongs to and for which audiences, if it is known and valid.
    fn lookup(&self, token: &str, now_unix: i64) -> Option<(User, Vec<String>)> {
        if token == self.admin_token {
            return Some((Self::admin(), vec![API_AUDIENCE.to_owned()]));
        }
        let minted = self
            .minted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let m = minted.get(token)?;
        (m.expires > now_unix).then(|| (m.user.clone(), m.audiences.clone()))
    }

    /// Authenticate a request's bearer token for the API server itself.
    pub fn authenticate(&self, token: &str, now_unix: i64) -> Option<User> {
        let (user, auds) = self.lookup(token, now_unix)?;
        auds.iter().any(|a| a == API_AUDIENCE).then_some(user)
    }

    /// Answer a TokenReview.
    pub fn review_token(&self, review: &Value, now_unix: i64) -> Value {
        let token = review
            .pointer("/spec/token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let wanted: Vec<String> = review
            .pointer("/spec/audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let status = match self.lookup(token, now_unix) {
            Some((user, auds)) => {
                let wanted = if wanted.is_empty() {
                    vec![API_AUDIENCE.to_owned()]
                } else {
                    wanted
                };
                let is_admin = token == self.admin_token;
                let matched: Vec<String> = if is_admin {
                    wanted.clone()
                } else {
                    wanted
                        .iter()
                        .filter(|w| auds.contains(w))
                        .cloned()
                        .collect()
                };
                if matched.is_empty() {
                    json!({"authenticated": false, "error": "token audiences do not match"})
                } else {
                    let mut u = json!({"username": user.name, "groups": user.groups});
                    if !user.uid.is_empty() {
                        u["uid"] = json!(user.uid);
                    }
                    json!({"authenticated": true, "user": u, "audiences": matched})
                }
            }
            None => json!({"authenticated": false, "error": "invalid bearer token"}),
        };
        let mut out = review.clone();
        out["status"] = status;
        out
    }
}

/// Answer a SubjectAccessReview (or, with `caller`, a SelfSubjectAccessReview).
pub(crate) fn review_access(knobs: &KnobState, review: &Value, caller: Option<&User>) -> Value {
    let spec = review.get("spec").cloned().unwrap_or_else(|| json!({}));
    let s = |p: &str| {
        spec.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (user, groups) = match caller {
        Some(u) => (u.name.clone(), u.groups.clone()),
        None => (
            s("/user"),
            spec.get("groups")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        ),
    };
    let (verb, path) = if spec.get("nonResourceAttributes").is_some() {
        (
            s("/nonResourceAttributes/verb"),
            s("/nonResourceAttributes/path"),
        )
    } else {
        (s("/resourceAttributes/verb"), String::new())
    };
    let req = AccessRequest {
        user,
        groups,
        verb,
        resource: s("/resourceAttributes/resource"),
        subresource: s("/resourceAttributes/subresource"),
        namespace: s("/resourceAttributes/namespace"),
        name: s("/resourceAttributes/name"),
        path,
    };
    let allowed = knobs.allows(&req);
    let mut out = review.clone();
    out["status"] = if allowed {
        json!({"allowed": true, "reason": "allowed by the fake API server's policy"})
    } else {
        json!({"allowed": false, "reason": "denied by the fake API server's policy"})
    };
    out
}
