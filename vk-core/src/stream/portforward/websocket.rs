//! The kubelet's port-forward WebSocket channel protocol (`v4.channel.k8s.io`,
//! `v4.base64.channel.k8s.io`, or no subprotocol for binary).
//!
//! Port `i` of the request's `port=` list gets channel `2i` for data (both ways) and
//! channel `2i + 1` for errors (server to client). The first message the server sends on
//! each channel is the port, two bytes little-endian. A provider failure is written as
//! text on the port's error channel. The session ends when every port's forward has
//! ended, or when the client closes the WebSocket or sends nothing for the idle timeout.
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::task::JoinSet;
use tokio::time::{self, Duration};

use super::super::remotecommand::StreamingConfig;
use super::super::websocket::{
    encode, finish, next_channel_message, normal_close, pump_out, server, spawn_writer,
};
use super::{Forwarder, MAX_PORTS, failure_text};
use crate::stream::{Error, Result};

/// How long the provider's last bytes may take to reach the writer once its forward ended.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Serve a port-forward over a connection upgraded to WebSocket, to the end. `base64`
/// selects text messages with base64 payloads; `ports` come from the request's query.
pub async fn serve_websocket<IO>(
    io: IO,
    base64: bool,
    ports: Vec<u16>,
    config: StreamingConfig,
    forward: Forwarder,
) -> Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    if ports.is_empty() || ports.len() > MAX_PORTS {
        return Err(Error::Protocol(format!(
            "port-forward needs 1 to {MAX_PORTS} ports, got {}",
            ports.len()
        )));
    }
    let ws = server(io, &config).await;
    let (sink, mut source) = ws.split();
    let (out_tx, writer) = spawn_writer(sink);
    let closed = || Error::Protocol("websocket closed".into());

    // (data channel, error channel, port): 0 and 1 for the first port, 2 and 3, ...
    let channels: Vec<(u8, u8, u16)> = (0..=u8::MAX)
        .step_by(2)
        .zip(&ports)
        .map(|(data, &port)| (data, data + 1, port))
        .collect();
    // The port first on every channel, as the kubelet does: clients match channels to
    // ports with it.
    for &(data, error, port) in &channels {
        for channel in [data, error] {
            out_tx
                .send(encode(base64, channel, &port.to_le_bytes()))
                .await
                .map_err(|_| closed())?;
        }
    }

    let mut inputs: Vec<Option<WriteHalf<tokio::io::DuplexStream>>> = Vec::new();
    let mut pumps = Vec::new();
    let mut forwards = JoinSet::new();
    for &(data, error, port) in &channels {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let (from_provider, to_provider) = tokio::io::split(ours);
        inputs.push(Some(to_provider));
        pumps.push(tokio::spawn(pump_out(
            from_provider,
            data,
            base64,
            out_tx.clone(),
        )));
        let out = out_tx.clone();
        let forward = forward.clone();
        forwards.spawn(async move {
            if let Err(e) = forward(port, Box::new(theirs)).await {
                let text = failure_text(&e);
                let _ = out.send(encode(base64, error, text.as_bytes())).await;
            }
        });
    }

    let idle = config.session.idle_timeout;
    let (client_gone_tx, mut client_gone) = tokio::sync::watch::channel(false);
    let reader = tokio::spawn(async move {
        while let Some((channel, data)) = next_channel_message(&mut source, idle, base64).await {
            // Only data channels carry client bytes; anything else is ignored.
            if channel % 2 != 0 {
                continue;
            }
            if let Some(slot) = inputs.get_mut(usize::from(channel / 2))
                && let Some(to_provider) = slot.as_mut()
                && to_provider.write_all(&data).await.is_err()
            {
                *slot = None;
            }
        }
        // Every forward sees EOF.
        for to_provider in inputs.iter_mut().flatten() {
            let _ = to_provider.shutdown().await;
        }
        let _ = client_gone_tx.send(true);
        source
    });

    // Every forward ends, or the client goes away first and they get a grace period.
    let gone = {
        let every_forward = async { while forwards.join_next().await.is_some() {} };
        tokio::pin!(every_forward);
        let gone = tokio::select! {
            () = &mut every_forward => false,
            _ = client_gone.wait_for(|gone| *gone) => true,
        };
        if gone {
            let _ = time::timeout(config.close_grace, &mut every_forward).await;
        }
        gone
    };
    forwards.abort_all();
    for p in pumps {
        let _ = time::timeout(FLUSH_TIMEOUT, p).await;
    }
    let sent = out_tx.send(normal_close()).await.is_ok();
    drop(out_tx);
    finish(writer, reader, config.close_grace).await;
    if sent || gone { Ok(()) } else { Err(closed()) }
}
