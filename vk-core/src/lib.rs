//! A virtual kubelet runtime: make any backend a node of a Kubernetes cluster.
//!
//! A virtual kubelet registers a `Node`, keeps it alive with a node `Lease`, and runs every
//! pod the scheduler binds to that node somewhere other than a machine: a serverless
//! container service, a batch system, another cluster. Everything that makes such a node
//! behave like a kubelet to the rest of the cluster (registration and conditions by
//! server-side apply, the Lease heartbeat, watching the node's pods, resolving their
//! Secrets, ConfigMaps and tokens, status updates that only write what changed, graceful
//! deletion, adoption after a restart, orphan clean-up, events and metrics) lives here, so
//! a backend only implements the small [`Provider`] trait.
//!
//! Start with [`Provider`] and [`Runtime::builder`]. The parts can be used on their own:
//! [`node`] builds the Node object and its conditions, [`lease`] the node Lease,
//! [`pods::PodFailure`] maps provider errors to pod status, and (with the `testing`
//! feature) `testing` offers a fake API server and a mock provider for your own tests.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use k8s_openapi::api::core::v1::{Pod, PodStatus};
//! use vk_core::provider::{PodKey, PodResources, ProviderPod, Result};
//! use vk_core::{NodeConfig, Provider, Runtime};
//!
//! /// A backend that accepts every pod and reports it running.
//! struct Echo;
//!
//! #[async_trait::async_trait]
//! impl Provider for Echo {
//!     fn name(&self) -> &str {
//!         "echo"
//!     }
//!     async fn create_pod(&self, _pod: &Pod, _res: &PodResources) -> Result<()> {
//!         Ok(())
//!     }
//!     async fn update_pod(&self, _pod: &Pod, _res: &PodResources) -> Result<()> {
//!         Ok(())
//!     }
//!     async fn delete_pod(&self, _pod: &Pod) -> Result<()> {
//!         Ok(())
//!     }
//!     async fn pod_status(&self, _key: &PodKey) -> Result<Option<PodStatus>> {
//!         Ok(Some(PodStatus {
//!             phase: Some("Running".into()),
//!             ..PodStatus::default()
//!         }))
//!     }
//!     async fn list_pods(&self) -> Result<Vec<ProviderPod>> {
//!         Ok(Vec::new())
//!     }
//! }
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = kube::Client::try_default().await?;
//! let runtime = Runtime::builder(client, Arc::new(Echo), NodeConfig::named("echo-node"))
//!     .workers(20)
//!     .build();
//! // Hand `runtime.pod_store()` and `runtime.metrics_registry()` to a kubelet API server.
//! runtime
//!     .run(async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod api_call;
pub mod clock;
mod error;
mod error_chain;
pub mod leader;
pub mod lease;
mod metrics;
pub mod node;
pub mod pods;
pub mod provider;
pub mod runtime;
pub mod server;
pub mod stream;
pub mod virtual_kubelet;

pub use error_chain::error_chain;
pub use node::NodeConfig;
pub use pods::{PodFailure, PodStore};
pub use provider::{Provider, ProviderError, SharedProvider};
pub use runtime::{Runtime, RuntimeBuilder, RuntimeError};
pub use virtual_kubelet::{VirtualKubelet, VirtualKubeletBuilder, VirtualKubeletError};
