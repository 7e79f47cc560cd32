//! Pure translation between Kubernetes pods and Azure Container Instances container groups.
//!
//! (Crate overview and example are written with the translator; see issue 3.)
#![deny(missing_docs)]

pub mod container_group;
pub mod status;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

/// The ARM api-version of the ACI model in [`container_group`].
pub const API_VERSION: &str = "2025-09-01";

mod dns;
mod downward;
mod env;
pub mod error;
pub mod manifests;
pub mod names;
pub mod node;
pub mod pod;
mod ports;
mod probes;
mod registry;
pub mod resources;
pub mod secrets;
mod security;
mod volumes;

pub use error::{FieldError, FieldErrorKind, TranslateError, Warning};
pub use names::{container_group_name, pod_key_from_tags};
pub use node::{IpAddressMode, NodeOptions};
pub use pod::{ReferencedObjects, Translation, translate_pod};
pub use secrets::redact_secrets;
