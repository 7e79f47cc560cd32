//! Azure Container Instances provider for vk-core over the ARM REST API.
//!
//! A virtual node backed by ACI runs each pod as a container group. This crate holds the
//! three pieces that takes: an ARM client that spends ARM's request budget deliberately
//! ([`arm`]: token buckets, retries with `Retry-After`, long-running operations, Azure
//! credentials, metrics), the provider itself ([`AciProvider`]: create, update, delete,
//! adoption, budgeted status tracking, logs, exec through a shell driver), and, behind the
//! `emulator` feature, a stateful local ARM/ACI server for tests, demos and benchmarks.
//!
//! Start with [`AciProvider::new`] and hand the provider to `vk_core::Runtime::builder`.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use vk_aci::arm::{ArmClient, ArmConfig, credentials};
//! use vk_aci::{AciConfig, AciProvider};
//!
//! let (settings, credential) = credentials::from_environment()?;
//! let subscription = settings.subscription_id.clone().unwrap_or_default();
//! let arm = ArmClient::new(ArmConfig::new(subscription, "my-rg", "westus"), credential)?;
//! let provider = AciProvider::new(arm, AciConfig::default(), Arc::new(vk_core::clock::SystemClock));
//! // vk_core::Runtime::builder(kube_client, Arc::new(provider), node_config).build().run(shutdown)
//! # let _ = provider;
//! # Ok(())
//! # }
//! ```
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod arm;
pub mod images;
pub mod monitor;
pub mod provider;
pub mod virtual_node;

pub use provider::{AciConfig, AciProvider};

#[cfg(feature = "emulator")]
pub mod emulator;

#[cfg(feature = "local")]
pub mod local;
