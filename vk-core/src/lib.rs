//! A virtual kubelet runtime: make any backend a node of a Kubernetes cluster.
//!
//! A virtual kubelet registers a `Node`, keeps it alive with a node `Lease`, and runs every
//! pod the scheduler binds to that node somewhere other than a machine: a serverless
//! container service, a batch system, another cluster, local processes. Everything that
//! makes such a node behave like a kubelet to the rest of the cluster lives here:
//! registration and conditions by server-side apply, the Lease heartbeat, watching the
//! node's pods, resolving their Secrets, ConfigMaps, tokens and volumes, status updates
//! that only write what changed, graceful deletion, adoption after a restart, orphan
//! clean-up, events, metrics, and the kubelet HTTPS API behind `kubectl logs`, `exec`,
//! `attach`, `port-forward` and `top`. A backend only implements the small [`Provider`]
//! trait.
//!
//! # Getting started
//!
//! 1. Implement [`Provider`]: five lifecycle calls (`create_pod`, `update_pod`,
//!    `delete_pod`, `pod_status`, `list_pods`), and `logs`/`exec` if the backend can. Its
//!    docs say what the runtime does and what `pod_status` must fill in.
//! 2. Run it with [`VirtualKubelet::builder`]: the runtime, the kubelet API (TLS from
//!    files, a generated self-signed pair or the cluster's CSR flow; token and
//!    client-certificate authentication; SubjectAccessReview authorization), optional
//!    single-actor leader election, `/livez` `/readyz` `/metrics`, graceful shutdown.
//! 3. Test it without a cluster with the `vk-testing` crate (in this repository at
//!    `vk-core/testing`): a fake API server that real `kubectl` talks to, and a harness
//!    that runs your provider as a whole node in one call.
//!
//! `vk-core/examples/` holds two providers: `custom_provider.rs` (pods as map entries, the
//! smallest whole node) and `process_provider.rs` (each pod a local process, with logs
//! and exec).
//!
//! # Choosing a Kubernetes version
//!
//! Like kube-rs, vk-core enables no `k8s-openapi` version feature: the final binary picks
//! one, and a crate's tests pick one in its dev-dependencies:
//!
//! ```toml
//! [dependencies]
//! vk-core = "0.1"
//! k8s-openapi = { version = "0.29", features = ["latest"] } # or "v1_33", ...
//! ```
//!
//! Without one, k8s-openapi stops the build with "None of the v1_* features are enabled",
//! `cargo doc` included: `cargo doc -p vk-core --features k8s-openapi/latest`.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use k8s_openapi::api::core::v1::{Pod, PodStatus};
//! use vk_core::provider::{ExecIo, LogOptions, LogStream, PodKey, PodResources, ProviderPod, Result};
//! use vk_core::{NodeConfig, Provider, VirtualKubelet};
//!
//! /// A backend that accepts every pod, reports it running, and answers logs and exec.
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
//!     async fn logs(&self, key: &PodKey, _c: &str, _opts: &LogOptions) -> Result<LogStream> {
//!         let line = bytes::Bytes::from(format!("hello from {key}\n"));
//!         Ok(Box::pin(futures::stream::iter([Ok(line)])))
//!     }
//!     async fn exec(&self, _key: &PodKey, _c: &str, cmd: &[String], io: ExecIo) -> Result<i32> {
//!         use tokio::io::AsyncWriteExt as _;
//!         if let Some(mut out) = io.stdout {
//!             let _ = out.write_all(format!("{}\n", cmd.join(" ")).as_bytes()).await;
//!         }
//!         Ok(0)
//!     }
//! }
//!
//! # async fn example() -> std::result::Result<(), Box<dyn std::error::Error>> {
//! let client = kube::Client::try_default().await?;
//! VirtualKubelet::builder(client, Arc::new(Echo), NodeConfig::named("echo-node"))
//!     .kubelet_listen("0.0.0.0:10250".parse()?)
//!     .runtime(|runtime| runtime.workers(20))
//!     .run(async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! The parts can be used on their own: [`Runtime`] (node, Lease and pods without the
//! kubelet API), [`server`] (the kubelet API's router and TLS), [`leader`] (Lease
//! election), [`node`], [`lease`], [`stream`] (SPDY and WebSocket streaming protocols).
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
