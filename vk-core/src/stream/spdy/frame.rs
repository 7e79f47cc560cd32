//! SPDY/3.1 frames: decoding from and encoding to bytes, header blocks left compressed.
//!
//! A frame is 8 bytes of header and a payload of at most 2^24 - 1 bytes. Control frames
//! carry a version (always 3 here) and a type; data frames carry a stream id.
use bytes::{BufMut, Bytes, BytesMut};

use crate::stream::{Error, Result};

/// The protocol version this implementation speaks.
pub const VERSION: u16 = 3;
/// Flag `FLAG_FIN` on DATA, SYN_STREAM, SYN_REPLY and HEADERS: the sender's half is closed.
pub const FLAG_FIN: u8 = 0x01;
/// Flag `FLAG_UNIDIRECTIONAL` on SYN_STREAM: the recipient may not send on the stream.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// Length of every frame header.
pub const HEADER_LEN: usize = 8;
/// The largest payload a frame length field can express.
pub const MAX_PAYLOAD_LEN: usize = (1 << 24) - 1;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;
const STREAM_ID_MASK: u32 = 0x7fff_ffff;

/// RST_STREAM status codes (SPDY/3.1 section 2.6.3).
pub mod rst {
    /// A generic error.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// A frame for a stream that is not active.
    pub const INVALID_STREAM: u32 = 2;
    /// The stream was refused before any processing (too many streams, going away).
    pub const REFUSED_STREAM: u32 = 3;
    /// The stream is no longer needed.
    pub const CANCEL: u32 = 5;
    /// An internal error of the endpoint.
    pub const INTERNAL_ERROR: u32 = 6;
    /// A SYN_STREAM for a stream that already exists.
    pub const STREAM_IN_USE: u32 = 8;
    /// A frame larger than the endpoint supports.
    pub const FRAME_TOO_LARGE: u32 = 11;
}

/// One SETTINGS entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Per-entry flags.
    pub flags: u8,
    /// The setting id (24 bits).
    pub id: u32,
    /// Its value.
    pub value: u32,
}

/// A SPDY/3.1 frame. Header blocks stay compressed: they are decoded by
/// [`super::header_block::HeaderDecoder`], which must see every block of the connection in
/// order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// Stream data.
    Data {
        /// The stream (31 bits).
        stream_id: u32,
        /// `FLAG_FIN` or none.
        flags: u8,
        /// The bytes.
        data: Bytes,
    },
    /// The peer opens a stream.
    SynStream {
        /// The new stream (31 bits).
        stream_id: u32,
        /// The stream it is associated with, 0 for none.
        associated_id: u32,
        /// Priority, 0 (highest) to 7.
        priority: u8,
        /// Credential slot.
        slot: u8,
        /// `FLAG_FIN` and/or `FLAG_UNIDIRECTIONAL`.
        flags: u8,
        /// Compressed header block.
        header_block: Bytes,
    },
    /// The answer to a SYN_STREAM.
    SynReply {
        /// The stream.
        stream_id: u32,
        /// `FLAG_FIN` or none.
        flags: u8,
        /// Compressed header block.
        header_block: Bytes,
    },
    /// Abnormal end of a stream.
    RstStream {
        /// The stream.
        stream_id: u32,
        /// Why (see [`rst`]).
        status: u32,
    },
    /// Connection settings (read and ignored by this server).
    Settings {
        /// Frame flags.
        flags: u8,
        /// The entries.
        entries: Vec<Setting>,
    },
    /// A liveness check the receiver echoes.
    Ping {
        /// Its id.
        id: u32,
    },
    /// The sender will open no more streams.
    GoAway {
        /// The last stream the sender processed.
        last_good_stream_id: u32,
        /// Why.
        status: u32,
    },
    /// More headers for a stream.
    Headers {
        /// The stream.
        stream_id: u32,
        /// `FLAG_FIN` or none.
        flags: u8,
        /// Compressed header block.
        header_block: Bytes,
    },
    /// Flow-control credit (read and ignored by this server, like the Go implementation).
    WindowUpdate {
        /// The stream, 0 for the connection.
        stream_id: u32,
        /// Bytes of credit (31 bits).
        delta: u32,
    },
    /// A control frame of a type this implementation does not know; ignored, as the spec
    /// requires.
    Unknown {
        /// The control frame type.
        kind: u16,
        /// Its flags.
        flags: u8,
        /// Its payload.
        payload: Bytes,
    },
}

// === impl Frame ===

