//! Azure Monitor metrics of the emulated container groups, on the ARM listener (one base
//! URL stands in for both `management.azure.com` and `<region>.metrics.monitor.azure.com`):
//!
//! - `POST /subscriptions/{sub}/metrics:getBatch` (Monitor's data plane, api-version
//!   2024-02-01, `metricBatch.json`): up to 50 resource IDs of one subscription and region
//!   in `{"resourceids": [...]}`; answers `{"values": [...]}`, one entry per ID in request
//!   order. Errors are `{"error": {"code", "message"}}`.
//! - `GET /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}/providers/Microsoft.Insights/metrics`
//!   (ARM, api-version 2024-02-01, `metrics_API.json`): one group's `Response`
//!   (`cost`, `timespan`, `interval`, `namespace`, `resourceregion`, `value`). Monitor's
//!   own errors (400, 429) are the Metrics API's flat `{"code", "message"}`; ARM's (404 for a
//!   missing group, api-version, authentication, faults) are `{"error": {...}}`.
//!
//! The values come from the usage model in [`super::usage`]: `CpuUsage` (MilliCores) and
//! `MemoryUsage` (Bytes) per container (dimension `containerName`, summed over the group
//! without a split), and `NetworkBytesReceivedPerSecond`/`NetworkBytesTransmittedPerSecond`
//! at a constant [`NETWORK_RECEIVED_BYTES_PER_SECOND`]/[`NETWORK_TRANSMITTED_BYTES_PER_SECOND`]
//! while any container runs. Windows groups have no platform metrics. Points sit at whole
//! minutes (UTC) for every bucket of the range; a bucket without data is a bare
//! `{"timeStamp"}` as in the spec's examples, and a series with no data at all is left out
//! (`"timeseries": []`). Data newer than `EmulatorConfig::metrics_delay` is not visible yet.
mod definitions;
mod endpoints;
mod query;
pub(crate) mod throttle;
mod timeseries;

pub use endpoints::{MAX_BATCH_RESOURCES, METRICS_API_VERSION};
pub(crate) use endpoints::{MonitorRoute, serve};
pub use throttle::MetricsThrottleConfig;
pub use timeseries::{NETWORK_RECEIVED_BYTES_PER_SECOND, NETWORK_TRANSMITTED_BYTES_PER_SECOND};
