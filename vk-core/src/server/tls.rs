//! TLS for the kubelet API: the serving certificate (from files, generated at start, or
//! requested from the cluster), the client CA, and the accept loop that runs the router on
//! each verified connection.
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{self, Duration};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use super::auth::{ClientCertUser, user_of_certificate};
use super::certificate_manager::{CertificateManager, ServingCertificate};
use super::certificate_request::ServingCsr;
use super::sessions::ClientAddr;

/// Why the TLS setup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A PEM file holds no usable certificate or key.
    #[error("no {what} found in the pem data")]
    Empty {
        /// What was expected.
        what: &'static str,
    },
    /// Generating the self-signed serving certificate failed.
    #[error("generating the serving certificate")]
    Generate(#[source] rcgen::Error),
    /// rustls refused the configuration.
    #[error("tls configuration")]
    Rustls(#[source] rustls::Error),
    /// The client CA could not be used to verify clients.
    #[error("client ca")]
    ClientCa(#[source] rustls::server::VerifierBuilderError),
}

/// Where the serving certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServingCert {
    /// PEM files (`--tls-cert-file`, `--tls-private-key-file`).
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// A self-signed certificate generated at start, like the kubelet does without
    /// certificate files, for the node's name and addresses.
    SelfSigned {
        /// DNS names (the node name).
        names: Vec<String>,
        /// IP addresses (the node's InternalIP).
        ips: Vec<IpAddr>,
    },
    /// Requested from the cluster with a `kubernetes.io/kubelet-serving`
    /// CertificateSigningRequest and renewed before it expires, like the kubelet's
    /// `serverTLSBootstrap` (`--rotate-server-certificates`). Someone has to approve each
    /// request (`kubectl certificate approve`); until the first is issued, handshakes fail.
    /// Run [`TlsConfig::certificate_manager`] next to the server.
    CertificateSigningRequest(ServingCsr),
}

/// How the server does TLS and which clients it trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// The serving certificate.
    pub serving: ServingCert,
    /// PEM bundle of CAs that sign client certificates (`--client-ca-file`); clients
    /// without a certificate may still authenticate with a bearer token.
    pub client_ca_pem: Option<Vec<u8>>,
    /// Most time a client has for the TLS handshake and the request headers.
    pub handshake_timeout: Duration,
    /// Most connections open at once (see [`ConnectionLimits::max_connections`]).
    pub max_connections: usize,
    /// Most TLS handshakes in progress at once (see
    /// [`ConnectionLimits::max_pending_handshakes`]).
    pub max_pending_handshakes: usize,
}

/// Bounds on the connections [`serve`] holds, so that a flood of clients (or
/// of sockets that never finish their handshake) cannot exhaust memory or file
/// descriptors. At a bound the server stops accepting: further clients wait in the
/// kernel's listen backlog until a connection closes or a handshake ends, and are served
/// then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most time a client has for the TLS handshake and the request headers.
    pub handshake_timeout: Duration,
    /// Most connections open at once, upgraded streams (exec, attach, port-forward, a
    /// followed log) included.
    pub max_connections: usize,
    /// Most connections accepted whose TLS handshake has not finished.
    pub max_pending_handshakes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            // The kubelet (Go net/http) has no such bound. The API server opens one
            // connection per `kubectl logs -f`, exec, attach or port-forward session and
            // per scrape: 4096 leaves room for following every container of a large
            // virtual node, while bounding the memory and descriptors a flood can take.
            max_connections: 4096,
            // A handshake takes milliseconds; 128 is the listen backlog Linux used by
            // default (`net.core.somaxconn`) before 5.4. Sockets that stall their
            // handshake hold a slot for at most `handshake_timeout`.
            max_pending_handshakes: 128,
        }
    }
}

impl TlsConfig {
    /// A configuration with a generated certificate for `names` and `ips` and no client CA.
    #[must_use]
    pub fn self_signed(names: Vec<String>, ips: Vec<IpAddr>) -> Self {
        let limits = ConnectionLimits::default();
        Self {
            serving: ServingCert::SelfSigned { names, ips },
            client_ca_pem: None,
            handshake_timeout: limits.handshake_timeout,
            max_connections: limits.max_connections,
            max_pending_handshakes: limits.max_pending_handshakes,
        }
    }

