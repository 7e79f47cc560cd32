//! Container group metrics from Azure Monitor, for `kubectl top`, metrics-server and the
//! HorizontalPodAutoscaler.
//!
//! Azure Monitor keeps per-minute platform metrics of every Linux container group:
//! `CpuUsage` (millicores) and `MemoryUsage` (bytes) split by container, network bytes per
//! second per group. [`MonitorClient`] reads them for up to 50 groups a call through the
//! regional batch API, or one group a call through Resource Manager where batching is not
//! available; the provider's statistics cache (`crate::provider::stats`) decides when.
//!
//! ```no_run
//! # async fn example(arm: vk_aci::arm::ArmClient, credential: vk_aci::arm::ArmCredential)
//! # -> Result<(), vk_aci::arm::Error> {
//! use vk_aci::arm::credentials::Cloud;
//! use vk_aci::monitor::{MetricsQuery, MonitorClient, MonitorConfig};
//!
//! let endpoint = Cloud::Public.metrics_endpoint("westeurope").parse().unwrap();
//! let monitor = MonitorClient::new(
//!     MonitorConfig::default().batch_endpoint(endpoint),
//!     credential.with_scope(Cloud::Public.metrics_scope()),
//!     arm,
//! )?;
//! let now = jiff::Timestamp::now();
//! let query = MetricsQuery {
//!     metrics: &["CpuUsage", "MemoryUsage"],
//!     start: now - jiff::SignedDuration::from_mins(5),
//!     end: now,
//!     by_container: true,
//! };
//! let ids = vec![monitor.resource_id("default-web-0")];
//! for resource in monitor.batch(&query, &ids).await? {
//!     println!("{}: {} series", resource.resource_id, resource.series.len());
//! }
//! # Ok(())
//! # }
//! ```
mod client;
mod response;

pub use client::{
    BATCH_OPERATION, MAX_BATCH, METRICS_API_VERSION, MetricsQuery, MonitorClient, MonitorConfig,
    NAMESPACE,
};
pub use response::{Point, ResourceSeries, Series};
