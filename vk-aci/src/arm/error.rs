//! Typed errors of the ARM client: ARM `CloudError` bodies become code + message.
//!
//! Nothing here ever carries a request body, a token or an exec password: only the
//! operation name, the HTTP status and what ARM said in its error object.
use tokio::time::Duration;

/// Result of an ARM client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an ARM call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// ARM answered with a non-success status; `code` and `message` come from its
    /// `CloudError` body (or the status reason when the body had none).
    #[error("arm {operation} answered {status}: {code}: {message}")]
    Api {
        /// The client operation, e.g. `container_groups.get`.
        operation: &'static str,
        /// The HTTP status code.
        status: u16,
        /// ARM's error code, e.g. `ResourceNotFound`.
        code: String,
        /// ARM's error message.
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },

    /// A long-running operation ended in `Failed` or `Canceled`.
    #[error("arm {operation} long-running operation ended {status}: {code}: {message}")]
    OperationFailed {
        /// The client operation that started it.
        operation: &'static str,
        /// The terminal status (`Failed`, `Canceled`).
        status: String,
        /// ARM's error code, when given.
        code: String,
        /// ARM's error message, when given.
        message: String,
    },

    /// The call did not finish within the configured timeout.
    #[error("arm {operation} timed out after {timeout:?}")]
    Timeout {
        /// The client operation.
        operation: &'static str,
        /// The timeout that elapsed.
        timeout: Duration,
    },

    /// The HTTP request failed before ARM answered (connection, TLS, body read).
    #[error("arm {operation} request failed")]
    Transport {
        /// The client operation.
        operation: &'static str,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },

    /// ARM answered a body the client could not decode, or one larger than allowed.
    #[error("arm {operation} answered a body that does not decode")]
    Decode {
        /// The client operation.
        operation: &'static str,
        /// The decode error.
        #[source]
        source: serde_json::Error,
    },

    /// ARM answered more bytes than the client accepts for one response.
    #[error("arm {operation} answered more than {limit} bytes")]
    TooLarge {
        /// The client operation.
        operation: &'static str,
        /// The limit in bytes.
        limit: usize,
    },

    /// No access token could be obtained.
    #[error("could not get an access token for arm")]
    Credential(#[source] super::credentials::CredentialError),

    /// The client configuration is unusable (bad base URL, bad name).
    #[error("invalid arm client configuration: {0}")]
    Config(String),
}

// === impl Error ===

impl Error {
    /// The HTTP status ARM answered, if it answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// ARM's error code, if it gave one.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } | Self::OperationFailed { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the resource does not exist (404).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether ARM or ACI throttled the call (429), including ACI's create quota.
    #[must_use]
    pub fn is_throttled(&self) -> bool {
        self.status() == Some(429)
    }

    /// Whether this is ACI's container group create/delete quota rather than ARM's
    /// request budget.
    #[must_use]
    pub fn is_quota(&self) -> bool {
        matches!(self, Self::Api { status: 429 | 409 | 403, code, .. } if code.contains("Quota"))
    }

    /// The server's `Retry-After`, if it sent one.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether a retry could succeed: throttling, server errors, timeouts, transport.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status == 408 || *status >= 500,
            Self::Timeout { .. } | Self::Transport { .. } => true,
            _ => false,
        }
    }
}

/// ARM's error envelope: `{"error": {"code", "message", ...}}`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct CloudErrorBody {
    #[serde(default)]
    pub error: Option<CloudErrorDetail>,
}

/// The inner error object of [`CloudErrorBody`].
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct CloudErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// Code and message from an error body, falling back to the status reason.
pub(crate) fn code_and_message(status: http::StatusCode, body: &[u8]) -> (String, String) {
    let detail = serde_json::from_slice::<CloudErrorBody>(body)
        .ok()
        .and_then(|b| b.error)
        .unwrap_or_default();
    let reason = status.canonical_reason().unwrap_or("error");
    let code = detail
        .code
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| reason.replace(' ', ""));
    let mut message = detail.message.unwrap_or_else(|| reason.to_owned());
    // Bounded: an error message is for humans and logs, not a place for a whole body.
    if message.len() > 1024 {
        let mut cut = 1024;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_error_body_should_give_code_and_message() {
        let body = br#"{"error":{"code":"ResourceNotFound","message":"gone"}}"#;
        let (code, message) = code_and_message(http::StatusCode::NOT_FOUND, body);
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ResourceNotFound", "gone")
        );
    }

    #[test]
    fn empty_body_should_fall_back_to_status_reason() {
        let (code, message) = code_and_message(http::StatusCode::TOO_MANY_REQUESTS, b"");
        assert_eq!(code, "TooManyRequests");
        assert_eq!(message, "Too Many Requests");
    }

    #[test]
    fn quota_errors_should_be_told_apart_from_request_throttling() {
        let quota = Error::Api {
            operation: "x",
            status: 429,
            code: "ContainerGroupQuotaReached".into(),
            message: String::new(),
            retry_after: None,
        };
        let throttled = Error::Api {
            operation: "x",
            status: 429,
            code: "SubscriptionRequestsThrottled".into(),
            message: String::new(),
            retry_after: None,
        };
        assert!(quota.is_quota() && quota.is_throttled());
        assert!(!throttled.is_quota() && throttled.is_throttled());
    }
}
