//! The remotecommand WebSocket channel protocols: `channel.k8s.io`,
//! `base64.channel.k8s.io`, `v4.channel.k8s.io` and `v5.channel.k8s.io`.
//!
//! Every message starts with a channel number: 0 stdin, 1 stdout, 2 stderr, 3 error,
//! 4 resize (binary messages; with `base64.channel.k8s.io`, text messages whose first
//! character is the channel digit and whose rest is base64). v5 adds channel 255: the
//! client sends `[255, 0]` to close stdin. The error channel carries the outcome as in
//! [`super::remotecommand`].
use base64::Engine;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{self, Duration};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use super::remotecommand::{Protocol, Runner, StreamOptions, StreamingConfig, outcome_message};
use super::{Error, Result};
use crate::provider::{ExecIo, ProviderError, TerminalSize};

/// The header carrying the offered and chosen subprotocols.
pub const PROTOCOL_HEADER: &str = "Sec-WebSocket-Protocol";

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// A WebSocket channel protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsProtocol {
    /// `channel.k8s.io`: binary messages, text errors.
    Channel,
    /// `base64.channel.k8s.io`: text messages with base64 payloads, text errors.
    Base64Channel,
    /// `v4.channel.k8s.io`: binary messages, `Status` errors.
    V4,
    /// `v5.channel.k8s.io`: v4 plus the close signal.
    V5,
}

impl WsProtocol {
    /// Every protocol, most preferred first.
    pub const ALL: [Self; 4] = [Self::V5, Self::V4, Self::Base64Channel, Self::Channel];

    /// The subprotocol name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Channel => "channel.k8s.io",
            Self::Base64Channel => "base64.channel.k8s.io",
            Self::V4 => "v4.channel.k8s.io",
            Self::V5 => "v5.channel.k8s.io",
        }
    }

    /// The client's first offered subprotocol that the server speaks. Header values are
    /// comma-separated lists.
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        offered
            .into_iter()
            .flat_map(|v| v.split(','))
            .find_map(|name| Self::ALL.into_iter().find(|p| p.name() == name.trim()))
    }

    fn remotecommand(self) -> Protocol {
        match self {
            Self::Channel | Self::Base64Channel => Protocol::V1,
            Self::V4 => Protocol::V4,
            Self::V5 => Protocol::V5,
        }
    }

    fn base64(self) -> bool {
        self == Self::Base64Channel
    }
}

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
#[must_use]
pub fn accept_key(key: &[u8]) -> String {
    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key)
}

/// A channel message: the channel number then the data, or with `base64` a text message
/// whose first character is the channel digit and whose rest is the data in base64.
pub(super) fn encode(base64: bool, channel: u8, data: &[u8]) -> Message {
    if base64 {
        let mut text = String::with_capacity(1 + data.len().div_ceil(3) * 4);
        text.push(char::from(b'0' + channel));
        base64::engine::general_purpose::STANDARD.encode_string(data, &mut text);
        Message::text(text)
    } else {
        let mut bytes = Vec::with_capacity(1 + data.len());
        bytes.push(channel);
        bytes.extend_from_slice(data);
        Message::binary(bytes)
    }
}

/// The channel and data of a message [`encode`] made; `None` for anything else.
pub(super) fn decode(base64: bool, message: Message) -> Option<(u8, Bytes)> {
    match message {
        Message::Binary(b) if !base64 && !b.is_empty() => Some((b[0], b.slice(1..))),
        Message::Text(t) if base64 && !t.is_empty() => {
            let t = t.as_str();
            let channel = t.as_bytes()[0].checked_sub(b'0')?;
            let data = base64::engine::general_purpose::STANDARD
                .decode(t.get(1..)?)
                .ok()?;
            Some((channel, data.into()))
        }
        _ => None,
    }
}

/// The next channel and data the client sends, skipping Close messages (the following
/// read sends the WebSocket layer's reply) and anything [`decode`] does not accept; `None`
/// once the client is gone, fails, or sends nothing for `idle`.
pub(super) async fn next_channel_message<IO>(
    source: &mut Source<IO>,
    idle: Duration,
    base64: bool,
) -> Option<(u8, Bytes)>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let Ok(Some(Ok(message))) = time::timeout(idle, source.next()).await else {
            return None;
        };
        if matches!(message, Message::Close(_)) {
            continue;
        }
        if let Some(decoded) = decode(base64, message) {
            return Some(decoded);
        }
    }
}

