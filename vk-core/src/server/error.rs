//! The server's error type and its one mapping to HTTP: a status code and a Kubernetes
//! `Status` body, which kubectl shows to the user.
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::provider::ProviderError;

/// Result of a handler.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No credentials (no verified client certificate, no bearer token).
    #[error("unauthorized")]
    Unauthenticated,
    /// The bearer token was refused by TokenReview.
    #[error("unauthorized: {0}")]
    InvalidToken(String),
    /// The user may not do this (SubjectAccessReview said no).
    #[error("forbidden (user={user}, verb={verb}, resource=nodes, subresource={subresource})")]
    Forbidden {
        /// Who asked.
        user: String,
        /// The verb.
        verb: String,
        /// The nodes subresource.
        subresource: String,
    },
    /// A bearer token would need a TokenReview, and the reviews of unknown tokens are
    /// spent for now ([`super::AuthConfig::token_review_qps`]).
    #[error("too many requests with unknown bearer tokens, retry later")]
    TooManyTokenReviews,
    /// The client holds as many exec, attach, port-forward and run sessions as it may
    /// ([`super::ServerState::max_sessions_per_client`]); one has to end first.
    #[error(
        "too many concurrent streaming sessions (exec, attach, port-forward) for {client}: at most {limit} per client, retry when one ends"
    )]
    TooManySessions {
        /// Who holds them: a user, or an address for a request without a user.
        client: String,
        /// The cap.
        limit: usize,
    },
    /// Asking the API server to authenticate or authorize failed.
    #[error("authentication or authorization unavailable")]
    AuthUnavailable(#[source] kube::Error),
    /// The pod is not bound to this node (or does not exist).
    #[error("pod {0} not found")]
    PodNotFound(String),
    /// The pod has no such container.
    #[error("container {container} is not valid for pod {pod}")]
    ContainerNotFound {
        /// The pod.
        pod: String,
        /// The container asked for.
        container: String,
    },
    /// No such endpoint.
    #[error("the server could not find the requested resource {0}")]
    NotFound(String),
    /// A malformed request (bad query, missing streams).
    #[error("{0}")]
    BadRequest(String),
    /// A streaming endpoint was called without an upgrade to a streaming protocol.
    #[error("upgrade request required")]
    UpgradeRequired,
    /// The client offered no streaming protocol the server speaks.
    #[error(
        "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server accepts {accepted:?}"
    )]
    ProtocolNotSupported {
        /// What the client offered.
        offered: Vec<String>,
        /// What the server accepts.
        accepted: Vec<&'static str>,
    },
    /// The provider does not support this operation (port-forward, statistics, ...).
    #[error("{0}")]
    NotSupported(String),
    /// The provider failed.
    #[error("provider failed: {0}")]
    Provider(#[source] ProviderError),
}

impl From<ProviderError> for Error {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::NotFound(what) => Self::PodNotFound(what),
            ProviderError::Unsupported { message, .. } => Self::NotSupported(message),
            ProviderError::InvalidInput(m) => Self::BadRequest(m),
            other => Self::Provider(other),
        }
    }
}

impl Error {
    /// The HTTP status and the `Status` reason of this error.
    #[must_use]
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthenticated | Self::InvalidToken(_) => {
                (StatusCode::UNAUTHORIZED, "Unauthorized")
            }
            Self::Forbidden { .. } | Self::ProtocolNotSupported { .. } => {
                (StatusCode::FORBIDDEN, "Forbidden")
            }
            Self::TooManyTokenReviews | Self::TooManySessions { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "TooManyRequests")
            }
            Self::AuthUnavailable(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
            Self::PodNotFound(_) | Self::ContainerNotFound { .. } | Self::NotFound(_) => {
                (StatusCode::NOT_FOUND, "NotFound")
            }
            Self::BadRequest(_) | Self::UpgradeRequired => (StatusCode::BAD_REQUEST, "BadRequest"),
            Self::NotSupported(_) => (StatusCode::NOT_IMPLEMENTED, "NotImplemented"),
            // Busy or briefly unavailable (a limit reached, throttling): try again later.
            Self::Provider(ProviderError::Transient { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
            }
            Self::Provider(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        }
    }

    /// The Kubernetes `Status` body of this error.
    #[must_use]
    pub fn to_status(&self) -> serde_json::Value {
        let (code, reason) = self.status();
        let mut message = self.to_string();
        if let Self::Provider(e) = self {
            message = format!("{message}: {e}");
        }
        serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code.as_u16(),
        })
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (code, _) = self.status();
        if code.is_server_error() {
            tracing::warn!(error = %self, "kubelet api request failed");
        }
        let mut response = (code, Json(self.to_status())).into_response();
        if let Self::TooManyTokenReviews | Self::TooManySessions { .. } = self {
            // The budget refills a review every 1/qps seconds; sessions end at any time:
            // the API server's own 429s ask for a retry after 1 s too.
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
        }
        if let Self::ProtocolNotSupported { accepted, .. } = &self {
            for p in accepted {
                if let Ok(v) = http::HeaderValue::from_str(p) {
                    response
                        .headers_mut()
                        .append(crate::stream::remotecommand::ACCEPTED_PROTOCOLS_HEADER, v);
                }
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_should_map_to_a_status_body() {
        let errors = [
            Error::Unauthenticated,
            Error::InvalidToken("expired".into()),
            Error::TooManyTokenReviews,
            Error::TooManySessions {
                client: "user \"u\"".into(),
                limit: 2,
            },
            Error::Forbidden {
                user: "u".into(),
                verb: "create".into(),
                subresource: "proxy".into(),
            },
            Error::PodNotFound("default/x".into()),
            Error::ContainerNotFound {
                pod: "default/x".into(),
                container: "c".into(),
            },
            Error::BadRequest("bad".into()),
            Error::UpgradeRequired,
            Error::NotSupported("no port-forward".into()),
            Error::Provider(ProviderError::Other("boom".into())),
        ];
        let busy = Error::from(ProviderError::transient("TooManyLogStreams", "32 open"));
        assert_eq!(busy.status().0, StatusCode::SERVICE_UNAVAILABLE);
        for e in errors {
            let (code, reason) = e.status();
            let body = e.to_status();
            assert_eq!(body["code"], code.as_u16(), "{e:?}");
            assert_eq!(body["reason"], reason);
            assert_eq!(body["kind"], "Status");
            assert!(!body["message"].as_str().unwrap().is_empty());
        }
    }
}
