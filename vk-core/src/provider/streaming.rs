//! The I/O of `kubectl logs`, `exec`, `attach` and `port-forward` as a provider sees it.
use std::fmt;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// A stream of log bytes.
pub type LogStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Input to a container (stdin).
pub type BoxRead = Pin<Box<dyn AsyncRead + Send>>;

/// Output of a container (stdout, stderr).
pub type BoxWrite = Pin<Box<dyn AsyncWrite + Send>>;

/// Options of `GET /containerLogs`, as `kubectl logs` sends them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep the stream open and send new lines as they come.
    pub follow: bool,
    /// Only the last N lines.
    pub tail_lines: Option<u64>,
    /// Prefix each line with an RFC 3339 timestamp.
    pub timestamps: bool,
    /// Only lines at or after this time (`sinceSeconds` is converted by the server).
    pub since: Option<Timestamp>,
    /// Stop after this many bytes.
    pub limit_bytes: Option<u64>,
    /// Logs of the previous instance of the container.
    pub previous: bool,
}

/// A terminal size, from the remotecommand resize channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct TerminalSize {
    /// Columns.
    #[serde(rename = "Width")]
    pub width: u16,
    /// Rows.
    #[serde(rename = "Height")]
    pub height: u16,
}

/// The streams of an exec or attach session. Absent streams were not requested.
pub struct ExecIo {
    /// Data the user types (`kubectl exec -i`).
    pub stdin: Option<BoxRead>,
    /// Where the container's stdout goes.
    pub stdout: Option<BoxWrite>,
    /// Where the container's stderr goes (absent with a TTY: it is merged into stdout).
    pub stderr: Option<BoxWrite>,
    /// Whether a TTY was requested (`kubectl exec -t`).
    pub tty: bool,
    /// Terminal size changes, the first one being the initial size.
    pub resize: Option<mpsc::Receiver<TerminalSize>>,
}

impl fmt::Debug for ExecIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecIo")
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("tty", &self.tty)
            .field("resize", &self.resize.is_some())
            .finish()
    }
}

/// A bidirectional byte stream (port-forward data).
pub trait DuplexIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> DuplexIo for T {}