    /// The bounds [`serve`] applies for this configuration.
    #[must_use]
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            handshake_timeout: self.handshake_timeout,
            max_connections: self.max_connections,
            max_pending_handshakes: self.max_pending_handshakes,
        }
    }

    /// Trust client certificates signed by this PEM bundle.
    #[must_use]
    pub fn client_ca(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca_pem = Some(pem.into());
        self
    }

    /// The rustls server configuration (aws-lc-rs, HTTP/1.1 for upgrades) with a
    /// certificate of its own. For [`ServingCert::CertificateSigningRequest`] use
    /// [`TlsConfig::server_config_with`] instead, so a manager can install certificates.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        self.server_config_with(&ServingCertificate::empty())
    }

    /// The rustls server configuration presenting whatever `serving` holds. Certificates
    /// from files or generated at start are put into `serving` now; with
    /// [`ServingCert::CertificateSigningRequest`] it stays as it is until the
    /// [`TlsConfig::certificate_manager`] installs the issued certificate.
    pub fn server_config_with(
        &self,
        serving: &ServingCertificate,
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        if let Some((chain, key)) = self.serving_cert()? {
            let key = rustls::sign::CertifiedKey::from_der(chain, key, &provider)
                .map_err(TlsError::Rustls)?;
            serving.set(Arc::new(key));
        }
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?;
        let builder = match &self.client_ca_pem {
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for cert in certs(pem)? {
                    roots.add(cert).map_err(TlsError::Rustls)?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .allow_unauthenticated()
                        .build()
                        .map_err(TlsError::ClientCa)?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::new(serving.clone()));
        // SPDY and WebSocket upgrades need HTTP/1.1.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The manager that requests and renews the certificate served through `serving`,
    /// when the certificate comes from a CertificateSigningRequest; `None` otherwise.
    /// Spawn its [`CertificateManager::run`] when the server starts.
    pub fn certificate_manager(
        &self,
        client: kube::Client,
        serving: &ServingCertificate,
    ) -> Option<CertificateManager> {
        match &self.serving {
            ServingCert::CertificateSigningRequest(csr) => Some(CertificateManager::new(
                client,
                csr.clone(),
                serving.clone(),
            )),
            _ => None,
        }
    }

    /// The chain and key of a certificate known at start (`None`: requested later).
    #[allow(clippy::type_complexity)] // a chain and its key
    fn serving_cert(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, TlsError> {
        match &self.serving {
            ServingCert::CertificateSigningRequest(_) => Ok(None),
            ServingCert::Files { cert, key } => {
                let read = |path: &PathBuf| {
                    std::fs::read(path).map_err(|source| TlsError::Read {
                        path: path.clone(),
                        source,
                    })
                };
                let chain = certs(&read(cert)?)?;
                let key = rustls_pemfile::private_key(&mut &read(key)?[..])
                    .ok()
                    .flatten()
                    .ok_or(TlsError::Empty {
                        what: "private key",
                    })?;
                Ok(Some((chain, key)))
            }
            ServingCert::SelfSigned { names, ips } => {
                let mut sans: Vec<String> = names.clone();
                sans.extend(ips.iter().map(ToString::to_string));
                if sans.is_empty() {
                    sans.push("localhost".to_owned());
                }
                let generated =
                    rcgen::generate_simple_self_signed(sans).map_err(TlsError::Generate)?;
                let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der()).map_err(
                    |_| TlsError::Empty {
                        what: "private key",
                    },
                )?;
                Ok(Some((vec![generated.cert.der().clone()], key)))
            }
        }
    }
}

fn certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &pem[..])
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::Empty {
            what: "certificate",
        });
    }
    Ok(certs)
}

/// Serve `app` on `listener` with TLS until `shutdown` completes, within `limits` (from
/// [`TlsConfig::connection_limits`], or [`ConnectionLimits::default`]). Each connection's
/// verified client certificate becomes a [`ClientCertUser`] on its requests.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    limits: ConnectionLimits,
    app: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let handshake_timeout = limits.handshake_timeout;
    let acceptor = TlsAcceptor::from(tls);
    let slots = |n: usize| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS)));
    let connections = slots(limits.max_connections);
    let handshakes = slots(limits.max_pending_handshakes);
    tokio::pin!(shutdown);
    loop {
        if connections.available_permits() == 0 || handshakes.available_permits() == 0 {
            tracing::debug!(
                max_connections = limits.max_connections,
                max_pending_handshakes = limits.max_pending_handshakes,
                "kubelet api connection limits reached: not accepting until a slot frees"
            );
        }
        // Both slots are taken before accepting, so at a bound clients wait in the
        // listen backlog instead of holding memory here.
        let slots = async {
            let connection = Arc::clone(&connections).acquire_owned().await.ok()?;
            let handshake = Arc::clone(&handshakes).acquire_owned().await.ok()?;
            Some((connection, handshake))
        };
        let (connection, handshake) = tokio::select! {
            () = &mut shutdown => return,
            // The semaphores are never closed.
            slots = slots => match slots {
                Some(slots) => slots,
                None => return,
            },
        };
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Interactive streams send small frames: do not let Nagle hold them back.
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let accepted = time::timeout(handshake_timeout, acceptor.accept(tcp)).await;
            drop(handshake);
            let tls = match accepted {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "tls handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| user_of_certificate(c));
            let service = app.map_request(move |req: http::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                if let Some(user) = &user {
                    req.extensions_mut().insert(ClientCertUser(user.clone()));
                }
                req.extensions_mut().insert(ClientAddr(peer));
                req
            });
            let result = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(handshake_timeout)
                .serve_connection(
                    TokioIo::new(Counted {
                        io: tls,
                        _slot: connection,
                    }),
                    TowerToHyperService::new(service),
                )
                .with_upgrades()
                .await;
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "kubelet api connection ended");
            }
        });
    }
}

// === impl Counted ===

/// A connection holding its slot of [`ConnectionLimits::max_connections`]: the slot goes
/// with the connection into an upgraded stream and is freed when the stream is dropped.
struct Counted<T> {
    io: T,
    _slot: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