impl Frame {
    /// Decode one frame from the front of `buf`. Returns `None` when `buf` does not yet hold
    /// a whole frame, or the frame and the number of bytes it used. A length above
    /// `max_payload` fails before anything is buffered, so a peer cannot make the reader
    /// hold more than `max_payload + 8` bytes.
    pub fn decode(buf: &[u8], max_payload: usize) -> Result<Option<(Self, usize)>> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let flags = buf[4];
        let len = usize::from(buf[5]) << 16 | usize::from(buf[6]) << 8 | usize::from(buf[7]);
        if len > max_payload {
            return Err(Error::FrameTooLarge {
                len,
                max: max_payload,
            });
        }
        if buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = &buf[HEADER_LEN..HEADER_LEN + len];
        let frame = if first & 0x8000_0000 == 0 {
            Self::Data {
                stream_id: first & STREAM_ID_MASK,
                flags,
                data: Bytes::copy_from_slice(payload),
            }
        } else {
            let version = ((first >> 16) & 0x7fff) as u16;
            if version != VERSION {
                return Err(Error::UnsupportedVersion(version));
            }
            let kind = (first & 0xffff) as u16;
            Self::decode_control(kind, flags, payload)?
        };
        Ok(Some((frame, HEADER_LEN + len)))
    }

    fn decode_control(kind: u16, flags: u8, p: &[u8]) -> Result<Self> {
        let need = |n: usize| {
            if p.len() < n {
                Err(Error::Malformed("control frame payload too short"))
            } else {
                Ok(())
            }
        };
        let exact = |n: usize| {
            if p.len() == n {
                Ok(())
            } else {
                Err(Error::Malformed(
                    "control frame payload has the wrong length",
                ))
            }
        };
        let word = |i: usize| u32::from_be_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
        Ok(match kind {
            TYPE_SYN_STREAM => {
                need(10)?;
                Self::SynStream {
                    stream_id: word(0) & STREAM_ID_MASK,
                    associated_id: word(4) & STREAM_ID_MASK,
                    priority: p[8] >> 5,
                    slot: p[9],
                    flags,
                    header_block: Bytes::copy_from_slice(&p[10..]),
                }
            }
            TYPE_SYN_REPLY => {
                need(4)?;
                Self::SynReply {
                    stream_id: word(0) & STREAM_ID_MASK,
                    flags,
                    header_block: Bytes::copy_from_slice(&p[4..]),
                }
            }
            TYPE_HEADERS => {
                need(4)?;
                Self::Headers {
                    stream_id: word(0) & STREAM_ID_MASK,
                    flags,
                    header_block: Bytes::copy_from_slice(&p[4..]),
                }
            }
            TYPE_RST_STREAM => {
                exact(8)?;
                Self::RstStream {
                    stream_id: word(0) & STREAM_ID_MASK,
                    status: word(4),
                }
            }
            TYPE_SETTINGS => {
                need(4)?;
                let count = word(0) as usize;
                // Checked against the payload before any allocation.
                if p.len() != 4 + count.saturating_mul(8) {
                    return Err(Error::Malformed("settings count does not match its length"));
                }
                let entries = p[4..]
                    .chunks_exact(8)
                    .map(|e| Setting {
                        flags: e[0],
                        id: u32::from_be_bytes([0, e[1], e[2], e[3]]),
                        value: u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
                    })
                    .collect();
                Self::Settings { flags, entries }
            }
            TYPE_PING => {
                exact(4)?;
                Self::Ping { id: word(0) }
            }
            TYPE_GOAWAY => {
                exact(8)?;
                Self::GoAway {
                    last_good_stream_id: word(0) & STREAM_ID_MASK,
                    status: word(4),
                }
            }
            TYPE_WINDOW_UPDATE => {
                exact(8)?;
                Self::WindowUpdate {
                    stream_id: word(0) & STREAM_ID_MASK,
                    delta: word(4) & STREAM_ID_MASK,
                }
            }
            kind => Self::Unknown {
                kind,
                flags,
                payload: Bytes::copy_from_slice(p),
            },
        })
    }

    /// Append the encoded frame to `out`. Fails only when the payload is longer than a
    /// frame can express.
    pub fn encode(&self, out: &mut BytesMut) -> Result<()> {
        let start = out.len();
        out.put_bytes(0, HEADER_LEN);
        let (first, flags) = match self {
            Self::Data {
                stream_id,
                flags,
                data,
            } => {
                out.put_slice(data);
                (stream_id & STREAM_ID_MASK, *flags)
            }
            Self::SynStream {
                stream_id,
                associated_id,
                priority,
                slot,
                flags,
                header_block,
            } => {
                out.put_u32(stream_id & STREAM_ID_MASK);
                out.put_u32(associated_id & STREAM_ID_MASK);
                out.put_u8((priority & 0x07) << 5);
                out.put_u8(*slot);
                out.put_slice(header_block);
                (control(TYPE_SYN_STREAM), *flags)
            }
            Self::SynReply {
                stream_id,
                flags,
                header_block,
            } => {
                out.put_u32(stream_id & STREAM_ID_MASK);
                out.put_slice(header_block);
                (control(TYPE_SYN_REPLY), *flags)
            }
            Self::Headers {
                stream_id,
                flags,
                header_block,
            } => {
                out.put_u32(stream_id & STREAM_ID_MASK);
                out.put_slice(header_block);
                (control(TYPE_HEADERS), *flags)
            }
            Self::RstStream { stream_id, status } => {
                out.put_u32(stream_id & STREAM_ID_MASK);
                out.put_u32(*status);
                (control(TYPE_RST_STREAM), 0)
            }
            Self::Settings { flags, entries } => {
                let count = u32::try_from(entries.len())
                    .map_err(|_| Error::Malformed("too many settings"))?;
                out.put_u32(count);
                for e in entries {
                    out.put_u32((u32::from(e.flags) << 24) | (e.id & 0x00ff_ffff));
                    out.put_u32(e.value);
                }
                (control(TYPE_SETTINGS), *flags)
            }
            Self::Ping { id } => {
                out.put_u32(*id);
                (control(TYPE_PING), 0)
            }
            Self::GoAway {
                last_good_stream_id,
                status,
            } => {
                out.put_u32(last_good_stream_id & STREAM_ID_MASK);
                out.put_u32(*status);
                (control(TYPE_GOAWAY), 0)
            }
            Self::WindowUpdate { stream_id, delta } => {
                out.put_u32(stream_id & STREAM_ID_MASK);
                out.put_u32(delta & STREAM_ID_MASK);
                (control(TYPE_WINDOW_UPDATE), 0)
            }
            Self::Unknown {
                kind,
                flags,
                payload,
            } => {
                out.put_slice(payload);
                (control(*kind), *flags)
            }
        };
        let len = out.len() - start - HEADER_LEN;
        if len > MAX_PAYLOAD_LEN {
            out.truncate(start);
            return Err(Error::FrameTooLarge {
                len,
                max: MAX_PAYLOAD_LEN,
            });
        }
        let header = &mut out[start..start + HEADER_LEN];
        header[..4].copy_from_slice(&first.to_be_bytes());
        header[4] = flags;
        // The length is below 2^24: checked above.
        header[5..8].copy_from_slice(&(len as u32).to_be_bytes()[1..]);
        Ok(())
    }

    /// The frame encoded on its own.
    pub fn to_bytes(&self) -> Result<Bytes> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out.freeze())
    }
}

