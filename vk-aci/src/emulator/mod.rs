//! A stateful local ARM/ACI server for tests, demos and benchmarks (feature `emulator`).
//!
//! [`Emulator::start`] binds 127.0.0.1 (ARM on one port, exec WebSockets on another) and
//! serves the container group operations at ARM's paths with api-version checks, request
//! validation, groups moving `Pending -> Creating -> Running`, containers that follow their
//! command ([`state::Behaviour`]), restart policies, logs, the exec WebSocket with a small
//! `/bin/sh` ([`shell`]), ARM token buckets, ACI's create quota, fault injection, a fake
//! Entra ID token endpoint (`POST /{tenant}/oauth2/v2.0/token`) and a read-only call
//! counter at `GET /_emulator/calls`.
//!
//! The same listener serves Azure Monitor's metrics of the groups, as both the regional
//! data-plane endpoint (`POST /subscriptions/{sub}/metrics:getBatch`) and ARM's
//! `GET {group ID}/providers/Microsoft.Insights/metrics` (api-version 2024-02-01):
//! `CpuUsage` and `MemoryUsage` per container, from a usage model each test can steer
//! ([`usage`], [`EmulatorHandle::set_usage`]), and the network rates ([`monitor`]).
//!
//! Time is the tokio clock, so `#[tokio::test(start_paused = true)]` drives it.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};
use url::Url;

mod actions;
mod admission;
mod arm_http;
mod config;
mod container_groups;
mod containers;
mod entra_token;
mod exec;
pub mod faults;
mod location;
pub mod monitor;
pub mod quota;
mod routes;
pub mod shell;
pub mod state;
mod store;
mod subnets;
pub mod usage;
mod validate;

pub use config::{EmulatorConfig, LroStyle};
pub use faults::{FaultConfig, Injected};
pub use monitor::{METRICS_API_VERSION, MetricsThrottleConfig};
pub use quota::QuotaWindow;
use store::Shared;
pub use usage::ContainerUsage;

/// The emulator entry point.
#[derive(Debug)]
pub struct Emulator;

/// A running emulator; dropping it stops the servers.
#[derive(Debug)]
pub struct EmulatorHandle {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

// === impl Emulator ===

impl Emulator {
    /// Bind and serve.
    ///
    /// # Errors
    /// [`EmulatorError::Bind`] when a port cannot be bound.
    pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| EmulatorError::Bind { addr, source })
        };
        let arm = bind(config.listen).await?;
        let exec_listener = bind(SocketAddr::new(config.listen.ip(), 0)).await?;
        let local = arm.local_addr().map_err(|source| EmulatorError::Bind {
            addr: config.listen,
            source,
        })?;
        let exec_addr = exec_listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: config.listen,
                source,
            })?;
        let base_url =
            Url::parse(&format!("http://{local}")).expect("a socket address makes a URL");
        let shared = Arc::new(Shared::new(config, base_url, exec_addr));
        let router = routes::router(shared.clone());
        let arm_task = tokio::spawn(async move {
            if let Err(error) = axum::serve(arm, router).await {
                tracing::warn!(%error, "emulator arm server stopped");
            }
        });
        let exec_task = tokio::spawn(exec::serve(exec_listener, shared.clone()));
        tracing::info!(url = %shared.base_url, "aci emulator listening");
        Ok(EmulatorHandle {
            shared,
            tasks: vec![arm_task, exec_task],
        })
    }
}

/// Serve until `shutdown` resolves: what `vk-aci emulator --listen ADDR` runs. The ARM base
/// URL is logged at INFO (and returned by [`Emulator::start`] for embedding).
///
/// # Errors
/// [`EmulatorError::Bind`] when a port cannot be bound.
pub async fn serve(
    config: EmulatorConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), EmulatorError> {
    let handle = Emulator::start(config).await?;
    shutdown.await;
    handle.shutdown();
    Ok(())
}

// === impl EmulatorHandle ===

impl EmulatorHandle {
    /// The ARM base URL (`http://127.0.0.1:PORT`).
    #[must_use]
    pub fn url(&self) -> Url {
        self.shared.base_url.clone()
    }

    /// The Entra ID authority to use for the token flow (same server).
    #[must_use]
    pub fn authority(&self) -> String {
        self.shared
            .base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// Calls served so far, by operation.
    #[must_use]
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.shared.lock().calls.clone()
    }

