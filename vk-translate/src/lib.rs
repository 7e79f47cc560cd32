//! Pure translation between Kubernetes pods and Azure Container Instances container groups.
//!
//! (Crate overview and example are written with the translator; see issue 3.)
#![deny(missing_docs)]

pub mod container_group;

/// The ARM api-version of the ACI model in [`container_group`].
pub const API_VERSION: &str = "2025-09-01";
