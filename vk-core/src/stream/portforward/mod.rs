//! The port-forward protocols: `portforward.k8s.io` over SPDY, the same tunnelled in
//! WebSocket binary messages, and the WebSocket channel protocol.
//!
//! Over SPDY ([`serve_spdy`]), for each forwarded connection the client opens two streams
//! with the same `requestID` header: `streamType: error` and `streamType: data`, both with
//! a `port` header. Once both exist the connection is handed to the provider; a failure is
//! written as text on the error stream, which kubectl prints.
//!
//! kubectl 1.31+ first tries a WebSocket with subprotocol `SPDY/3.1+portforward.k8s.io`
//! and speaks the SPDY protocol inside its binary messages ([`tunnel`]). Other WebSocket
//! clients use the kubelet's channel protocol, one data and one error channel per port of
//! the `port=` query ([`websocket`]).
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::Result;
use super::remotecommand::StreamingConfig;
use super::spdy::{Session, StreamReader, StreamWriter};
use crate::provider::{DuplexIo, ProviderError};

pub mod tunnel;
pub mod websocket;

/// The protocol name negotiated with `X-Stream-Protocol-Version`.
pub const PROTOCOL: &str = "portforward.k8s.io";

/// Most ports one WebSocket channel session forwards (each takes two channels; the
/// base64 protocol's channel digit stays ASCII well past this).
pub const MAX_PORTS: usize = 32;

/// A port-forward subprotocol over WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebSocketProtocol {
    /// `SPDY/3.1+portforward.k8s.io`: the SPDY protocol inside binary messages (kubectl
    /// 1.31+, the `PortForwardWebsockets` feature).
    SpdyTunnel,
    /// `v4.channel.k8s.io` (or no subprotocol): binary channel messages.
    V4,
    /// `v4.base64.channel.k8s.io`: text channel messages with base64 payloads.
    V4Base64,
}

impl WebSocketProtocol {
    /// Every protocol, most preferred first.
    pub const ALL: [Self; 3] = [Self::SpdyTunnel, Self::V4, Self::V4Base64];

    /// The subprotocol name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::SpdyTunnel => "SPDY/3.1+portforward.k8s.io",
            Self::V4 => "v4.channel.k8s.io",
            Self::V4Base64 => "v4.base64.channel.k8s.io",
        }
    }

    /// The client's first offered subprotocol that the server speaks (the client's order
    /// wins). Header values may be comma-separated lists.
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        offered
            .into_iter()
            .flat_map(|v| v.split(','))
            .find_map(|name| Self::ALL.into_iter().find(|p| p.name() == name.trim()))
    }
}

/// The ports of a WebSocket channel request: `port=` repeated or comma-separated, each
/// 1 to 65535, at least one and at most [`MAX_PORTS`]. The error says what is wrong.
pub fn ports_from_query(query: &str) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != "port" {
            continue;
        }
        if v.is_empty() {
            return Err("query parameter \"port\" cannot be empty".into());
        }
        for p in v.split(',') {
            let port = p
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("unable to parse {p:?} as a port"))?;
            if ports.len() == MAX_PORTS {
                return Err(format!("at most {MAX_PORTS} ports per request"));
            }
            ports.push(port);
        }
    }
    if ports.is_empty() {
        return Err("query parameter \"port\" is required".into());
    }
    Ok(ports)
}

/// Forwards one connection to a port of the pod.
pub type Forwarder = Arc<
    dyn Fn(
            u16,
            Box<dyn DuplexIo>,
        ) -> Pin<Box<dyn Future<Output = Result<(), ProviderError>> + Send>>
        + Send
        + Sync,
>;

#[derive(Default)]
struct Pending {
    port: Option<u16>,
    error: Option<StreamWriter>,
    data: Option<(StreamReader, StreamWriter)>,
}

/// Serve port-forward streams on an upgraded SPDY connection until the client closes it.
pub async fn serve_spdy<IO>(io: IO, config: StreamingConfig, forward: Forwarder) -> Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let max_pending = config.session.max_streams;
    let mut session = Session::start(io, config.session);
    let mut pending: HashMap<String, Pending> = HashMap::new();
    while let Some(stream) = session.accept().await {
        let request = stream
            .headers
            .get("requestid")
            .unwrap_or_default()
            .to_owned();
        let port = stream
            .headers
            .get("port")
            .and_then(|p| p.parse::<u16>().ok());
        if pending.len() >= max_pending && !pending.contains_key(&request) {
            continue;
        }
        let entry = pending.entry(request.clone()).or_default();
        entry.port = entry.port.or(port);
        match stream.headers.get("streamtype") {
            Some("error") => entry.error = Some(stream.writer),
            Some("data") => entry.data = Some((stream.reader, stream.writer)),
            _ => continue,
        }
        if entry.error.is_some() && entry.data.is_some() {
            let Some(Pending {
                port,
                error: Some(error),
                data: Some(data),
            }) = pending.remove(&request)
            else {
                continue;
            };
            tokio::spawn(forward_one(port, error, data, forward.clone()));
        }
    }
    Ok(())
}

async fn forward_one(
    port: Option<u16>,
    mut error: StreamWriter,
    (reader, writer): (StreamReader, StreamWriter),
    forward: Forwarder,
) {
    let result = match port {
        Some(port) => {
            let (ours, theirs) = tokio::io::duplex(64 * 1024);
            let mut stream = tokio::io::join(reader, writer);
            let mut ours = ours;
            // The pump ends on its own: the provider's end closing sends FIN, the client
            // closing its data stream ends the other direction.
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut ours, &mut stream).await;
                let _ = stream.shutdown().await;
            });
            forward(port, Box::new(theirs)).await
        }
        None => Err(ProviderError::InvalidInput(
            "missing or invalid port".into(),
        )),
    };
    if let Err(e) = result {
        let _ = error.write_all(failure_text(&e).as_bytes()).await;
    }
    let _ = error.shutdown().await;
}

/// What the error stream or channel carries when forwarding failed.
fn failure_text(e: &ProviderError) -> String {
    e.to_string()
}
