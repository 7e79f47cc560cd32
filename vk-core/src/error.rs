//! [`RuntimeError`]: why the runtime, or one of its Kubernetes API calls, failed.
/// Why the runtime, or one of its Kubernetes API calls, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The API server answered a call with an error.
    #[error("kubernetes api call {call} failed")]
    Api {
        /// What the call was for.
        call: &'static str,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The API server did not answer a call in time.
    #[error("kubernetes api call {0} timed out")]
    ApiTimeout(&'static str),
    /// A Node of this name exists that no virtual kubelet registered (a machine's, most
    /// likely): taking it over would run its pods here too, so the runtime refuses.
    #[error(
        "node {name} exists and was not registered by a virtual kubelet (written by {managers}); \
         choose another node name or delete that Node"
    )]
    ForeignNode {
        /// The node name.
        name: String,
        /// The field managers that wrote it.
        managers: String,
    },
    /// An internal bug; please file one.
    #[error("internal error: {0}")]
    Unreachable(&'static str),
}

impl RuntimeError {
    fn status_code(&self) -> Option<u16> {
        match self {
            Self::Api {
                source: kube::Error::Api(s),
                ..
            } => Some(s.code),
            _ => None,
        }
    }

    /// Whether the runtime refused a Node it did not register
    /// ([`RuntimeError::ForeignNode`]): a configuration problem.
    #[must_use]
    pub fn is_foreign_node(&self) -> bool {
        matches!(self, Self::ForeignNode { .. })
    }

    /// Whether the API server answered 409 Conflict.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        self.status_code() == Some(409)
    }

    /// Whether the API server answered 404 Not Found.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.status_code() == Some(404)
    }
}

/// Result of runtime operations.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
