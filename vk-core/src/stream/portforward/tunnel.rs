//! SPDY/3.1 port-forward inside a WebSocket (`SPDY/3.1+portforward.k8s.io`), kubectl
//! 1.31+'s first choice.
//!
//! The client sends the SPDY session as binary messages and expects it back the same way
//! (no channel byte). The messages in each direction form a byte stream on which
//! [`super::serve_spdy`] runs unchanged. Message sizes are capped like exec's WebSocket,
//! and a client that sends nothing for the idle timeout is disconnected.
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time;
use tokio_tungstenite::tungstenite::Message;

use super::super::remotecommand::StreamingConfig;
use super::super::websocket::{finish, normal_close, server, spawn_writer};
use super::{Forwarder, serve_spdy};
use crate::stream::Result;

/// Serve port-forward over SPDY tunnelled in a connection upgraded to WebSocket, until the
/// client closes it.
pub async fn serve_tunnel<IO>(io: IO, config: StreamingConfig, forward: Forwarder) -> Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let ws = server(io, &config).await;
    let (sink, mut source) = ws.split();
    let (out_tx, writer) = spawn_writer(sink);
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (mut from_spdy, mut to_spdy) = tokio::io::split(ours);

    let idle = config.session.idle_timeout;
    let inbound = tokio::spawn(async move {
        loop {
            let Ok(Some(Ok(message))) = time::timeout(idle, source.next()).await else {
                break;
            };
            let data = match message {
                Message::Binary(data) => data,
                // The next read sends the WebSocket layer's reply, then ends.
                Message::Close(_) => continue,
                // Pings are answered by the WebSocket layer; client-go sends no text.
                _ => continue,
            };
            if to_spdy.write_all(&data).await.is_err() {
                break;
            }
        }
        // The SPDY session sees EOF and ends.
        let _ = to_spdy.shutdown().await;
        source
    });
    let chunk = config.session.max_data_chunk.max(1024);
    let outbound = tokio::spawn(async move {
        let mut buf = vec![0u8; chunk];
        loop {
            match from_spdy.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out_tx
                        .send(Message::binary(buf[..n].to_vec()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let _ = out_tx.send(normal_close()).await;
    });

    let grace = config.close_grace;
    let result = serve_spdy(theirs, config, forward).await;
    // The session is gone: its bytes are flushed, then the WebSocket closes.
    let _ = time::timeout(grace, outbound).await;
    finish(writer, inbound, grace).await;
    result
}
