//! Azure Container Instances provider for vk-core over the ARM REST API.
//!
//! (Crate overview and example are written with the provider; see issue 7.)
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod arm;
pub mod provider;
pub mod virtual_node;

pub use provider::{AciConfig, AciProvider};

#[cfg(feature = "emulator")]
pub mod emulator;

#[cfg(feature = "local")]
pub mod local;
