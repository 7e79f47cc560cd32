//! The options of a [`MockProvider`](super::MockProvider).
use tokio::time::Duration;
use vk_core::clock::SharedClock;

/// Options of a [`MockProvider`](super::MockProvider).
#[derive(Debug, Clone)]
#[must_use]
pub struct MockProviderBuilder {
    pub(super) name: String,
    pub(super) create_latency: Duration,
    pub(super) start_delay: Duration,
    pub(super) failure_rate: f64,
    pub(super) seed: u64,
    pub(super) log_lines: u64,
    pub(super) log_interval: Duration,
    pub(super) record_calls: bool,
    pub(super) port_forward: bool,
    pub(super) clock: Option<SharedClock>,
}

impl Default for MockProviderBuilder {
    fn default() -> Self {
        Self {
            name: "mock".into(),
            create_latency: Duration::ZERO,
            // Quick enough for tests, slow enough to observe Pending.
            start_delay: Duration::from_millis(100),
            failure_rate: 0.0,
            seed: 0,
            log_lines: 3,
            log_interval: Duration::from_secs(1),
            record_calls: true,
            port_forward: true,
            clock: None,
        }
    }
}

impl MockProviderBuilder {
    /// Provider name (default `mock`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Time `create_pod` takes (default none).
    pub fn create_latency(mut self, d: Duration) -> Self {
        self.create_latency = d;
        self
    }

    /// Time from create to Running (default 100 ms).
    pub fn start_delay(mut self, d: Duration) -> Self {
        self.start_delay = d;
        self
    }

    /// Fraction (0..=1) of `create_pod` calls failing with a transient error, drawn from a
    /// random generator seeded with [`MockProviderBuilder::seed`].
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Seed of the failure draws (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Lines each container has logged when it starts (default 3).
    pub fn log_lines(mut self, n: u64) -> Self {
        self.log_lines = n;
        self
    }

    /// How often a following log gets a new line (default 1 s).
    pub fn log_interval(mut self, d: Duration) -> Self {
        self.log_interval = d;
        self
    }

    /// Whether calls are recorded for [`MockProvider::calls`](super::MockProvider::calls)
    /// (default on). Load scenarios turn it off: the record grows by a few calls per pod
    /// and is never trimmed.
    pub fn record_calls(mut self, on: bool) -> Self {
        self.record_calls = on;
        self
    }

    /// Whether it says it forwards ports ([`vk_core::Provider::supports_port_forward`];
    /// default on: connections to any port of a running pod echo what they receive).
    /// Off, the kubelet API refuses `/portForward` as for a backend without it.
    pub fn port_forward(mut self, on: bool) -> Self {
        self.port_forward = on;
        self
    }

    /// Read status timestamps from `clock` (default the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }
}
