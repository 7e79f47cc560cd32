//! Why the fake API server could not start or answer a helper call.
use std::net::SocketAddr;

use super::tls::TlsError;

/// Why the fake API server could not start or answer a helper call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeApiError {
    /// The listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The fake cluster's certificates could not be made.
    #[error("cannot set up tls")]
    Tls(#[source] TlsError),
    /// The kubeconfig could not be written.
    #[error("cannot write the kubeconfig")]
    Kubeconfig(#[source] std::io::Error),
    /// A kube-rs client or config could not be built.
    #[error("cannot build a kube client")]
    Client(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A helper asked about an object the store does not have.
    #[error("not found: {0}")]
    NotFound(String),
}
