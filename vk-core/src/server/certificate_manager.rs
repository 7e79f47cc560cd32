//! The serving certificate the TLS server presents, swapped while it serves, and the
//! manager that requests it from the cluster and renews it before it expires.
//!
//! [`ServingCertificate`] is a rustls certificate resolver holding the current
//! certificate; every new TLS handshake reads it, so a renewed certificate is served
//! without a restart (open connections keep theirs).
//!
//! [`CertificateManager`] behaves like the kubelet's server certificate manager
//! (`serverTLSBootstrap: true`):
//! - At start it requests a certificate (see [`super::certificate_request`]) and **waits**
//!   for it: until the first certificate is issued, TLS handshakes on the kubelet port fail
//!   (the kubelet answers them with "no serving certificate available for the kubelet").
//!   No self-signed certificate is served meanwhile: an operator who opted in to
//!   cluster-signed certificates gets either one or a visible failure (the warning that
//!   names the request to approve, repeated every minute), never a certificate the API
//!   server may not trust.
//! - It renews at a random point between 70 % and 90 % of the certificate's lifetime
//!   (client-go's certificate manager: `notBefore + jitter(0.7..0.9) * lifetime`), keeps
//!   serving the old certificate while the new request waits, and retries failed, denied
//!   or timed-out requests (unissued after [`ServingCsr::approval_timeout`], 15 min like
//!   the kubelet) with a new request after an exponential backoff (2 s doubling to 5 min,
//!   our choice; the kubelet backs off exponentially too). A renewal never comes sooner
//!   than the first backoff step, so a signer issuing very short lifetimes cannot cause a
//!   storm of requests.
//!
//! Each request, issue and failure is also an event on the Node (`kubectl describe node`):
//! `ServingCertificateRequested` (a warning: it needs approval), `ServingCertificateIssued`,
//! `ServingCertificateRequestFailed`.
//!
//! Metrics ([`CertificateManager::register_metrics`]), after the kubelet's
//! `kubelet_certificate_manager_server_ttl_seconds` and
//! `kubelet_server_expiration_renew_errors`: `serving_certificate_expiration_seconds` (the
//! served certificate's `notAfter`, Unix seconds; 0 before the first) and
//! `serving_certificate_renew_errors_total`.
//!
//! Timers use `tokio::time`; the wall clock (to place the renewal deadline relative to
//! the certificate's validity) comes from [`crate::clock::Clock`].
use std::hash::BuildHasher as _;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::watch;
use tokio::time::{self, Duration};

use super::certificate_request::{self, CsrError, IssuedCertificate, ServingCsr};
use crate::clock::{SharedClock, SystemClock};
use crate::error_chain;

// === ServingCertificate ===

/// The certificate the kubelet API presents: a rustls resolver whose certificate can be
/// replaced while serving. Cheap to clone; clones share the certificate.
#[derive(Clone)]
pub struct ServingCertificate(Arc<watch::Sender<Option<Arc<CertifiedKey>>>>);

impl Default for ServingCertificate {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(None)))
    }
}

impl std::fmt::Debug for ServingCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServingCertificate")
            .field("present", &self.0.borrow().is_some())
            .finish()
    }
}

impl ServingCertificate {
    /// A resolver with no certificate yet: handshakes fail until [`Self::set`].
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// Serve `key` from the next handshake on.
    pub fn set(&self, key: Arc<CertifiedKey>) {
        self.0.send_replace(Some(key));
    }

    /// The certificate served now, if any.
    #[must_use]
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.0.borrow().clone()
    }

    /// Wait until a certificate is served.
    pub async fn ready(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives in `self`, so the channel cannot close while waiting.
        let _ = rx.wait_for(Option::is_some).await;
    }
}

impl ResolvesServerCert for ServingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current();
        if current.is_none() {
            tracing::debug!("no serving certificate available for the kubelet api yet");
        }
        current
    }
}

// === CertificateManager ===

/// Requests the serving certificate from the cluster and renews it before it expires,
/// installing each one in a [`ServingCertificate`].
#[must_use]
pub struct CertificateManager {
    client: kube::Client,
    csr: ServingCsr,
    serving: ServingCertificate,
    clock: SharedClock,
    backoff_first: Duration,
    backoff_max: Duration,
    metrics: CertificateMetrics,
}

/// The manager's metrics; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct CertificateMetrics {
    expiration: Gauge,
    renew_errors: Counter,
}

