//! Azure Monitor metrics of one container group through Resource Manager
//! (`{group}/providers/Microsoft.Insights/metrics`): the fallback where the regional batch
//! API cannot be used. Charged to ARM's read bucket at background priority.

use super::client::ArmClient;
use super::error::Result;
use super::throttle::Priority;
use super::transport::Call;

/// The client operation of a per-resource metrics read (its metric label).
pub const METRICS_LIST_OPERATION: &str = "metrics.list";

impl ArmClient {
    /// The body of `GET {group}/providers/Microsoft.Insights/metrics` with `query` (besides
    /// the api-version).
    ///
    /// # Errors
    /// Any [`super::Error`]; a missing group is a 404.
    pub async fn group_metrics(
        &self,
        name: &str,
        api_version: &str,
        query: &[(&str, String)],
    ) -> Result<bytes::Bytes> {
        let mut segments = self.group_segments(name);
        segments.extend(["providers", "Microsoft.Insights", "metrics"]);
        let url = self.url_with_version(&segments, api_version, query)?;
        let response = self
            .send(Call::get(METRICS_LIST_OPERATION, Priority::Background, url))
            .await?;
        Ok(response.body)
    }
}
