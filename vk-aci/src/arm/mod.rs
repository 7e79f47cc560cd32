//! The Azure Resource Manager client for container groups: operations, long-running
//! operations, retries, client-side budget, credentials and metrics.
mod client;
pub mod credentials;
mod error;
mod insights;
mod lro;
pub mod metrics;
pub mod network;
pub mod retry;
pub mod throttle;
pub(crate) mod transport;

pub use client::{
    ArmClient, ArmConfig, DEFAULT_API_VERSION, Deleted, ExecSession, GroupAction, PUBLIC_CLOUD,
    Started, is_terminal,
};
pub use credentials::{ArmCredential, CredentialError};
pub use error::{Error, Result};
pub use insights::METRICS_LIST_OPERATION;
pub use lro::{Lro, LroKind};
pub use retry::RetryPolicy;
pub use throttle::{Class, Priority, Throttle, ThrottleConfig};
