//! A server-side SPDY/3.1 session: accepts the peer's streams, answers PING, honours
//! RST_STREAM and GOAWAY, and bounds everything a peer can make it hold.
//!
//! One task reads and decodes frames, one task encodes and writes them. Stream data flows
//! through bounded channels, so a peer that sends faster than the consumer reads is slowed
//! down by TCP back-pressure instead of growing buffers. Flow control (WINDOW_UPDATE) is
//! read and ignored, as in the Go implementation Kubernetes uses.
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{self, Duration};
use tokio_util::sync::{CancellationToken, DropGuard, PollSender};

use super::frame::{FLAG_FIN, Frame, rst};
use super::header_block::{HeaderDecoder, HeaderEncoder, HeaderLimits, Headers};
use crate::stream::{Error, Result};

/// Limits and timeouts of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Largest frame payload accepted.
    pub max_frame_payload: usize,
    /// Largest DATA payload sent in one frame.
    pub max_data_chunk: usize,
    /// Caps on header blocks.
    pub header_limits: HeaderLimits,
    /// Most streams whose receiving half is open at once.
    pub max_streams: usize,
    /// Chunks of data buffered per stream before the reader waits for the consumer.
    pub stream_buffer: usize,
    /// The session ends when nothing arrives for this long.
    pub idle_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            // Go's spdystream writes what it is given in one frame; client-go copies through
            // 32 KiB buffers. 1 MiB leaves room while bounding memory per connection.
            max_frame_payload: 1 << 20,
            // The size client-go's io.Copy uses.
            max_data_chunk: 32 * 1024,
            header_limits: HeaderLimits::default(),
            // exec uses 5 streams, port-forward 2 per forwarded connection.
            max_streams: 64,
            stream_buffer: 16,
            // The kubelet's --streaming-connection-idle-timeout default.
            idle_timeout: Duration::from_secs(4 * 60 * 60),
        }
    }
}

/// What the writer task sends.
#[derive(Debug)]
enum Outgoing {
    /// A frame without a header block.
    Frame(Frame),
    /// A SYN_REPLY whose header block the writer compresses (it owns the context).
    Reply { stream_id: u32, headers: Headers },
}

/// A stream the peer opened.
#[derive(Debug)]
pub struct Stream {
    /// Its id.
    pub id: u32,
    /// The headers of its SYN_STREAM.
    pub headers: Headers,
    /// Data the peer sends on it; EOF at FIN or reset.
    pub reader: StreamReader,
    /// Data this side sends on it; shutting it down sends FIN.
    pub writer: StreamWriter,
}

/// A running session over one upgraded connection.
#[derive(Debug)]
pub struct Session {
    incoming: mpsc::Receiver<Stream>,
    out: mpsc::Sender<Outgoing>,
    stop: DropGuard,
    peer_done: CancellationToken,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

// === impl Session ===

impl Session {
    /// Start serving `io` (the connection after the `101 Switching Protocols`).
    pub fn start<IO>(io: IO, config: SessionConfig) -> Self
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(io);
        let (out_tx, out_rx) = mpsc::channel(64);
        let (in_tx, in_rx) = mpsc::channel(8);
        let stop = CancellationToken::new();
        let peer_done = CancellationToken::new();
        let writer = tokio::spawn(write_loop(write, out_rx, stop.clone()));
        let decoder = HeaderDecoder::new(config.header_limits);
        let reader = tokio::spawn(
            ReadLoop {
                config,
                decoder,
                streams: HashMap::new(),
                last_stream_id: 0,
                going_away: false,
                out: out_tx.clone(),
                incoming: in_tx,
                stop: stop.clone(),
                done: peer_done.clone(),
            }
            .run(read),
        );
        Self {
            incoming: in_rx,
            out: out_tx,
            // Dropping the session stops both tasks.
            stop: stop.drop_guard(),
            peer_done,
            reader,
            writer,
        }
    }

    /// The next stream the peer opens; `None` once the session has ended.
    pub async fn accept(&mut self) -> Option<Stream> {
        self.incoming.recv().await
    }

    /// End the session: wait up to `grace` for the peer to close the connection (so every
    /// byte already queued reaches it), then stop both tasks and close the connection.
    pub async fn close(self, grace: Duration) {
        let Self {
            incoming,
            out,
            stop,
            peer_done,
            reader,
            writer,
        } = self;
        drop(incoming);
        let _ = time::timeout(grace, peer_done.cancelled()).await;
        let _ = out
            .send(Outgoing::Frame(Frame::GoAway {
                last_good_stream_id: 0,
                status: 0,
            }))
            .await;
        drop(out);
        stop.disarm().cancel();
        if time::timeout(grace, writer).await.is_err() {
            tracing::debug!("spdy writer did not finish in time");
        }
        reader.abort();
    }
}

