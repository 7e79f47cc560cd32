//! remotecommand streaming protocols: SPDY/3.1 and the WebSocket channel protocols.
//!
//! [`spdy`] is the framing and session layer; [`remotecommand`] runs `exec` and `attach`
//! sessions on top of it (protocols `channel.k8s.io` to `v5.channel.k8s.io`), and
//! [`websocket`] runs them over WebSocket. [`portforward`] serves port-forward over SPDY,
//! over SPDY tunnelled in WebSocket, and over the WebSocket channel protocol.
pub mod portforward;
pub mod remotecommand;
pub mod spdy;
pub mod websocket;

// Compiled for unit tests too, so the fuzz properties are checked on seeds in CI.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;

/// Result of the streaming layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a streaming session failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame's length is above the configured or protocol maximum.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Its declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A control frame of a SPDY version other than 3.
    #[error("unsupported spdy version {0}")]
    UnsupportedVersion(u16),
    /// A frame or header block that does not follow the format.
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    /// A header block decompresses to more than the limit.
    #[error("header block exceeds {max} bytes")]
    HeaderBlockTooLarge {
        /// The limit.
        max: usize,
    },
    /// A header block has more pairs than the limit.
    #[error("header block has {count} headers, more than {max}")]
    TooManyHeaders {
        /// The declared count.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// zlib failed on a header block.
    #[error("header compression: {0}")]
    Compression(String),
    /// The peer broke the session's rules (stream ids, expected streams).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Nothing happened for too long.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// Reading or writing the connection failed.
    #[error("connection i/o")]
    Io(#[source] std::io::Error),
}
