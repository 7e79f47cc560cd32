//! A virtual kubelet runtime: make any backend a node of a Kubernetes cluster.
//!
//! (Crate overview and `no_run` example are written with the runtime; see issue 5.)
#![deny(missing_docs)]

pub mod clock;
pub mod lease;
pub mod node;
pub mod pods;
pub mod provider;
pub mod runtime;
pub mod server;
pub mod stream;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use provider::{Provider, ProviderError};