// === the reader task ===

struct ReadLoop {
    config: SessionConfig,
    decoder: HeaderDecoder,
    streams: HashMap<u32, mpsc::Sender<Bytes>>,
    last_stream_id: u32,
    going_away: bool,
    out: mpsc::Sender<Outgoing>,
    incoming: mpsc::Sender<Stream>,
    stop: CancellationToken,
    done: CancellationToken,
}

impl ReadLoop {
    async fn run<R: AsyncRead + Unpin>(mut self, mut read: R) {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let result = loop {
            match Frame::decode(&buf, self.config.max_frame_payload) {
                Ok(Some((frame, used))) => {
                    let _ = buf.split_to(used);
                    if let Err(e) = self.handle(frame).await {
                        break Err(e);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(16 * 1024);
            }
            let read = tokio::select! {
                () = self.stop.cancelled() => break Ok(()),
                r = time::timeout(self.config.idle_timeout, read.read_buf(&mut buf)) => r,
            };
            match read {
                Err(_) => break Err(Error::Timeout("spdy connection idle")),
                Ok(Err(e)) => break Err(Error::Io(e)),
                Ok(Ok(0)) => break Ok(()),
                Ok(Ok(_)) => {}
            }
        };
        if let Err(e) = &result {
            tracing::debug!(error = %e, "spdy session ended");
            if matches!(
                e,
                Error::Malformed(_)
                    | Error::FrameTooLarge { .. }
                    | Error::UnsupportedVersion(_)
                    | Error::HeaderBlockTooLarge { .. }
                    | Error::TooManyHeaders { .. }
                    | Error::Compression(_)
                    | Error::Protocol(_)
            ) {
                let _ = self.out.try_send(Outgoing::Frame(Frame::GoAway {
                    last_good_stream_id: self.last_stream_id,
                    status: 1,
                }));
            }
        }
        // Every open stream sees EOF; accept() sees the end.
        self.streams.clear();
        self.done.cancel();
    }

    async fn send(&self, o: Outgoing) -> Result<()> {
        self.out
            .send(o)
            .await
            .map_err(|_| Error::Protocol("connection writer is gone".into()))
    }

    async fn handle(&mut self, frame: Frame) -> Result<()> {
        match frame {
            Frame::SynStream {
                stream_id,
                flags,
                header_block,
                ..
            } => {
                // Always decode: the compression context spans every block.
                let headers = self.decoder.decode(&header_block)?;
                self.open(stream_id, flags, headers).await
            }
            Frame::SynReply { header_block, .. } | Frame::Headers { header_block, .. } => {
                self.decoder.decode(&header_block)?;
                Ok(())
            }
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                if let Some(tx) = self.streams.get(&stream_id) {
                    if !data.is_empty() && tx.send(data).await.is_err() {
                        // The consumer is not interested in this stream's data any more.
                        self.streams.remove(&stream_id);
                    }
                    if flags & FLAG_FIN != 0 {
                        self.streams.remove(&stream_id);
                    }
                } else if stream_id > self.last_stream_id || stream_id == 0 {
                    return Err(Error::Protocol(format!(
                        "data for unopened stream {stream_id}"
                    )));
                }
                Ok(())
            }
            Frame::RstStream { stream_id, .. } => {
                self.streams.remove(&stream_id);
                Ok(())
            }
            Frame::Ping { id } => {
                // Odd ids come from the client; even ids would answer pings we never send.
                if !id.is_multiple_of(2) {
                    self.send(Outgoing::Frame(Frame::Ping { id })).await?;
                }
                Ok(())
            }
            Frame::GoAway { .. } => {
                self.going_away = true;
                Ok(())
            }
            Frame::Settings { .. } | Frame::WindowUpdate { .. } | Frame::Unknown { .. } => Ok(()),
        }
    }

    async fn open(&mut self, stream_id: u32, flags: u8, headers: Headers) -> Result<()> {
        if stream_id.is_multiple_of(2) || stream_id <= self.last_stream_id {
            return Err(Error::Protocol(format!("bad new stream id {stream_id}")));
        }
        self.last_stream_id = stream_id;
        if self.going_away || self.streams.len() >= self.config.max_streams {
            return self
                .send(Outgoing::Frame(Frame::RstStream {
                    stream_id,
                    status: rst::REFUSED_STREAM,
                }))
                .await;
        }
        let (tx, rx) = mpsc::channel(self.config.stream_buffer.max(1));
        if flags & FLAG_FIN == 0 {
            self.streams.insert(stream_id, tx);
        }
        let stream = Stream {
            id: stream_id,
            headers,
            reader: StreamReader {
                rx,
                chunk: Bytes::new(),
            },
            writer: StreamWriter {
                id: stream_id,
                tx: PollSender::new(self.out.clone()),
                max_chunk: self.config.max_data_chunk.max(1),
                fin_sent: false,
            },
        };
        // The reply goes out before any data the consumer writes on the stream.
        self.send(Outgoing::Reply {
            stream_id,
            headers: Headers::default(),
        })
        .await?;
        match self.incoming.try_send(stream) {
            Ok(()) => Ok(()),
            Err(_) => {
                // Nobody accepts streams this fast: refuse rather than queue.
                self.streams.remove(&stream_id);
                self.send(Outgoing::Frame(Frame::RstStream {
                    stream_id,
                    status: rst::REFUSED_STREAM,
                }))
                .await
            }
        }
    }
}

// === the writer task ===

async fn write_loop<W: AsyncWrite + Unpin>(
    mut write: W,
    mut rx: mpsc::Receiver<Outgoing>,
    stop: CancellationToken,
) {
    let mut encoder = HeaderEncoder::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let first = tokio::select! {
            biased;
            o = rx.recv() => o,
            () = stop.cancelled() => {
                // Send what is already queued, then stop.
                rx.close();
                rx.recv().await
            }
        };
        let Some(first) = first else { break };
        let mut next = Some(first);
        // Batch what is queued into one write.
        while let Some(o) = next.take() {
            if let Err(e) = encode(&mut encoder, o, &mut buf) {
                tracing::debug!(error = %e, "dropping an unencodable spdy frame");
            }
            if buf.len() >= 64 * 1024 {
                break;
            }
            next = rx.try_recv().ok();
        }
        if write.write_all(&buf).await.is_err() || write.flush().await.is_err() {
            break;
        }
        buf.clear();
    }
    let _ = write.shutdown().await;
}

