//! An in-process fake Kubernetes API server speaking the real HTTP/JSON protocol.
//!
//! Start one with [`FakeApiServer::start`] (plain HTTP on `127.0.0.1:0`) or
//! [`FakeApiServer::builder`] (HTTPS, controllers, a fixed address, a test clock), then
//! point kube-rs at it with [`FakeApiServer::client`] or kubectl at
//! [`FakeApiServer::write_kubeconfig`]. See the [module docs](super) for what it serves and
//! where it knowingly differs from a real API server.
//!
//! Inside, `rest` authenticates and routes each request and runs its verb, reading it
//! through `request`, `body` and `protobuf`; `list`, `watch`, `subresources`, `proxy` (to
//! the kubelet), `table`, `discovery`, `openapi` and `metrics_api` answer; `registry` is
//! the storage side of the writes, with `defaults`, the admission of `services` and
//! `jobs`, `apply`, `patch` and `field_validation`; `conversion` and `events` serve one
//! storage in two versions. Objects live in `store`, described by `resources`, selected by
//! `selectors`; `status` holds the API errors, `auth` the tokens and reviews, `knobs` the
//! fault injection and counters, `tls` the cluster PKI and `state` what everything shares.
//! The controllers (`controllers`, `job_controller`, `endpointslice_controller`,
//! `autoscaler`, `signer`, `metrics_scraper` with `metrics_storage`) write through
//! `registry` and record events with `event_recorder`.
mod apply;
mod auth;
mod autoscaler;
mod body;
mod controllers;
mod conversion;
mod defaults;
mod discovery;
mod endpointslice_controller;
mod error;
mod event_recorder;
mod events;
mod field_validation;
mod job_controller;
mod jobs;
mod knobs;
mod list;
mod metrics_api;
mod metrics_scraper;
mod metrics_storage;
mod openapi;
mod openapi_schemas;
mod patch;
mod protobuf;
mod proxy;
mod quantity;
mod registry;
mod request;
mod resources;
mod rest;
mod routes;
mod selectors;
mod services;
mod signer;
mod state;
mod status;
mod store;
mod subresources;
mod table;
mod tls;
mod watch;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Duration;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

pub use error::FakeApiError;
pub use knobs::{AccessPolicy, AccessRequest, Counters, Knobs};
pub use tls::{KUBELET_CLIENT_CN, KUBELET_CLIENT_O, TlsError};

use auth::Auth;
use knobs::KnobState;
use metrics_storage::MetricsStorage;
use resources::ids;
use state::State;
use store::{ObjKey, Store};
use tls::Pki;
use vk_core::clock::{SharedClock, SystemClock};

// === impl FakeApiServerBuilder ===

/// Options of a [`FakeApiServer`].
#[derive(Debug)]
#[must_use]
pub struct FakeApiServerBuilder {
    listen: SocketAddr,
    tls: bool,
    controllers: bool,
    clock: Option<SharedClock>,
    event_log_capacity: usize,
    bookmark_interval: Duration,
    csr_signing_duration: Duration,
    metrics_server: Option<bool>,
    metric_resolution: Duration,
    hpa: autoscaler::Config,
}

impl Default for FakeApiServerBuilder {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            controllers: false,
            clock: None,
            // etcd keeps about five minutes of history; a thousand events is plenty for
            // tests and small enough to exercise 410 with `compact`.
            event_log_capacity: 1000,
            // The real watch cache sends a bookmark about once a minute; tests want them
            // sooner.
            bookmark_interval: Duration::from_secs(1),
            // kube-controller-manager `--cluster-signing-duration` (8760h).
            csr_signing_duration: Duration::from_secs(365 * 24 * 3600),
            // Runs with the controllers unless asked otherwise.
            metrics_server: None,
            // metrics-server `--metric-resolution` (15s).
            metric_resolution: Duration::from_secs(15),
            hpa: autoscaler::Config {
                // kube-controller-manager `--horizontal-pod-autoscaler-sync-period`.
                sync_period: Duration::from_secs(15),
                // `--horizontal-pod-autoscaler-downscale-stabilization`.
                downscale_stabilization: Duration::from_secs(300),
                // `--horizontal-pod-autoscaler-tolerance`.
                tolerance: 0.1,
                // `--horizontal-pod-autoscaler-cpu-initialization-period`.
                cpu_initialization_period: Duration::from_secs(300),
                // `--horizontal-pod-autoscaler-initial-readiness-delay`.
                initial_readiness_delay: Duration::from_secs(30),
            },
        }
    }
}