impl std::fmt::Debug for CertificateManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateManager")
            .field("csr", &self.csr)
            .finish_non_exhaustive()
    }
}

impl CertificateManager {
    /// A manager requesting `csr` through `client`, serving through `serving`.
    pub fn new(client: kube::Client, csr: ServingCsr, serving: ServingCertificate) -> Self {
        Self {
            client,
            csr,
            serving,
            clock: Arc::new(SystemClock),
            backoff_first: Duration::from_secs(2),
            backoff_max: Duration::from_secs(5 * 60),
            metrics: CertificateMetrics::default(),
        }
    }

    /// Register the manager's metrics in `registry`.
    pub fn register_metrics(self, registry: &mut Registry) -> Self {
        registry.register(
            "serving_certificate_expiration_seconds",
            "notAfter of the served kubelet certificate (Unix seconds; 0 before the first)",
            self.metrics.expiration.clone(),
        );
        registry.register(
            "serving_certificate_renew_errors",
            "Failed requests for the kubelet serving certificate",
            self.metrics.renew_errors.clone(),
        );
        self
    }

    /// The wall clock the renewal deadline is placed with.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// First and largest delay between failed requests (default 2 s and 5 min).
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff_first = first;
        self.backoff_max = max.max(first);
        self
    }

    /// Request, install and renew certificates until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            client,
            csr,
            serving,
            clock,
            backoff_first,
            backoff_max,
            metrics,
        } = self;
        let rotation = Rotation {
            serving,
            clock,
            backoff_first,
            backoff_max,
            metrics,
        };
        let events = &NodeEvents::new(&client, &csr.node_name);
        let (client, csr) = (&client, &csr);
        let request = || async move {
            let created = |name: String| {
                let note = format!(
                    "requested the kubelet serving certificate with {name}; approve it: kubectl certificate approve {name}"
                );
                async move {
                    events
                        .publish(
                            EventType::Warning,
                            "ServingCertificateRequested",
                            note,
                            Some(&name),
                        )
                        .await;
                }
            };
            let result = certificate_request::request_certificate_with(client, csr, created).await;
            match &result {
                Ok(issued) => {
                    let note = format!(
                        "{} issued the kubelet serving certificate, valid until {}",
                        issued.csr_name, issued.not_after
                    );
                    events
                        .publish(
                            EventType::Normal,
                            "ServingCertificateIssued",
                            note,
                            Some(&issued.csr_name),
                        )
                        .await;
                }
                Err(e) => {
                    events
                        .publish(
                            EventType::Warning,
                            "ServingCertificateRequestFailed",
                            error_chain(e),
                            e.csr_name(),
                        )
                        .await;
                }
            }
            result
        };
        tokio::select! {
            () = rotation.run(request) => {}
            () = shutdown => {}
        }
    }
}

/// Events about the serving certificate, on the Node.
struct NodeEvents {
    recorder: Recorder,
    node: ObjectReference,
}

impl NodeEvents {
    fn new(client: &kube::Client, node: &str) -> Self {
        Self {
            recorder: Recorder::new(
                client.clone(),
                Reporter {
                    controller: "virtual-kubelet".to_owned(),
                    instance: Some(node.to_owned()),
                },
            ),
            // The kubelet's node reference: the name stands in for the uid.
            node: ObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Node".to_owned()),
                name: Some(node.to_owned()),
                uid: Some(node.to_owned()),
                ..ObjectReference::default()
            },
        }
    }

    /// Publish an event on the Node, related to request `csr` (which also keeps events
    /// about different requests apart).
    async fn publish(&self, type_: EventType, reason: &str, note: String, csr: Option<&str>) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: "RequestServingCertificate".to_owned(),
            secondary: csr.map(|name| ObjectReference {
                api_version: Some("certificates.k8s.io/v1".to_owned()),
                kind: Some("CertificateSigningRequest".to_owned()),
                name: Some(name.to_owned()),
                ..ObjectReference::default()
            }),
        };
        match time::timeout(
            crate::api_call::API_CALL_TIMEOUT,
            self.recorder.publish(&event, &self.node),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "publishing an event failed"),
            Err(_) => tracing::debug!("publishing an event timed out"),
        }
    }
}

/// The renewal loop, apart from how a certificate is obtained (so it can be tested on a
/// paused clock without an API server).
pub(crate) struct Rotation {
    pub serving: ServingCertificate,
    pub clock: SharedClock,
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    pub metrics: CertificateMetrics,
}