/// Serve one exec or attach over a connection upgraded to WebSocket, to the end.
pub async fn serve_websocket<IO>(
    io: IO,
    protocol: WsProtocol,
    options: StreamOptions,
    config: StreamingConfig,
    run: Runner,
) -> Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let base64 = protocol.base64();
    let ws = server(io, &config).await;
    let (sink, mut source) = ws.split();
    let (out_tx, writer) = spawn_writer(sink);

    let mut pumps = Vec::new();
    let mut output = |enabled: bool, channel: u8| {
        enabled.then(|| {
            let (ours, theirs) = tokio::io::duplex(64 * 1024);
            pumps.push(tokio::spawn(pump_out(
                ours,
                channel,
                base64,
                out_tx.clone(),
            )));
            Box::pin(theirs) as crate::provider::BoxWrite
        })
    };
    let stdout = output(options.stdout, STDOUT);
    let stderr = output(options.stderr, STDERR);
    let (stdin_ours, stdin_theirs) = if options.stdin {
        let (a, b) = tokio::io::duplex(64 * 1024);
        (Some(a), Some(b))
    } else {
        (None, None)
    };
    let (resize_tx, resize_rx) = if options.tty {
        let (tx, rx) = mpsc::channel(4);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let io = ExecIo {
        stdin: stdin_theirs.map(|r| Box::pin(r) as crate::provider::BoxRead),
        stdout,
        stderr,
        tty: options.tty,
        resize: resize_rx,
    };

    let idle = config.session.idle_timeout;
    let reader = tokio::spawn(async move {
        let mut stdin = stdin_ours;
        while let Some((channel, data)) = next_channel_message(&mut source, idle, base64).await {
            match channel {
                STDIN => {
                    if let Some(w) = stdin.as_mut()
                        && w.write_all(&data).await.is_err()
                    {
                        stdin = None;
                    }
                }
                RESIZE => {
                    if let (Some(tx), Ok(size)) =
                        (&resize_tx, serde_json::from_slice::<TerminalSize>(&data))
                    {
                        let _ = tx.try_send(size);
                    }
                }
                CLOSE if data.first() == Some(&STDIN) => stdin = None,
                _ => {}
            }
        }
        source
    });

    let result = std::panic::AssertUnwindSafe(run(io));
    let result = futures::FutureExt::catch_unwind(result)
        .await
        .unwrap_or_else(|_| Err(ProviderError::Other("exec panicked".into())));
    for p in pumps {
        let _ = time::timeout(Duration::from_secs(5), p).await;
    }
    let message = outcome_message(protocol.remotecommand(), &result);
    let sent = async {
        if !message.is_empty() {
            out_tx.send(encode(base64, ERROR, &message)).await?;
        }
        out_tx.send(normal_close()).await
    };
    let sent = sent.await.is_ok();
    drop(out_tx);
    finish(writer, reader, config.close_grace).await;
    if sent {
        Ok(())
    } else {
        Err(Error::Protocol(
            "websocket closed before the outcome was sent".into(),
        ))
    }
}

/// The server side of a connection upgraded to WebSocket, with message and frame sizes
/// capped at the session's frame limit.
pub(super) async fn server<IO>(io: IO, config: &StreamingConfig) -> WebSocketStream<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let max = config.session.max_frame_payload;
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config)).await
}

/// The sending half of a WebSocket.
pub(super) type Sink<IO> = futures::stream::SplitSink<WebSocketStream<IO>, Message>;

/// The receiving half of a WebSocket.
pub(super) type Source<IO> = futures::stream::SplitStream<WebSocketStream<IO>>;

/// Everything sent goes through one bounded queue to a writer task, which ends after
/// sending a close message or when every sender is gone, and gives the sink back.
pub(super) fn spawn_writer<IO>(mut sink: Sink<IO>) -> (mpsc::Sender<Message>, JoinHandle<Sink<IO>>)
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(32);
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            let close = matches!(m, Message::Close(_));
            let sent = sink.send(m).await;
            if close {
                // Also flushes the reply to a close the client sent first.
                let _ = sink.close().await;
            }
            if sent.is_err() || close {
                break;
            }
        }
        sink
    });
    (out_tx, writer)
}

/// End a session once its close message is queued: wait up to `grace` for the writer to
/// send it and for the reader to see the client's end, then shut the connection down so
/// a TLS client gets its close_notify rather than a cut connection. A task that does not
/// finish in time is aborted and the connection simply dropped.
pub(super) async fn finish<IO>(
    mut writer: JoinHandle<Sink<IO>>,
    mut reader: JoinHandle<Source<IO>>,
    grace: Duration,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let sink = time::timeout(grace, &mut writer).await;
    writer.abort();
    let source = time::timeout(grace, &mut reader).await;
    reader.abort();
    if let (Ok(Ok(sink)), Ok(Ok(source))) = (sink, source)
        && let Ok(mut ws) = sink.reunite(source)
    {
        let _ = time::timeout(grace, ws.get_mut().shutdown()).await;
    }
}

/// A normal closure: client-go reports anything else as an error on every stream.
pub(super) fn normal_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
}

/// Copy what `from` yields to `out` as messages on `channel`, until EOF.
pub(super) async fn pump_out(
    mut from: impl AsyncRead + Unpin,
    channel: u8,
    base64: bool,
    out: mpsc::Sender<Message>,
) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if out.send(encode(base64, channel, &buf[..n])).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_order_should_win_negotiation() {
        assert_eq!(
            WsProtocol::negotiate(["v5.channel.k8s.io, v4.channel.k8s.io"]),
            Some(WsProtocol::V5)
        );
        assert_eq!(
            WsProtocol::negotiate(["base64.channel.k8s.io", "channel.k8s.io"]),
            Some(WsProtocol::Base64Channel)
        );
        assert_eq!(WsProtocol::negotiate(["v2.channel.k8s.io"]), None);
    }

    #[test]
    fn messages_should_carry_their_channel() {
        let m = encode(false, STDOUT, b"hi");
        assert_eq!(m, Message::binary(vec![1, b'h', b'i']));
        assert_eq!(decode(false, m), Some((STDOUT, Bytes::from_static(b"hi"))));
        let m = encode(true, STDERR, b"hi");
        assert_eq!(m, Message::text("2aGk="));
        assert_eq!(decode(true, m), Some((STDERR, Bytes::from_static(b"hi"))));
    }
}