impl FakeApiServerBuilder {
    /// Listen on `addr` (default `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Serve HTTPS with a certificate from the fake cluster CA (default plain HTTP).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Run the Deployment -> ReplicaSet -> Pod controllers and the scheduler (default off).
    pub fn controllers(mut self, on: bool) -> Self {
        self.controllers = on;
        self
    }

    /// Read timestamps from `clock` (default the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Keep the last `n` events for watch resumption (default 1000); watches from older
    /// resourceVersions get `410 Expired`.
    pub fn event_log_capacity(mut self, n: usize) -> Self {
        self.event_log_capacity = n;
        self
    }

    /// Send watch bookmarks (when asked for) this often (default 1 s).
    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = every;
        self
    }

    /// Lifetime of certificates the kubelet-serving signer issues (default one year,
    /// kube-controller-manager's `--cluster-signing-duration`); a request's
    /// `expirationSeconds` can only shorten it. Short values test renewal.
    pub fn csr_signing_duration(mut self, lifetime: Duration) -> Self {
        self.csr_signing_duration = lifetime;
        self
    }

    /// Run metrics-server: scrape every node's kubelet `/metrics/resource` each
    /// [`metric_resolution`](Self::metric_resolution) and serve `metrics.k8s.io/v1beta1`
    /// (`kubectl top`, the HPA controller). Default: on when
    /// [`controllers`](Self::controllers) is on.
    pub fn metrics_server(mut self, on: bool) -> Self {
        self.metrics_server = Some(on);
        self
    }

    /// How often metrics-server scrapes the kubelets (default 15 s, metrics-server's
    /// `--metric-resolution`). CPU is a rate between two scrapes, so usage shows up after
    /// the second one.
    pub fn metric_resolution(mut self, every: Duration) -> Self {
        self.metric_resolution = every.max(Duration::from_millis(10));
        self
    }

    /// How often the HorizontalPodAutoscaler controller (one of the
    /// [`controllers`](Self::controllers)) syncs every HPA (default 15 s,
    /// `--horizontal-pod-autoscaler-sync-period`).
    pub fn hpa_sync_period(mut self, every: Duration) -> Self {
        self.hpa.sync_period = every.max(Duration::from_millis(10));
        self
    }

    /// The scale-down stabilization window of HPAs without `behavior.scaleDown`'s own
    /// (default 5 min, `--horizontal-pod-autoscaler-downscale-stabilization`).
    pub fn hpa_downscale_stabilization(mut self, window: Duration) -> Self {
        self.hpa.downscale_stabilization = window;
        self
    }

    /// How long after a pod starts its CPU samples are only counted once taken a full
    /// window after it became ready (default 5 min,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period`).
    pub fn hpa_cpu_initialization_period(mut self, period: Duration) -> Self {
        self.hpa.cpu_initialization_period = period;
        self
    }

    /// Bind and start serving.
    pub async fn start(self) -> Result<FakeApiServer, FakeApiError> {
        let clock: SharedClock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let pki = Arc::new(Pki::generate().map_err(FakeApiError::Tls)?);
        let kubelet_tls = Arc::new(pki.kubelet_client_config().map_err(FakeApiError::Tls)?);
        let acceptor = if self.tls {
            Some(TlsAcceptor::from(Arc::new(
                pki.server_config().map_err(FakeApiError::Tls)?,
            )))
        } else {
            None
        };
        let listener =
            TcpListener::bind(self.listen)
                .await
                .map_err(|source| FakeApiError::Bind {
                    addr: self.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| FakeApiError::Bind {
            addr: self.listen,
            source,
        })?;
        let store = Arc::new(Store::new(clock.clone(), self.event_log_capacity));
        let stop = CancellationToken::new();
        let metrics = self
            .metrics_server
            .unwrap_or(self.controllers)
            .then(|| Arc::new(MetricsStorage::new(self.metric_resolution)));
        let state = Arc::new(State {
            store: store.clone(),
            auth: Auth::new(),
            knobs: Arc::new(KnobState::default()),
            counters: Counters::default(),
            clock,
            kubelet_tls,
            bookmark_interval: self.bookmark_interval,
            stop: stop.clone(),
            metrics: metrics.clone(),
        });
        seed(&state);
        if self.controllers {
            controllers::spawn(state.clone());
            autoscaler::spawn(state.clone(), self.hpa);
        }
        if let Some(storage) = metrics {
            metrics_scraper::spawn(state.clone(), storage, self.metric_resolution);
        }
        signer::spawn(state.clone(), pki.clone(), self.csr_signing_duration);
        let task = tokio::spawn(serve(listener, acceptor, state.clone(), stop.clone()));
        let scheme = if self.tls { "https" } else { "http" };
        Ok(FakeApiServer {
            url: format!("{scheme}://{addr}"),
            addr,
            tls: self.tls,
            state,
            pki,
            stop,
            task: Some(task),
        })
    }
}

