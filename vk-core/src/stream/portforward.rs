//! The port-forward protocol (`portforward.k8s.io`) over SPDY.
//!
//! For each forwarded connection the client opens two streams with the same `requestID`
//! header: `streamType: error` and `streamType: data`, both with a `port` header. Once
//! both exist the connection is handed to the provider; a failure is written as text on
//! the error stream, which kubectl prints.
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::Result;
use super::remotecommand::StreamingConfig;
use super::spdy::{Session, StreamReader, StreamWriter};
use crate::provider::{DuplexIo, ProviderError};

/// The protocol name negotiated with `X-Stream-Protocol-Version`.
pub const PROTOCOL: &str = "portforward.k8s.io";

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
        let _ = error.write_all(e.to_string().as_bytes()).await;
    }
    let _ = error.shutdown().await;
}
