//! [`ProviderError`]: how a provider says a call failed, and what the runtime does about it.
use std::fmt;

use tokio::time::Duration;

/// A boxed error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result of a provider call.
pub type Result<T, E = ProviderError> = std::result::Result<T, E>;

// === ProviderError ===

/// Why a provider call failed. The class decides what the runtime does next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The pod or container does not exist in the backend. On delete this counts as done;
    /// on status it means the backend lost the pod.
    #[error("not found: {0}")]
    NotFound(String),

    /// The backend cannot run this pod as specified. The runtime marks the pod `Failed`
    /// with `reason` and `message` and records an event; it is not retried.
    #[error("{reason}: {message}")]
    Unsupported {
        /// A CamelCase reason for the pod status and event, e.g. `ProviderUnsupported`.
        reason: String,
        /// What the user should know and change.
        message: String,
    },

    /// The request itself is malformed (for example a bad exec command). Not retried.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A temporary failure (throttling, a quota window, a network error). The runtime
    /// retries, after `retry_after` when given, and shows `reason`/`message` on the pod
    /// while it stays `Pending`.
    #[error("{reason}: {message}")]
    Transient {
        /// A CamelCase reason, e.g. `ProviderThrottled` or `QuotaExceeded`.
        reason: String,
        /// What is happening, for the pod status message and the event.
        message: String,
        /// When to try again, if the backend said.
        retry_after: Option<Duration>,
        /// The underlying cause.
        #[source]
        source: Option<BoxError>,
    },

    /// Any other failure. Retried with backoff.
    #[error("provider error")]
    Other(#[source] BoxError),
}

impl ProviderError {
    /// A not-found error for `what`.
    pub fn not_found(what: impl fmt::Display) -> Self {
        Self::NotFound(what.to_string())
    }

    /// An unsupported-pod error with the default reason `ProviderUnsupported`.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::Unsupported {
            reason: "ProviderUnsupported".to_owned(),
            message: message.into(),
        }
    }

    /// A transient error with a reason and message and no delay hint.
    pub fn transient(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Transient {
            reason: reason.into(),
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// Whether the runtime should try the call again later.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::Other(_))
    }
}
