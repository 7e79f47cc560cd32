//! Pure translation between Kubernetes pods and Azure Container Instances container groups.
//!
//! (Crate overview and example are written with the translator; see issue 3.)
#![deny(missing_docs)]
