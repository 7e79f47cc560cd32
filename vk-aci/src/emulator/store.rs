//! What the emulator's handlers share: the settings, the clocks, the token buckets, and,
//! behind one lock, everything ARM would store (groups, operations, exec tickets, tokens,
//! identities, subnets, quota windows, usage, the journal and the call counts).
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

use tokio::time::{Duration, Instant};
use url::Url;

use super::config::EmulatorConfig;
use super::faults::{FaultConfig, Injected};
use super::monitor::throttle::MetricsBuckets;
use super::quota::QuotaWindows;
use super::state::{Groups, WallClock};
use super::usage::UsageOverrides;
use crate::arm::throttle::Throttle;

/// A started long-running operation.
#[derive(Clone, Debug)]
pub(crate) enum OpRecord {
    /// A PUT of this group key.
    Put(String),
    /// A DELETE of this group key.
    Delete(String),
}

/// A pending exec session, redeemed by the WebSocket with the password.
#[derive(Clone, Debug)]
pub(crate) struct ExecTicket {
    pub password: String,
    pub command: String,
    pub env: BTreeMap<String, String>,
    pub hostname: String,
    /// `<group>/<container>`, for the journal.
    pub target: String,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub groups: Groups,
    pub ops: HashMap<String, OpRecord>,
    pub exec: HashMap<String, ExecTicket>,
    pub calls: BTreeMap<String, u64>,
    pub creates: QuotaWindows,
    pub deletes: QuotaWindows,
    pub injected: VecDeque<Injected>,
    pub faults: FaultConfig,
    /// Issued tokens and when each expires.
    pub tokens: HashMap<String, Instant>,
    /// How long the token endpoint takes to answer ([`EmulatorHandle::set_token_delay`]).
    pub token_delay: Duration,
    /// User-assigned identities that exist, lower-cased ([`EmulatorHandle::add_identity`]).
    pub identities: HashSet<String>,
    pub next_ip: u32,
    /// `Microsoft.Network` subnets by lower-cased ARM ID.
    pub subnets: BTreeMap<String, serde_json::Value>,
    /// Usage set by [`EmulatorHandle::set_usage`].
    pub usage: UsageOverrides,
    /// Every ARM operation and exec command line, in order ([`EmulatorHandle::journal`]).
    pub journal: Vec<String>,
    /// Bytes of log content served by `containers.list_logs` ([`EmulatorHandle::log_bytes`]).
    pub log_bytes: u64,
}

/// Journal entries kept; older ones are dropped (a long-running emulator stays small).
pub(crate) const JOURNAL_CAPACITY: usize = 10_000;

impl Inner {
    /// Append `entry` to the journal.
    pub(crate) fn note(&mut self, entry: String) {
        if self.journal.len() >= JOURNAL_CAPACITY {
            self.journal.drain(..JOURNAL_CAPACITY / 2);
        }
        self.journal.push(entry);
    }
}

/// State shared by the handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub wall: WallClock,
    pub throttle: Option<Throttle>,
    pub metrics_throttle: Option<MetricsBuckets>,
    pub base_url: Url,
    pub exec_addr: SocketAddr,
    inner: Mutex<Inner>,
}

impl Shared {
    /// The state of a fresh emulator for `config`, its ARM listener at `base_url` and its
    /// exec WebSockets at `exec_addr`.
    pub fn new(config: EmulatorConfig, base_url: Url, exec_addr: SocketAddr) -> Self {
        Self {
            wall: WallClock::new(config.clock.now(), Instant::now()),
            throttle: config.throttle.map(Throttle::new),
            metrics_throttle: config.metrics_throttle.map(MetricsBuckets::new),
            base_url,
            exec_addr,
            inner: Mutex::new(Inner {
                groups: Groups::new(),
                ops: HashMap::new(),
                exec: HashMap::new(),
                calls: BTreeMap::new(),
                creates: QuotaWindows::new(config.quota.clone()),
                deletes: QuotaWindows::new(config.quota.clone()),
                injected: VecDeque::new(),
                faults: config.faults.clone(),
                tokens: HashMap::new(),
                token_delay: Duration::ZERO,
                identities: HashSet::new(),
                next_ip: 0,
                subnets: BTreeMap::new(),
                usage: UsageOverrides::default(),
                journal: Vec::new(),
                log_bytes: 0,
            }),
            config,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
