//! Where and how the ARM client talks to Resource Manager: base URL, api-version, scope of
//! the container groups, timeouts, retries, budget and long-running-operation polling.
use tokio::time::Duration;
use url::Url;

use super::retry::RetryPolicy;
use super::throttle::ThrottleConfig;

/// The api-version this client speaks by default (`aci-spec/2025-09-01`).
pub const DEFAULT_API_VERSION: &str = "2025-09-01";

/// The Azure public cloud's Resource Manager.
pub const PUBLIC_CLOUD: &str = "https://management.azure.com";

/// Where and how the client talks to ARM.
#[derive(Clone, Debug)]
pub struct ArmConfig {
    /// Resource Manager base URL: public cloud, a sovereign cloud, or the emulator.
    pub base_url: Url,
    /// The `api-version` query parameter.
    pub api_version: String,
    /// Subscription of the container groups.
    pub subscription_id: String,
    /// Resource group of the container groups.
    pub resource_group: String,
    /// Region, for usages and capabilities.
    pub location: String,
    /// Timeout of each HTTP attempt.
    pub timeout: Duration,
    /// Retries of 429, 5xx, timeouts and transport errors.
    pub retry: RetryPolicy,
    /// Client-side token buckets.
    pub throttle: ThrottleConfig,
    /// Poll interval of long-running operations when ARM sends no `Retry-After`.
    pub lro_poll_interval: Duration,
    /// Give up waiting for a long-running operation after this long.
    pub lro_timeout: Duration,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
    /// Appended to the `User-Agent` header after `vk-aci/<version>` (upstream
    /// `ACI_EXTRA_USER_AGENT`, e.g. the Helm chart's `helm-chart/aks/<chart>/<version>`).
    pub extra_user_agent: Option<String>,
}

impl ArmConfig {
    /// Settings for the public cloud with ARM's defaults.
    ///
    /// Defaults: api-version 2025-09-01 (the spec in `aci-spec/`); 30 s per attempt (ARM's
    /// synchronous calls answer within seconds; LROs are polled separately); ARM's token
    /// buckets; LRO polls every 5 s (ACI sends no `Retry-After` on PUT) for at most 30
    /// minutes; 8 MiB bodies (a list page of 100 groups is well under 1 MiB; logs are the
    /// largest answers).
    ///
    /// # Panics
    /// Never: the public cloud URL is a valid constant.
    #[must_use]
    pub fn new(
        subscription_id: impl Into<String>,
        resource_group: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Self {
            base_url: Url::parse(PUBLIC_CLOUD).expect("constant URL parses"),
            api_version: DEFAULT_API_VERSION.to_owned(),
            subscription_id: subscription_id.into(),
            resource_group: resource_group.into(),
            location: location.into(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            throttle: ThrottleConfig::default(),
            lro_poll_interval: Duration::from_secs(5),
            lro_timeout: Duration::from_secs(30 * 60),
            max_body_bytes: 8 * 1024 * 1024,
            extra_user_agent: None,
        }
    }

    /// Use another Resource Manager (sovereign cloud, emulator).
    #[must_use]
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = url;
        self
    }

    /// Use another api-version.
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Per-attempt timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Client-side token buckets.
    #[must_use]
    pub fn throttle(mut self, throttle: ThrottleConfig) -> Self {
        self.throttle = throttle;
        self
    }

    /// Append `extra` to the `User-Agent` header (blank: nothing appended).
    #[must_use]
    pub fn extra_user_agent(mut self, extra: impl Into<String>) -> Self {
        let extra = extra.into();
        self.extra_user_agent = (!extra.trim().is_empty()).then(|| extra.trim().to_owned());
        self
    }

    /// The `User-Agent` header: `vk-aci/<version>`, then the extra part when set.
    #[must_use]
    pub fn user_agent(&self) -> String {
        let base = concat!("vk-aci/", env!("CARGO_PKG_VERSION"));
        match &self.extra_user_agent {
            Some(extra) => format!("{base} {extra}"),
            None => base.to_owned(),
        }
    }

    /// LRO poll interval.
    #[must_use]
    pub fn lro_poll_interval(mut self, interval: Duration) -> Self {
        self.lro_poll_interval = interval;
        self
    }
}