    /// Calls of one operation so far.
    #[must_use]
    pub fn call_count(&self, operation: &str) -> u64 {
        self.shared
            .lock()
            .calls
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Bytes of log content `containers.list_logs` has answered so far: what following a
    /// log costs.
    #[must_use]
    pub fn log_bytes(&self) -> u64 {
        self.shared.lock().log_bytes
    }

    /// Queue a one-shot answer for the next ARM call.
    pub fn inject(&self, injected: Injected) {
        self.shared.lock().injected.push_back(injected);
    }

    /// Replace the standing faults.
    pub fn set_faults(&self, faults: FaultConfig) {
        self.shared.lock().faults = faults;
    }

    /// From now on, container `container` of the group named `group_name` (in any resource
    /// group, including one created later under that name) uses `usage`, as Azure Monitor's
    /// `CpuUsage` and `MemoryUsage` report it. Earlier minutes keep the values they had; the
    /// change applies over the part of the current minute that follows it. Overrides the
    /// container's `VK_EMULATOR_USAGE` ([`usage::USAGE_ENV`]) and the default.
    pub fn set_usage(&self, group_name: &str, container: &str, usage: ContainerUsage) {
        let at = self.shared.wall.timestamp(Instant::now());
        self.shared
            .lock()
            .usage
            .set(group_name, container, at, usage);
    }

    /// Invalidate every token issued so far: the next ARM call with one answers 401, as
    /// ARM does for a revoked or rotated credential.
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Create the user-assigned identity `id` (its ARM resource ID): groups may use it.
    /// ARM refuses a group naming an identity that does not exist (`FailedIdentityOperation`),
    /// and so does the emulator.
    pub fn add_identity(&self, id: &str) {
        self.shared
            .lock()
            .identities
            .insert(id.to_ascii_lowercase());
    }

    /// Make the token endpoint take `delay` before answering (a slow identity provider).
    pub fn set_token_delay(&self, delay: Duration) {
        self.shared.lock().token_delay = delay;
    }

    /// Names of the groups that exist (not yet deleted).
    #[must_use]
    pub fn group_names(&self) -> Vec<String> {
        let now = Instant::now();
        let timeline = self.shared.config.timeline;
        let mut names: Vec<String> = self
            .shared
            .lock()
            .groups
            .values()
            .filter(|g| !g.is_gone(now, &timeline))
            .filter_map(|g| g.spec.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Create or replace a subnet of VNet `vnet` as if an operator had made it: `properties`
    /// as ARM shows them (`addressPrefix`, `delegations`, ...).
    pub fn insert_subnet(
        &self,
        subscription: &str,
        resource_group: &str,
        vnet: &str,
        name: &str,
        properties: serde_json::Value,
    ) {
        let id = subnets::id(subscription, resource_group, vnet, name);
        let mut subnet = serde_json::json!({ "properties": properties });
        subnets::store(&self.shared, &id, name, &mut subnet);
    }

    /// A subnet as GET answers it, if it exists.
    #[must_use]
    pub fn subnet(
        &self,
        subscription: &str,
        resource_group: &str,
        vnet: &str,
        name: &str,
    ) -> Option<serde_json::Value> {
        let id = subnets::id(subscription, resource_group, vnet, name).to_ascii_lowercase();
        self.shared.lock().subnets.get(&id).cloned()
    }

    /// The stored spec of the group `name` (in any resource group), as it was PUT,
    /// secrets included: what ARM received, for tests (GET hides the secrets).
    #[must_use]
    pub fn group_spec(&self, name: &str) -> Option<vk_translate::container_group::ContainerGroup> {
        let now = Instant::now();
        let timeline = self.shared.config.timeline;
        self.shared
            .lock()
            .groups
            .values()
            .filter(|g| !g.is_gone(now, &timeline))
            .find(|g| g.spec.name.as_deref() == Some(name))
            .map(|g| g.spec.clone())
    }

    /// What happened, in order: each ARM operation as counted by [`Self::calls`]
    /// (`container_groups.delete`) and each command line run through exec, as
    /// `exec <group>/<container>: <line>`. For tests of ordering (hooks before a DELETE).
    #[must_use]
    pub fn journal(&self) -> Vec<String> {
        self.shared.lock().journal.clone()
    }

    /// Evict the Spot group `name` as Azure does when it reclaims Spot capacity: its
    /// containers are killed and the group shows `Stopped` with an eviction event
    /// ([`state::EVICTION_EVENT`]). Returns false when there is no such Spot group.
    pub fn evict(&self, name: &str) -> bool {
        let now = Instant::now();
        let timeline = self.shared.config.timeline;
        let mut inner = self.shared.lock();
        let Some(record) = inner.groups.values_mut().find(|g| {
            !g.is_gone(now, &timeline)
                && g.spec.name.as_deref() == Some(name)
                && g.spec.properties.priority.as_ref().map(|p| p.as_str()) == Some("Spot")
        }) else {
            return false;
        };
        record.stopped = Some(state::Stopped {
            at: now,
            evicted: true,
        });
        inner.note(format!("evicted {name}"));
        true
    }

    /// Stop serving.
    pub fn shutdown(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