fn encode(encoder: &mut HeaderEncoder, o: Outgoing, buf: &mut BytesMut) -> Result<()> {
    let frame = match o {
        Outgoing::Frame(f) => f,
        Outgoing::Reply { stream_id, headers } => Frame::SynReply {
            stream_id,
            flags: 0,
            header_block: encoder.encode(&headers)?,
        },
    };
    frame.encode(buf)
}

// === impl StreamReader ===

/// The receiving half of a stream: reads what the peer sends until FIN.
#[derive(Debug)]
pub struct StreamReader {
    rx: mpsc::Receiver<Bytes>,
    chunk: Bytes,
}

impl AsyncRead for StreamReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.chunk.is_empty() {
            match ready!(self.rx.poll_recv(cx)) {
                Some(chunk) => self.chunk = chunk,
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = self.chunk.len().min(buf.remaining());
        buf.put_slice(&self.chunk.split_to(n));
        Poll::Ready(Ok(()))
    }
}

// === impl StreamWriter ===

/// The sending half of a stream: each write becomes DATA frames; shutdown sends FIN.
#[derive(Debug)]
pub struct StreamWriter {
    id: u32,
    tx: PollSender<Outgoing>,
    max_chunk: usize,
    fin_sent: bool,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "spdy connection closed")
}

impl StreamWriter {
    fn poll_send(&mut self, cx: &mut Context<'_>, frame: Frame) -> Poll<io::Result<()>> {
        ready!(self.tx.poll_reserve(cx)).map_err(|_| gone())?;
        self.tx
            .send_item(Outgoing::Frame(frame))
            .map_err(|_| gone())?;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for StreamWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.fin_sent {
            return Poll::Ready(Err(gone()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = buf.len().min(self.max_chunk);
        let frame = Frame::Data {
            stream_id: self.id,
            flags: 0,
            data: Bytes::copy_from_slice(&buf[..n]),
        };
        ready!(self.poll_send(cx, frame))?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Frames are queued in order for the writer task; there is nothing to flush here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.fin_sent {
            return Poll::Ready(Ok(()));
        }
        let frame = Frame::Data {
            stream_id: self.id,
            flags: FLAG_FIN,
            data: Bytes::new(),
        };
        ready!(self.poll_send(cx, frame))?;
        self.fin_sent = true;
        Poll::Ready(Ok(()))
    }
}