/// The namespaces, service accounts and `kubernetes` Service a new cluster has.
fn seed(st: &State) {
    for ns in ["default", "kube-system", "kube-node-lease", "kube-public"] {
        let _ = registry::create(
            st,
            resources::get(ids::namespaces()),
            ids::namespaces(),
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        );
    }
    let _ = registry::create(
        st,
        resources::get(ids::services()),
        ids::services(),
        "default",
        services::kubernetes_service(),
    );
}

async fn serve(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    state: Arc<State>,
    stop: CancellationToken,
) {
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(_) => continue,
            },
            () = stop.cancelled() => break,
        };
        let state = state.clone();
        let acceptor = acceptor.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let st = state.clone();
                async move { Ok::<_, Infallible>(rest::handle(st, req).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            match acceptor {
                Some(acc) => {
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acc.accept(tcp)).await
                    else {
                        return;
                    };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc);
                    tokio::select! {
                        _ = conn => {}
                        () = stop.cancelled() => {}
                    }
                }
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), svc);
                    tokio::select! {
                        _ = conn => {}
                        () = stop.cancelled() => {}
                    }
                }
            }
        });
    }
}

// === impl FakeApiServer ===

/// A running fake API server. Dropping it stops it.
pub struct FakeApiServer {
    url: String,
    addr: SocketAddr,
    tls: bool,
    state: Arc<State>,
    pki: Arc<Pki>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl FakeApiServer {
    /// Options for a server.
    pub fn builder() -> FakeApiServerBuilder {
        FakeApiServerBuilder::default()
    }

    /// Start a plain-HTTP server on `127.0.0.1:0` with the default options.
    ///
    /// # Panics
    /// If no loopback port can be bound or the certificates cannot be generated (a test
    /// environment problem); use [`FakeApiServer::builder`] to handle those as errors.
    pub async fn start() -> Self {
        Self::builder()
            .start()
            .await
            .expect("the fake API server starts on a loopback port")
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin bearer token (user `kubernetes-admin`, group `system:masters`).
    #[must_use]
    pub fn admin_token(&self) -> &str {
        self.state.auth.admin_token()
    }

    /// PEM of the fake cluster CA: it signs the HTTPS serving certificate and the client
    /// certificate the proxy presents to kubelets (CN `kube-apiserver-kubelet-client`,
    /// O `system:masters`). A kubelet under test trusts this CA for client certificates.
    #[must_use]
    pub fn kubelet_client_ca_pem(&self) -> String {
        self.pki.ca.cert_pem.clone()
    }

    /// PEM of the CA that signs the API server's serving certificate (the same CA).
    #[must_use]
    pub fn ca_pem(&self) -> String {
        self.pki.ca.cert_pem.clone()
    }

    /// The proxy's kubelet client certificate and key (PEM), for tests that call a
    /// kubelet directly as the API server would.
    #[must_use]
    pub fn kubelet_client_identity_pem(&self) -> (String, String) {
        (
            self.pki.kubelet_client.cert_pem.clone(),
            self.pki.kubelet_client.key_pem.clone(),
        )
    }

    /// Mint a token for service account `ns/name` (which need not exist), valid for an
    /// hour for `audiences` (empty: the API server itself). TokenReview recognises it as
    /// `system:serviceaccount:<ns>:<name>`.
    #[must_use]
    pub fn service_account_token(&self, ns: &str, name: &str, audiences: &[&str]) -> String {
        let uid = self
            .state
            .store
            .get(&ObjKey::new(ids::service_accounts(), ns, name))
            .and_then(|sa| sa["metadata"]["uid"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.state
            .auth
            .mint(
                ns,
                name,
                &uid,
                audiences.iter().map(|a| (*a).to_owned()).collect(),
                self.state.clock.now().as_second(),
                3600,
            )
            .0
    }

    /// Fault injection.
    #[must_use]
    pub fn knobs(&self) -> Knobs {
        Knobs {
            state: self.state.knobs.clone(),
            store: self.state.store.clone(),
        }
    }

    /// Requests served by verb and resource.
    #[must_use]
    pub fn counters(&self) -> Counters {
        self.state.counters.clone()
    }

    /// The current global resourceVersion.
    #[must_use]
    pub fn resource_version(&self) -> u64 {
        self.state.store.current_rv()
    }

    /// A kubeconfig for the admin user (context `fake`, namespace `default`).
    #[must_use]
    pub fn kubeconfig_value(&self) -> Value {
        let mut cluster = json!({"server": self.url});
        if self.tls {
            use base64::Engine as _;
            cluster["certificate-authority-data"] = json!(
                base64::engine::general_purpose::STANDARD.encode(self.pki.ca.cert_pem.as_bytes())
            );
        }
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "fake-admin", "user": {"token": self.admin_token()}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake-admin", "namespace": "default"}}],
            "current-context": "fake",
            "preferences": {},
        })
    }

    /// The admin kubeconfig as kube-rs reads it.
    ///
    /// # Panics
    /// Never in practice: the document is built here in kube-rs's own format.
    #[must_use]
    pub fn kubeconfig(&self) -> kube::config::Kubeconfig {
        serde_json::from_value(self.kubeconfig_value())
            .expect("invariant: the kubeconfig is built in kube's format")
    }

    /// Write the admin kubeconfig (YAML) to `path`, for `kubectl --kubeconfig`.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<(), FakeApiError> {
        let yaml = serde_yaml::to_string(&self.kubeconfig_value())
            .map_err(|e| FakeApiError::Kubeconfig(std::io::Error::other(e)))?;
        std::fs::write(path, yaml).map_err(FakeApiError::Kubeconfig)
    }

    /// A kube-rs config for the admin user.
    pub fn config(&self) -> Result<kube::Config, FakeApiError> {
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e| FakeApiError::Client(Box::new(e)))?;
        let mut config = kube::Config::new(uri);
        config.default_namespace = "default".into();
        config.auth_info = serde_json::from_value(json!({"token": self.admin_token()}))
            .map_err(|e| FakeApiError::Client(Box::new(e)))?;
        if self.tls {
            config.root_cert = Some(vec![self.pki.ca.cert_der.to_vec()]);
        }
        Ok(config)
    }

    /// A kube-rs client for the admin user.
    ///
    /// # Panics
    /// If kube-rs cannot build a client for the fake's own config (a bug).
    #[must_use]
    pub fn client(&self) -> kube::Client {
        self.try_client()
            .expect("invariant: kube builds a client for the fake's config")
    }

    /// A kube-rs client for the admin user, errors returned.
    pub fn try_client(&self) -> Result<kube::Client, FakeApiError> {
        let config = self.config()?;
        kube::Client::try_from(config).map_err(|e| FakeApiError::Client(Box::new(e)))
    }

    /// A kube-rs client authenticating with `token` (e.g. a service-account token).
    pub fn client_with_token(&self, token: &str) -> Result<kube::Client, FakeApiError> {
        let mut config = self.config()?;
        config.auth_info = serde_json::from_value(json!({"token": token}))
            .map_err(|e| FakeApiError::Client(Box::new(e)))?;
        kube::Client::try_from(config).map_err(|e| FakeApiError::Client(Box::new(e)))
    }

    /// Stop serving: the listener closes, open connections and watches end.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Entry points for the cargo-fuzz targets in `fuzz/`.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::fake_api::protobuf::fuzzing::protobuf_body;
}
