//! SPDY/3.1, the framing under `kubectl exec/attach/port-forward` on the kubelet leg.
//!
//! [`frame`] decodes and encodes frames, [`header_block`] the zlib-compressed header
//! blocks, [`session`] runs the server side of a connection.
pub mod frame;
pub mod header_block;
pub mod session;

pub use super::{Error, Result};
pub use frame::Frame;
pub use header_block::{HeaderDecoder, HeaderEncoder, HeaderLimits, Headers};
pub use session::{Session, SessionConfig, Stream, StreamReader, StreamWriter};

/// The `Upgrade` token of the protocol.
pub const UPGRADE: &str = "SPDY/3.1";
