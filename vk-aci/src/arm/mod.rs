//! The Azure Resource Manager client for container groups: operations, long-running
//! operations, retries, client-side budget, credentials and metrics.
mod client;
mod config;
mod container_groups;
mod containers;
pub mod credentials;
mod error;
mod insights;
mod location;
mod lro;
pub mod metrics;
pub mod network;
pub mod retry;
pub mod throttle;
pub(crate) mod transport;

pub use client::ArmClient;
pub use config::{ArmConfig, DEFAULT_API_VERSION, PUBLIC_CLOUD};
pub use container_groups::{Deleted, GroupAction, Started};
pub use containers::ExecSession;
pub use credentials::{ArmCredential, CredentialError};
pub use error::{Error, Result};
pub use insights::METRICS_LIST_OPERATION;
pub use lro::{Lro, LroKind, is_terminal};
pub use retry::RetryPolicy;
pub use throttle::{Class, Priority, Throttle, ThrottleConfig};
