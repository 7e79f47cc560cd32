//! Fault injection: random errors, added latency, failed provisioning, and one-shot
//! answers queued by tests.
use tokio::time::Duration;

/// Standing faults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// Probability (0..=1) that an ARM call answers 500 `InternalServerError`.
    pub error_rate: f64,
    /// Latency added to every ARM call.
    pub latency: Duration,
    /// Every new group fails provisioning (otherwise only groups with a container env
    /// `EMULATOR_FAIL_PROVISIONING=true`).
    pub fail_provisioning: bool,
    /// Probability (0..=1) that a PUT, DELETE or POST takes effect and its answer is lost:
    /// the client gets 504 `GatewayTimeout`, as when ARM's front door gave up on a backend
    /// that went on to finish.
    pub lost_response_rate: f64,
}

/// A one-shot answer for the next ARM call (queued with `EmulatorHandle::inject`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Injected {
    /// HTTP status to answer; `None` answers normally (after `delay`).
    pub status: Option<u16>,
    /// ARM error code for the body.
    pub code: String,
    /// `Retry-After` seconds to send.
    pub retry_after: Option<u64>,
    /// Delay before answering.
    pub delay: Duration,
    /// Run the request, then lose its answer (504 `GatewayTimeout`).
    pub lost: bool,
}

impl Injected {
    /// Answer `status` with `code`.
    #[must_use]
    pub fn status(status: u16, code: impl Into<String>) -> Self {
        Self {
            status: Some(status),
            code: code.into(),
            retry_after: None,
            delay: Duration::ZERO,
            lost: false,
        }
    }

    /// Add a `Retry-After`.
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Answer normally but only after `delay` (timeouts).
    #[must_use]
    pub fn delay(delay: Duration) -> Self {
        Self {
            status: None,
            code: String::new(),
            retry_after: None,
            delay,
            lost: false,
        }
    }

    /// Run the next call, then lose its answer: the client sees 504 `GatewayTimeout`
    /// although the request took effect.
    #[must_use]
    pub fn lost() -> Self {
        Self {
            status: None,
            code: String::new(),
            retry_after: None,
            delay: Duration::ZERO,
            lost: true,
        }
    }
}
