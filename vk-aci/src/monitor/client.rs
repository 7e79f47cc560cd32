//! The Azure Monitor metrics client: the regional batch API (`metrics:getBatch`, up to
//! [`MAX_BATCH`] resources a call, its own token audience and budget), and the per-resource
//! `Microsoft.Insights/metrics` call through Resource Manager as the fallback.
use http::Method;
use jiff::Timestamp;
use serde_json::json;
use tokio::time::Duration;
use tracing::Instrument;
use tracing::field::Empty;
use url::Url;

use super::response::{BatchBody, ResourceBody, ResourceSeries, Series};
use crate::arm::credentials::ArmCredential;
use crate::arm::throttle::{BucketConfig, ThrottleConfig};
use crate::arm::transport::{Call, Transport, decode};
use crate::arm::{ArmClient, Class, Error, Priority, Result, RetryPolicy, Throttle};

/// The api-version of both metrics APIs (`monitor-spec.md`).
pub const METRICS_API_VERSION: &str = "2024-02-01";

/// Resource IDs one batch call may carry (the batch API's limit).
pub const MAX_BATCH: usize = 50;

/// The metric namespace of container groups.
pub const NAMESPACE: &str = "Microsoft.ContainerInstance/containerGroups";

/// Series asked for per resource when split by container: Azure answers 10 unless told,
/// and a container group holds up to 60 containers.
const MAX_SERIES: usize = 60;

/// The client operation of a batch call (its metric label).
pub const BATCH_OPERATION: &str = "metrics.batch";

/// Where Azure Monitor is and how it is called.
#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// The regional metrics endpoint that serves `metrics:getBatch`
    /// ([`crate::arm::credentials::Cloud::metrics_endpoint`]); `None`: per-resource calls
    /// through Resource Manager only.
    pub batch_endpoint: Option<Url>,
    /// The batch API's token scope ([`crate::arm::credentials::Cloud::metrics_scope`]).
    pub scope: String,
    /// The api-version of both APIs.
    pub api_version: String,
    /// Timeout of each HTTP attempt.
    pub timeout: Duration,
    /// Retries of throttling (429, and the batch API's 529), 5xx, timeouts and transport
    /// errors: metric reads are idempotent.
    pub retry: RetryPolicy,
    /// Client-side budget of batch calls.
    pub budget: BucketConfig,
    /// Largest answer accepted.
    pub max_body_bytes: usize,
}

impl Default for MonitorConfig {
    /// No batch endpoint, the public cloud's metrics scope, api-version 2024-02-01, 30 s per attempt, the default retries, a
    /// budget of 60 batch calls, refilled at one a second (3,000 pods a minute at 50 a
    /// call; Azure publishes no number for the batch API), 16 MiB answers (an hour of
    /// per-minute points for 50 groups of a few containers is about 2 MiB).
    fn default() -> Self {
        Self {
            batch_endpoint: None,
            scope: crate::arm::credentials::Cloud::Public.metrics_scope(),
            api_version: METRICS_API_VERSION.to_owned(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            budget: BucketConfig {
                capacity: 60.0,
                refill_per_second: 1.0,
                background_reserve: 0.0,
            },
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

impl MonitorConfig {
    /// Use the batch API at `endpoint` (a regional metrics endpoint, or the emulator).
    #[must_use]
    pub fn batch_endpoint(mut self, endpoint: Url) -> Self {
        self.batch_endpoint = Some(endpoint);
        self
    }
}

/// What to read: metrics over `[start, end)` at one-minute grain, averaged.
#[derive(Clone, Copy, Debug)]
pub struct MetricsQuery<'a> {
    /// Metric names, e.g. `["CpuUsage", "MemoryUsage"]`.
    pub metrics: &'a [&'a str],
    /// First minute.
    pub start: Timestamp,
    /// End of the window.
    pub end: Timestamp,
    /// Split by the `containerName` dimension.
    pub by_container: bool,
}

impl MetricsQuery<'_> {
    fn time(t: Timestamp) -> String {
        // Whole seconds: the API's format is `yyyy-MM-ddTHH:mm:ss.fffZ`.
        Timestamp::from_second(t.as_second()).map_or_else(|_| t.to_string(), |t| t.to_string())
    }

    fn filter(&self) -> Option<String> {
        self.by_container.then(|| "containerName eq '*'".to_owned())
    }
}

/// The Azure Monitor client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct MonitorClient {
    inner: std::sync::Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: MonitorConfig,
    arm: ArmClient,
    batch: Option<(Url, Transport)>,
}