impl Rotation {
    /// Forever: obtain a certificate (retrying with backoff), serve it, sleep until its
    /// renewal deadline.
    pub async fn run<F, Fut>(&self, mut request: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<IssuedCertificate, CsrError>>,
    {
        let mut attempt: u32 = 0;
        loop {
            match request().await {
                Ok(issued) => {
                    attempt = 0;
                    let fraction = renewal_fraction(&issued.csr_name);
                    let deadline = renewal_deadline(&issued, fraction);
                    // At least the first backoff step: a certificate that is already due
                    // (a signer issuing very short lifetimes) must not turn into a storm of
                    // requests.
                    let wait = deadline
                        .duration_since(self.clock.now())
                        .try_into()
                        .unwrap_or(Duration::ZERO)
                        .max(self.backoff_first);
                    self.serving.set(Arc::clone(&issued.key));
                    self.metrics.expiration.set(issued.not_after.as_second());
                    tracing::info!(
                        csr = %issued.csr_name,
                        not_after = %issued.not_after,
                        renew_at = %deadline,
                        "serving the kubelet certificate"
                    );
                    time::sleep(wait).await;
                    tracing::info!(csr = %issued.csr_name, "renewing the kubelet serving certificate");
                }
                Err(e) => {
                    let delay = backoff(self.backoff_first, self.backoff_max, attempt);
                    attempt = attempt.saturating_add(1);
                    self.metrics.renew_errors.inc();
                    tracing::error!(
                        error = %error_chain(&e),
                        retry_in = ?delay,
                        serving = self.serving.current().is_some(),
                        "requesting the kubelet serving certificate failed"
                    );
                    time::sleep(delay).await;
                }
            }
        }
    }
}

/// A random fraction of the lifetime in [0.7, 0.9).
fn renewal_fraction(seed: &str) -> f64 {
    // A per-process random hasher gives the jitter without a random-number dependency.
    let r = std::collections::hash_map::RandomState::new().hash_one(seed);
    let unit = (r & 0xffff) as f64 / 65536.0;
    0.7 + 0.2 * unit
}

/// `not_before + fraction * (not_after - not_before)`.
fn renewal_deadline(issued: &IssuedCertificate, fraction: f64) -> jiff::Timestamp {
    let lifetime = issued.not_after.duration_since(issued.not_before);
    let secs = lifetime.as_secs_f64().max(0.0) * fraction;
    let offset = jiff::SignedDuration::try_from_secs_f64(secs).unwrap_or_default();
    issued
        .not_before
        .checked_add(offset)
        .unwrap_or(issued.not_after)
}

/// `first * 2^attempt`, capped at `max`.
fn backoff(first: Duration, max: Duration, attempt: u32) -> Duration {
    first.saturating_mul(1u32 << attempt.min(20)).min(max)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use jiff::Timestamp;

    use super::*;
    use crate::clock::FixedClock;

    fn cert(name: &str, not_before: Timestamp, lifetime: Duration) -> IssuedCertificate {
        let generated = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(generated.signing_key.serialize_der())
            .unwrap();
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let key =
            CertifiedKey::from_der(vec![generated.cert.der().clone()], key, &provider).unwrap();
        IssuedCertificate {
            key: Arc::new(key),
            not_before,
            not_after: not_before
                .checked_add(jiff::SignedDuration::try_from(lifetime).unwrap())
                .unwrap(),
            csr_name: name.to_owned(),
        }
    }

    fn t0() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn renewal_should_fall_between_70_and_90_percent_of_the_lifetime() {
        let c = cert("a", t0(), Duration::from_secs(1000));
        for seed in ["a", "b", "c", "d", "e", "f"] {
            let f = renewal_fraction(seed);
            assert!((0.7..0.9).contains(&f), "{f}");
            let at = renewal_deadline(&c, f).duration_since(t0()).as_secs();
            assert!((700..=900).contains(&at), "{at}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_certificate_already_due_should_not_be_renewed_in_a_tight_loop() {
        let clock = FixedClock::new(t0());
        let serving = ServingCertificate::empty();
        let calls = Arc::new(AtomicUsize::new(0));
        let rotation = Rotation {
            serving: serving.clone(),
            clock: Arc::new(clock.clone()),
            backoff_first: Duration::from_secs(5),
            backoff_max: Duration::from_secs(60),
            metrics: CertificateMetrics::default(),
        };
        let counted = Arc::clone(&calls);
        let task = tokio::spawn(async move {
            rotation
                .run(|| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    // Issued an hour ago, expired now.
                    let issued = t0() - jiff::SignedDuration::from_hours(1);
                    let c = cert("old", issued, Duration::from_secs(3600));
                    async move { Ok(c) }
                })
                .await;
        });
        time::sleep(Duration::from_secs(12)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3, "at 0 s, 5 s and 10 s");
        task.abort();
    }

    #[test]
    fn errors_should_be_told_with_their_causes() {
        let e = CsrError::Generate(rcgen::Error::CouldNotParseCertificate);
        let told = error_chain(&e);
        assert!(told.starts_with("generating the serving key and certificate request: "));
        assert!(told.len() > "generating the serving key and certificate request: ".len());
    }

    #[test]
    fn backoff_should_double_up_to_the_cap() {
        let (first, max) = (Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(backoff(first, max, 0), Duration::from_secs(2));
        assert_eq!(backoff(first, max, 3), Duration::from_secs(16));
        assert_eq!(backoff(first, max, 30), max);
    }

    /// A source handing out certificates valid for 100 s from the fixed clock's now,
    /// failing the calls listed in `fail_on` (1-based).
    struct Source {
        clock: FixedClock,
        calls: AtomicUsize,
        fail_on: Vec<usize>,
        issued: Mutex<Vec<Arc<CertifiedKey>>>,
    }

    impl Source {
        fn next(&self) -> Result<IssuedCertificate, CsrError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.fail_on.contains(&n) {
                return Err(CsrError::Denied {
                    name: format!("csr-{n}"),
                    reason: "Test".into(),
                    message: "denied by the test".into(),
                });
            }
            let c = cert(
                &format!("csr-{n}"),
                self.clock.now(),
                Duration::from_secs(100),
            );
            self.issued.lock().unwrap().push(Arc::clone(&c.key));
            Ok(c)
        }
    }

    use crate::clock::Clock as _;

    #[tokio::test(start_paused = true)]
    async fn certificate_should_be_renewed_before_expiry_and_failures_retried() {
        let clock = FixedClock::new(t0());
        let serving = ServingCertificate::empty();
        let source = Arc::new(Source {
            clock: clock.clone(),
            calls: AtomicUsize::new(0),
            fail_on: vec![2],
            issued: Mutex::new(Vec::new()),
        });
        let metrics = CertificateMetrics::default();
        let rotation = Rotation {
            serving: serving.clone(),
            clock: Arc::new(clock.clone()),
            backoff_first: Duration::from_secs(30),
            backoff_max: Duration::from_secs(60),
            metrics: metrics.clone(),
        };
        let task = {
            let source = Arc::clone(&source);
            tokio::spawn(async move {
                rotation
                    .run(|| {
                        let r = source.next();
                        async move { r }
                    })
                    .await;
            })
        };
        time::timeout(Duration::from_secs(1), serving.ready())
            .await
            .expect("the first certificate is served at once");
        let first = serving.current().unwrap();
        assert!(Arc::ptr_eq(&first, &source.issued.lock().unwrap()[0]));

        // Before 70 % of the lifetime nothing is requested.
        time::sleep(Duration::from_secs(69)).await;
        clock.advance(Duration::from_secs(69));
        assert_eq!(source.calls.load(Ordering::SeqCst), 1);

        // By 90 % the renewal was asked for; it was denied, the old one is still served.
        time::sleep(Duration::from_millis(21_500)).await;
        clock.advance(Duration::from_millis(21_500));
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
        assert!(Arc::ptr_eq(&serving.current().unwrap(), &first));

        // The retry (30 s later) gets a new certificate, which is served from then on.
        time::sleep(Duration::from_secs(30)).await;
        assert_eq!(source.calls.load(Ordering::SeqCst), 3);
        let second = serving.current().unwrap();
        assert!(!Arc::ptr_eq(&second, &first));
        assert!(Arc::ptr_eq(&second, &source.issued.lock().unwrap()[1]));
        assert_eq!(metrics.renew_errors.get(), 1);
        let expected = (clock.now() + jiff::SignedDuration::from_secs(100)).as_second();
        assert!((expected - 30..=expected).contains(&metrics.expiration.get()));
        task.abort();
    }
}
