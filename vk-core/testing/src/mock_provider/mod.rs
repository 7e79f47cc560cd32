//! An in-memory [`Provider`](vk_core::provider::Provider): pods move Pending -> Running
//! (-> Succeeded/Failed by rule), statuses are pushed through the notifier, logs are
//! generated, exec runs a tiny command set, and every call is recorded (unless
//! [`MockProviderBuilder::record_calls`] is off).
//!
//! The backend keeps what a real one would, not the pod objects: per pod its UID, its
//! containers (name, image, literal environment) and the state its status is made from,
//! so that load scenarios with thousands of pods measure the runtime rather than the mock.
//!
//! Rules read from pod annotations:
//! - `mock.vk.io/exit-after: "2s"`: the containers exit that long after starting, with
//!   `mock.vk.io/exit-code` (default `0`: Succeeded; anything else: Failed).
//! - `mock.vk.io/start-after: "500ms"`: overrides the builder's start delay for this pod.
//! - `mock.vk.io/create-error: unsupported|transient|invalid`: `create_pod` fails so.
//!
//! Resource usage (`stats()`, hence `/stats/summary`, `/metrics/resource`, `kubectl top`
//! and HPAs): each container uses about 5 millicores and 16-24 MiB unless told otherwise
//! with [`MockProvider::set_usage`] or [`MockProvider::set_default_usage`]; its cumulative
//! CPU advances at the rate in force since it started.
mod annotations;
mod backend;
mod builder;
mod calls;
mod container;
mod exec;
mod logs;
mod pod;
mod provider;
mod status;
mod usage;

pub use annotations::{
    CREATE_ERROR_ANNOTATION, EXIT_AFTER_ANNOTATION, EXIT_CODE_ANNOTATION, START_AFTER_ANNOTATION,
};
pub use backend::MockProvider;
pub use builder::MockProviderBuilder;
pub use calls::MockCall;
pub use usage::ContainerUsage;

#[cfg(test)]
mod tests;