impl MonitorClient {
    /// A client that reads through the batch API at `config.batch_endpoint` with
    /// `credential` (which must give tokens for Azure Monitor's audience: see
    /// [`ArmCredential::with_scope`]), and through `arm` where batching is unavailable.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(config: MonitorConfig, credential: ArmCredential, arm: ArmClient) -> Result<Self> {
        let batch = match &config.batch_endpoint {
            Some(endpoint) => {
                let budget = ThrottleConfig {
                    reads: config.budget,
                    ..ThrottleConfig::unlimited()
                };
                let transport = Transport {
                    http: Transport::http_client(config.timeout, &arm.config().user_agent())?,
                    credential,
                    throttle: Throttle::new(budget),
                    metrics: arm.metrics().clone(),
                    timeout: config.timeout,
                    retry: config.retry,
                    max_body_bytes: config.max_body_bytes,
                };
                Some((endpoint.clone(), transport))
            }
            None => None,
        };
        Ok(Self {
            inner: std::sync::Arc::new(Inner { config, arm, batch }),
        })
    }

    /// A client without the batch API: per-resource calls through `arm` only.
    #[must_use]
    pub fn per_resource(arm: ArmClient) -> Self {
        Self {
            inner: std::sync::Arc::new(Inner {
                config: MonitorConfig::default(),
                arm,
                batch: None,
            }),
        }
    }

    /// Whether the batch API is configured.
    #[must_use]
    pub fn has_batch(&self) -> bool {
        self.inner.batch.is_some()
    }

    /// The ARM resource ID of container group `name`.
    #[must_use]
    pub fn resource_id(&self, name: &str) -> String {
        let c = self.inner.arm.config();
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{NAMESPACE}/{name}",
            c.subscription_id, c.resource_group
        )
    }

    /// Metrics of up to [`MAX_BATCH`] container groups in one batch call.
    ///
    /// # Errors
    /// [`Error::Config`] without a batch endpoint or with too many IDs; any other
    /// [`Error`] of the call.
    pub async fn batch(
        &self,
        query: &MetricsQuery<'_>,
        resource_ids: &[String],
    ) -> Result<Vec<ResourceSeries>> {
        let Some((endpoint, transport)) = &self.inner.batch else {
            return Err(Error::Config("no azure monitor batch endpoint".into()));
        };
        if resource_ids.len() > MAX_BATCH {
            return Err(Error::Config(format!(
                "{} resources in one metrics batch (at most {MAX_BATCH})",
                resource_ids.len()
            )));
        }
        let subscription = &self.inner.arm.config().subscription_id;
        let mut url = endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config("metrics endpoint cannot have a path".into()))?
            .pop_if_empty()
            .extend(["subscriptions", subscription, "metrics:getBatch"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("api-version", &self.inner.config.api_version)
                .append_pair("metricnamespace", NAMESPACE)
                .append_pair("metricnames", &query.metrics.join(","))
                .append_pair("starttime", &MetricsQuery::time(query.start))
                .append_pair("endtime", &MetricsQuery::time(query.end))
                .append_pair("interval", "PT1M")
                .append_pair("aggregation", "average");
            if let Some(filter) = query.filter() {
                q.append_pair("filter", &filter)
                    .append_pair("top", &MAX_SERIES.to_string());
            }
        }
        let body = json!({ "resourceids": resource_ids })
            .to_string()
            .into_bytes();
        // The regional endpoint is not Resource Manager: its own span, without the URL.
        let span = tracing::debug_span!(
            "azure monitor call",
            operation = BATCH_OPERATION,
            resources = resource_ids.len(),
            attempts = Empty,
            status = Empty,
        );
        let response = transport
            .send(Call {
                operation: BATCH_OPERATION,
                class: Class::Read,
                priority: Priority::Background,
                method: Method::POST,
                url,
                body: Some(body),
                accept: &[],
                idempotent: true,
            })
            .instrument(span)
            .await?;
        let body: BatchBody = decode(BATCH_OPERATION, &response.body)?;
        Ok(body.into_resources())
    }

    /// Metrics of container group `name` through Resource Manager (charged to ARM's read
    /// budget at background priority).
    ///
    /// # Errors
    /// Any [`Error`]; a missing group is a 404.
    pub async fn resource(&self, name: &str, query: &MetricsQuery<'_>) -> Result<Vec<Series>> {
        let mut params = vec![
            ("metricnamespace", NAMESPACE.to_owned()),
            ("metricnames", query.metrics.join(",")),
            (
                "timespan",
                format!(
                    "{}/{}",
                    MetricsQuery::time(query.start),
                    MetricsQuery::time(query.end)
                ),
            ),
            ("interval", "PT1M".to_owned()),
            ("aggregation", "Average".to_owned()),
        ];
        if let Some(filter) = query.filter() {
            params.push(("$filter", filter));
            params.push(("top", MAX_SERIES.to_string()));
        }
        // The `arm call` span of the read (attempts, status) sits inside this one.
        let span = tracing::debug_span!(
            "azure monitor call",
            operation = crate::arm::METRICS_LIST_OPERATION,
            resource = name,
        );
        let body = self
            .inner
            .arm
            .group_metrics(name, &self.inner.config.api_version, &params)
            .instrument(span)
            .await?;
        let body: ResourceBody = decode(crate::arm::METRICS_LIST_OPERATION, &body)?;
        Ok(body.into_series())
    }
}
