//! Pure translation between Kubernetes pods and Azure Container Instances container groups.
//!
//! A virtual node runs every pod as an ACI container group. This crate decides what that
//! group is ([`translate_pod`]), what changed on the way ([`Warning`]s naming pod fields) or
//! why the pod cannot run ([`TranslateError`], listing every offending field), and turns a
//! group's instance view back into a pod status ([`status`]). It does no I/O and reads no
//! clock: Secrets, ConfigMaps, tokens and the time are passed in, so it is tested with
//! snapshots, properties and a fuzzer, and runs offline (`vk-aci translate`, `vk-aci check`,
//! built on [`manifests`]).
//!
//! Start with [`translate_pod`]; [`container_group`] is the ARM model on its own.
//!
//! ```no_run
//! use k8s_openapi::api::core::v1::Pod;
//! use vk_translate::{NodeOptions, ReferencedObjects, redact_secrets, translate_pod};
//!
//! # fn example(pod: Pod) -> Result<(), vk_translate::TranslateError> {
//! let node = NodeOptions::default().region("westeurope").node_name("virtual-node");
//! let translation = translate_pod(&pod, &ReferencedObjects::default(), &node)?;
//! for warning in &translation.warnings {
//!     eprintln!("{warning}"); // e.g. "spec.containers[0].lifecycle.preStop: ..."
//! }
//! let mut body = translation.container_group; // PUT .../containerGroups/{translation.name}
//! redact_secrets(&mut body); // before printing it
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod container_group;
pub mod status;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

/// The ARM api-version of the ACI model in [`container_group`].
pub const API_VERSION: &str = "2025-09-01";

mod azure_file;
pub mod claims;
pub mod confidential;
mod containers;
pub mod defaults;
mod dns;
mod downward;
mod env;
pub mod error;
pub mod expansion;
pub mod extensions;
mod group_settings;
pub mod hooks;
pub mod identity;
mod image_config;
pub mod images;
pub mod manifests;
pub mod names;
pub mod node;
pub mod pod;
mod pod_context;
mod ports;
pub mod priority;
mod probes;
mod registry;
pub mod resources;
pub mod secrets;
mod security;
mod unsupported;
mod volume_files;
mod volumes;
pub mod zones;

pub use error::{FieldError, FieldErrorKind, TranslateError, Warning};
pub use extensions::{ClusterCredentials, KubeProxyOptions};
pub use hooks::{ContainerHooks, HookAction, HookPlan};
pub use images::{ImageConfig, ResolvedImages};
pub use names::{container_group_name, pod_key_from_tags};
pub use node::{IpAddressMode, NodeOptions};
pub use pod::{ReferencedObjects, Translation, translate_pod, translate_pod_with_images};
pub use secrets::redact_secrets;
