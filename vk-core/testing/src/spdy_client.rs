//! A minimal, sequential SPDY/3.1 client for tests and benchmarks: opens streams, sends
//! data and reads frames with their header blocks decoded.
use std::collections::{HashMap, HashSet};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use vk_core::stream::spdy::frame::{FLAG_FIN, Frame, MAX_PAYLOAD_LEN};
use vk_core::stream::spdy::header_block::{HeaderDecoder, HeaderEncoder, HeaderLimits, Headers};
use vk_core::stream::{Error, Result};

/// A client connection.
#[derive(Debug)]
pub struct Client<IO> {
    io: IO,
    encoder: HeaderEncoder,
    decoder: HeaderDecoder,
    buf: BytesMut,
    next_id: u32,
}

/// A frame read by the client, header blocks decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// A SYN_REPLY.
    Reply(u32, Headers),
    /// Any other frame.
    Frame(Frame),
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Client<IO> {
    /// A client over a connection already upgraded to SPDY/3.1.
    pub fn new(io: IO) -> Self {
        Self {
            io,
            encoder: HeaderEncoder::new(),
            decoder: HeaderDecoder::new(HeaderLimits::default()),
            buf: BytesMut::new(),
            next_id: 1,
        }
    }

    /// Write a raw frame.
    pub async fn send(&mut self, frame: &Frame) -> Result<()> {
        let bytes = frame.to_bytes()?;
        self.io.write_all(&bytes).await.map_err(Error::Io)?;
        self.io.flush().await.map_err(Error::Io)
    }

    /// Open the next stream with `headers`; returns its id.
    pub async fn open(&mut self, headers: &Headers, fin: bool) -> Result<u32> {
        let stream_id = self.next_id;
        self.next_id += 2;
        let header_block = self.encoder.encode(headers)?;
        self.send(&Frame::SynStream {
            stream_id,
            associated_id: 0,
            priority: 0,
            slot: 0,
            flags: if fin { FLAG_FIN } else { 0 },
            header_block,
        })
        .await?;
        Ok(stream_id)
    }

    /// Send data on a stream.
    pub async fn data(&mut self, stream_id: u32, data: &[u8], fin: bool) -> Result<()> {
        self.send(&Frame::Data {
            stream_id,
            flags: if fin { FLAG_FIN } else { 0 },
            data: Bytes::copy_from_slice(data),
        })
        .await
    }

    /// The next frame, or `None` at the end of the connection.
    pub async fn recv(&mut self) -> Result<Option<Received>> {
        loop {
            if let Some((frame, used)) = Frame::decode(&self.buf, MAX_PAYLOAD_LEN)? {
                let _ = self.buf.split_to(used);
                return Ok(Some(match frame {
                    Frame::SynReply {
                        stream_id,
                        header_block,
                        ..
                    } => Received::Reply(stream_id, self.decoder.decode(&header_block)?),
                    other => Received::Frame(other),
                }));
            }
            if self.io.read_buf(&mut self.buf).await.map_err(Error::Io)? == 0 {
                return Ok(None);
            }
        }
    }

    /// The data received on each stream until every one of `streams` has ended (a data
    /// frame with FIN); other frames are skipped.
    ///
    /// # Errors
    ///
    /// Reading fails, or the connection ends before every stream did.
    pub async fn data_until_fin(&mut self, streams: &[u32]) -> Result<HashMap<u32, Vec<u8>>> {
        let mut data = HashMap::<u32, Vec<u8>>::new();
        let mut ended = HashSet::new();
        while !streams.iter().all(|s| ended.contains(s)) {
            let Some(received) = self.recv().await? else {
                return Err(Error::Protocol(
                    "connection closed before every stream ended".into(),
                ));
            };
            if let Received::Frame(Frame::Data {
                stream_id,
                flags,
                data: bytes,
            }) = received
            {
                data.entry(stream_id).or_default().extend_from_slice(&bytes);
                if flags & FLAG_FIN != 0 {
                    ended.insert(stream_id);
                }
            }
        }
        Ok(data)
    }

    /// The underlying connection.
    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }
}
