//! The emulator's settings: listener, api-version, group timeline, LRO headers, paging,
//! ARM and metrics token buckets, ACI quota, faults, authentication and clocks.
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::time::Duration;
use vk_core::clock::{SharedClock, SystemClock};

use super::faults::FaultConfig;
use super::monitor::throttle::MetricsThrottleConfig;
use super::quota::{self, QuotaWindow};
use super::state::Timeline;
use crate::arm::throttle::ThrottleConfig;

/// How the emulator answers PUT and DELETE: which long-running operation headers it sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LroStyle {
    /// `Azure-AsyncOperation` (ACI's own habit).
    #[default]
    AsyncOperation,
    /// `Location` (202 until done).
    Location,
    /// No header: the client polls the resource.
    None,
}

/// Emulator settings.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Where to listen (ARM); the exec WebSocket listener takes another port on the same IP.
    pub listen: SocketAddr,
    /// The only api-version accepted.
    pub api_version: String,
    /// Group timeline.
    pub timeline: Timeline,
    /// LRO headers on PUT/DELETE.
    pub lro_style: LroStyle,
    /// Groups per list page (ARM pages at 100; smaller values exercise `nextLink`).
    pub page_size: usize,
    /// ARM request buckets; `None` disables throttling.
    pub throttle: Option<ThrottleConfig>,
    /// ACI's create and delete quota windows (each counted separately).
    pub quota: Vec<QuotaWindow>,
    /// Standing faults.
    pub faults: FaultConfig,
    /// Credentials the token endpoint accepts; when set, ARM calls need a token it issued
    /// that has not expired (else 401 `InvalidAuthenticationToken` or
    /// `ExpiredAuthenticationToken`, as ARM answers).
    pub auth: Option<(String, String)>,
    /// Lifetime of the tokens the token endpoint issues (its `expires_in`).
    pub token_lifetime: Duration,
    /// Wall clock for timestamps (read once at start; the tokio clock moves it on).
    pub clock: SharedClock,
    /// Region limit on container groups reported by usages.
    pub group_limit: u64,
    /// Azure Monitor's ingestion delay: metrics data newer than `now - metrics_delay` is
    /// not visible yet (Azure shows the latest minutes 1 to 3 minutes late; zero shows the
    /// current, still-open minute).
    pub metrics_delay: Duration,
    /// Token buckets of the metrics endpoints (separate from ARM's); `None` disables them.
    pub metrics_throttle: Option<MetricsThrottleConfig>,
}

impl Default for EmulatorConfig {
    /// Loopback, api-version 2025-09-01, 1 s `Pending` + 2 s `Creating` (ACI takes tens of
    /// seconds; short enough for demos), immediate deletes, `Azure-AsyncOperation`, pages
    /// of 100 (ARM's page size), ARM's token buckets, ACI's quota (100/5 min, 300/h), no
    /// faults, no authentication, the system clock, 100 groups per region (ACI's default
    /// regional quota), metrics visible at once (no ingestion delay) and Azure Monitor's
    /// query limits ([`MetricsThrottleConfig::default`]).
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_version: crate::arm::DEFAULT_API_VERSION.to_owned(),
            timeline: Timeline {
                pending: Duration::from_secs(1),
                creating: Duration::from_secs(2),
                deleting: Duration::ZERO,
            },
            lro_style: LroStyle::AsyncOperation,
            page_size: 100,
            throttle: Some(ThrottleConfig::default()),
            quota: quota::aci_defaults(),
            faults: FaultConfig::default(),
            auth: None,
            token_lifetime: Duration::from_secs(3599),
            clock: Arc::new(SystemClock),
            group_limit: 100,
            metrics_delay: Duration::ZERO,
            metrics_throttle: Some(MetricsThrottleConfig::default()),
        }
    }
}

impl EmulatorConfig {
    /// Instant transitions, no throttling (ARM's or the metrics'), no quota: the fastest
    /// setup for tests.
    #[must_use]
    pub fn instant() -> Self {
        Self {
            timeline: Timeline {
                pending: Duration::ZERO,
                creating: Duration::ZERO,
                deleting: Duration::ZERO,
            },
            throttle: None,
            metrics_throttle: None,
            quota: Vec::new(),
            ..Self::default()
        }
    }
}