fn control(kind: u16) -> u32 {
    0x8000_0000 | (u32::from(VERSION) << 16) | u32::from(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frame: Frame) {
        let bytes = frame.to_bytes().unwrap();
        let (decoded, used) = Frame::decode(&bytes, MAX_PAYLOAD_LEN).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(decoded, frame);
    }

    #[test]
    fn every_frame_type_should_round_trip() {
        round_trip(Frame::Data {
            stream_id: 7,
            flags: FLAG_FIN,
            data: Bytes::from_static(b"hello"),
        });
        round_trip(Frame::SynStream {
            stream_id: 1,
            associated_id: 0,
            priority: 3,
            slot: 0,
            flags: FLAG_UNIDIRECTIONAL,
            header_block: Bytes::from_static(b"\x78\x01"),
        });
        round_trip(Frame::SynReply {
            stream_id: 3,
            flags: 0,
            header_block: Bytes::new(),
        });
        round_trip(Frame::Headers {
            stream_id: 3,
            flags: FLAG_FIN,
            header_block: Bytes::from_static(b"x"),
        });
        round_trip(Frame::RstStream {
            stream_id: 5,
            status: rst::CANCEL,
        });
        round_trip(Frame::Settings {
            flags: 1,
            entries: vec![Setting {
                flags: 1,
                id: 7,
                value: 65536,
            }],
        });
        round_trip(Frame::Ping { id: 0xdead_beef });
        round_trip(Frame::GoAway {
            last_good_stream_id: 9,
            status: 0,
        });
        round_trip(Frame::WindowUpdate {
            stream_id: 1,
            delta: 1000,
        });
        round_trip(Frame::Unknown {
            kind: 42,
            flags: 0,
            payload: Bytes::from_static(b"abc"),
        });
    }

    #[test]
    fn a_partial_frame_should_wait_for_more_bytes() {
        let bytes = Frame::Ping { id: 1 }.to_bytes().unwrap();
        for n in 0..bytes.len() {
            assert!(Frame::decode(&bytes[..n], 1024).unwrap().is_none());
        }
    }

    #[test]
    fn an_oversized_frame_should_fail_from_its_header_alone() {
        let header = [0, 0, 0, 1, 0, 0x10, 0, 0];
        assert!(matches!(
            Frame::decode(&header, 1024),
            Err(Error::FrameTooLarge { len: 0x10_0000, .. })
        ));
    }

    #[test]
    fn a_control_frame_of_another_version_should_fail() {
        let header = [0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1];
        assert!(matches!(
            Frame::decode(&header, 1024),
            Err(Error::UnsupportedVersion(2))
        ));
    }

    #[test]
    fn a_settings_count_larger_than_the_payload_should_fail() {
        let frame = [0x80, 3, 0, 4, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff];
        assert!(Frame::decode(&frame, 1024).is_err());
    }
}
