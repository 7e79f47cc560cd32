//! The Kubernetes remotecommand protocols (`channel.k8s.io` .. `v5.channel.k8s.io`) over
//! SPDY: what `kubectl exec` and `kubectl attach` speak to a kubelet.
//!
//! The client opens one stream per channel, named by its `streamType` header (`error`,
//! `stdin`, `stdout`, `stderr`, `resize`). Once every expected stream is open the command
//! runs; its output streams are closed (FIN) when it ends, and the error stream carries the
//! outcome: nothing or an error text for v1 to v3, a `metav1.Status` JSON from v4 on, with
//! reason `NonZeroExitCode` and an `ExitCode` cause for a failed command. Over SPDY, v5
//! is v4 (its close signal only exists on WebSocket).
use std::future::Future;
use std::pin::Pin;

use futures::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{self, Duration};

use super::spdy::{Session, SessionConfig, StreamReader, StreamWriter};
use super::{Error, Result};
use crate::provider::{ExecIo, ProviderError, TerminalSize};

/// The header with which a client offers protocols and the server answers its choice.
pub const PROTOCOL_HEADER: &str = "X-Stream-Protocol-Version";
/// The header listing the server's protocols when negotiation fails.
pub const ACCEPTED_PROTOCOLS_HEADER: &str = "X-Accepted-Stream-Protocol-Versions";

/// A remotecommand protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Protocol {
    /// `channel.k8s.io`: the error stream carries text.
    V1,
    /// `v2.channel.k8s.io`: stdin, stdout, stderr and error streams created up front.
    V2,
    /// `v3.channel.k8s.io`: adds the resize stream.
    V3,
    /// `v4.channel.k8s.io`: the error stream carries a `metav1.Status` with the exit code.
    V4,
    /// `v5.channel.k8s.io`: adds the stdin close signal (WebSocket only).
    V5,
}

impl Protocol {
    /// Every protocol, most preferred first.
    pub const ALL: [Self; 5] = [Self::V5, Self::V4, Self::V3, Self::V2, Self::V1];

    /// The protocol's name on the wire.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::V1 => "channel.k8s.io",
            Self::V2 => "v2.channel.k8s.io",
            Self::V3 => "v3.channel.k8s.io",
            Self::V4 => "v4.channel.k8s.io",
            Self::V5 => "v5.channel.k8s.io",
        }
    }

    /// The protocol of a wire name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name.trim())
    }

    /// The client's first offered protocol that the server speaks (as `httpstream.Handshake`
    /// does: the client's order wins). Values may also be comma-separated lists.
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        offered
            .into_iter()
            .flat_map(|v| v.split(','))
            .find_map(Self::from_name)
    }

    /// Whether the error stream carries a JSON `Status`.
    #[must_use]
    pub fn status_errors(self) -> bool {
        self >= Self::V4
    }
}

/// Which streams an exec or attach asked for, from the query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// `input=1` / `stdin=true`.
    pub stdin: bool,
    /// `output=1` / `stdout=true`.
    pub stdout: bool,
    /// `error=1` / `stderr=true`; always off with a TTY (merged into stdout).
    pub stderr: bool,
    /// `tty=1`.
    pub tty: bool,
    /// `command=` values in order (exec only).
    pub command: Vec<String>,
}

impl StreamOptions {
    /// Parse a query string, accepting both the kubelet's (`input/output/error`) and the
    /// API server's (`stdin/stdout/stderr`) spellings, and `1` or `true`.
    #[must_use]
    pub fn from_query(query: &str) -> Self {
        let mut o = Self::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let on = v == "1" || v.eq_ignore_ascii_case("true");
            match &*k {
                "input" | "stdin" => o.stdin |= on,
                "output" | "stdout" => o.stdout |= on,
                "error" | "stderr" => o.stderr |= on,
                "tty" => o.tty |= on,
                "command" => o.command.push(v.into_owned()),
                _ => {}
            }
        }
        if o.tty {
            // As the kubelet: stderr is merged into stdout with a TTY.
            o.stderr = false;
        }
        o
    }

    /// Whether at least one stream was requested (the kubelet refuses otherwise).
    #[must_use]
    pub fn any_stream(&self) -> bool {
        self.stdin || self.stdout || self.stderr
    }

    fn expected_streams(&self, protocol: Protocol) -> usize {
        1 + usize::from(self.stdin)
            + usize::from(self.stdout)
            + usize::from(self.stderr)
            + usize::from(self.tty && protocol >= Protocol::V3)
    }
}

/// Timeouts of a remotecommand session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamingConfig {
    /// The SPDY session's limits.
    pub session: SessionConfig,
    /// How long the client has to open every expected stream.
    pub stream_creation_timeout: Duration,
    /// How long to wait, after the outcome is sent, for the client to close.
    pub close_grace: Duration,
}

impl Default for StreamingConfig {
    fn default() -> Self {
        Self {
            session: SessionConfig::default(),
            // remotecommand's DefaultStreamCreationTimeout.
            stream_creation_timeout: Duration::from_secs(30),
            close_grace: Duration::from_secs(5),
        }
    }
}

/// The command's side of a session: given the streams, runs and returns an exit code.
pub type Runner = Box<
    dyn FnOnce(ExecIo) -> Pin<Box<dyn Future<Output = Result<i32, ProviderError>> + Send>> + Send,
>;

#[derive(Default)]
struct Streams {
    error: Option<StreamWriter>,
    stdin: Option<StreamReader>,
    stdout: Option<StreamWriter>,
    stderr: Option<StreamWriter>,
    resize: Option<StreamReader>,
    count: usize,
}

/// Serve one exec or attach over an upgraded SPDY connection, to the end.
pub async fn serve_spdy<IO>(
    io: IO,
    protocol: Protocol,
    options: StreamOptions,
    config: StreamingConfig,
    run: Runner,
) -> Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let mut session = Session::start(io, config.session.clone());
    let streams = time::timeout(
        config.stream_creation_timeout,
        accept_streams(&mut session, protocol, &options),
    )
    .await
    .map_err(|_| Error::Timeout("waiting for the client's streams"))??;
    let outcome = run_command(streams, protocol, options.tty, run).await;
    session.close(config.close_grace).await;
    outcome
}

async fn accept_streams(
    session: &mut Session,
    protocol: Protocol,
    options: &StreamOptions,
) -> Result<Streams> {
    let expected = options.expected_streams(protocol);
    let mut s = Streams::default();
    while s.count < expected {
        let Some(stream) = session.accept().await else {
            return Err(Error::Protocol(
                "connection closed before every stream was opened".into(),
            ));
        };
        let kind = stream
            .headers
            .get("streamtype")
            .unwrap_or_default()
            .to_owned();
        let slot_taken = match kind.as_str() {
            "error" => s.error.replace(stream.writer).is_some(),
            "stdin" => s.stdin.replace(stream.reader).is_some(),
            "stdout" => s.stdout.replace(stream.writer).is_some(),
            "stderr" => s.stderr.replace(stream.writer).is_some(),
            "resize" => s.resize.replace(stream.reader).is_some(),
            other => return Err(Error::Protocol(format!("unknown stream type {other:?}"))),
        };
        if slot_taken {
            return Err(Error::Protocol(format!("duplicate {kind} stream")));
        }
        s.count += 1;
    }
    if s.error.is_none() {
        return Err(Error::Protocol("no error stream".into()));
    }
    Ok(s)
}

async fn run_command(s: Streams, protocol: Protocol, tty: bool, run: Runner) -> Result<()> {
    let Streams {
        error,
        stdin,
        stdout,
        stderr,
        resize,
        ..
    } = s;
    let mut pumps = Vec::new();
    let mut output = |w: Option<StreamWriter>| {
        w.map(|w| {
            let (ours, theirs) = tokio::io::duplex(64 * 1024);
            pumps.push(tokio::spawn(pump(ours, w)));
            Box::pin(theirs) as crate::provider::BoxWrite
        })
    };
    let stdout = output(stdout);
    let stderr = output(stderr);
    let resize = resize.map(|r| {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(read_resizes(r, tx));
        rx
    });
    let io = ExecIo {
        stdin: stdin.map(|r| Box::pin(r) as crate::provider::BoxRead),
        stdout,
        stderr,
        tty,
        resize,
    };
    // A panicking provider must not leave the client waiting.
    let result = std::panic::AssertUnwindSafe(run(io))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(ProviderError::Other("exec panicked".into())));
    for p in pumps {
        // Outputs end when the provider drops its ends; do not wait forever on a leak.
        let _ = time::timeout(Duration::from_secs(5), p).await;
    }
    let mut error = error.expect("accept_streams checked the error stream");
    let message = outcome_message(protocol, &result);
    if !message.is_empty() {
        error.write_all(&message).await.map_err(Error::Io)?;
    }
    error.shutdown().await.map_err(Error::Io)?;
    Ok(())
}

/// What the error stream carries for a command's outcome.
#[must_use]
pub fn outcome_message(protocol: Protocol, result: &Result<i32, ProviderError>) -> Vec<u8> {
    let text = match result {
        Ok(0) => None,
        Ok(code) => Some(format!(
            "command terminated with non-zero exit code: {code}"
        )),
        Err(e) => Some(e.to_string()),
    };
    if !protocol.status_errors() {
        return text.unwrap_or_default().into_bytes();
    }
    let status = match result {
        Ok(0) => serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        }),
        Ok(code) => serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": text,
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        Err(e) => serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": e.to_string(),
            "reason": "InternalError",
            "code": 500,
        }),
    };
    serde_json::to_vec(&status).unwrap_or_default()
}

async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(mut from: R, mut to: W) {
    let _ = tokio::io::copy(&mut from, &mut to).await;
    let _ = to.shutdown().await;
}

/// Read `{"Width":..,"Height":..}` objects (one per line, as client-go encodes them).
async fn read_resizes(mut r: StreamReader, tx: mpsc::Sender<TerminalSize>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some(end) = buf.iter().position(|b| *b == b'\n' || *b == b'}') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            if let Ok(size) = serde_json::from_slice::<TerminalSize>(line)
                && tx.send(size).await.is_err()
            {
                return;
            }
        }
        if buf.len() > 4096 {
            // Not resize messages: stop reading rather than buffer without bound.
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_order_should_win_negotiation() {
        let offered = [
            "v5.channel.k8s.io",
            "v4.channel.k8s.io",
            "v3.channel.k8s.io",
            "v2.channel.k8s.io",
            "channel.k8s.io",
        ];
        assert_eq!(Protocol::negotiate(offered), Some(Protocol::V5));
        assert_eq!(
            Protocol::negotiate(["v4.channel.k8s.io", "channel.k8s.io"]),
            Some(Protocol::V4)
        );
        assert_eq!(
            Protocol::negotiate(["v9.channel.k8s.io, v3.channel.k8s.io"]),
            Some(Protocol::V3)
        );
        assert_eq!(Protocol::negotiate(["portforward.k8s.io"]), None);
    }

    #[test]
    fn both_query_spellings_should_parse() {
        let o = StreamOptions::from_query(
            "command=echo&command=hello&command=big+world&error=1&output=1&input=1",
        );
        assert_eq!(o.command, ["echo", "hello", "big world"]);
        assert!(o.stdin && o.stdout && o.stderr && !o.tty);
        let o = StreamOptions::from_query("stdin=true&stdout=true&stderr=true&tty=1");
        assert!(o.stdin && o.stdout && o.tty);
        assert!(!o.stderr, "stderr is merged into stdout with a tty");
    }

    #[test]
    fn a_non_zero_exit_should_carry_the_exit_code_cause_from_v4() {
        let msg = outcome_message(Protocol::V4, &Ok(3));
        let v: serde_json::Value = serde_json::from_slice(&msg).unwrap();
        assert_eq!(v["status"], "Failure");
        assert_eq!(v["reason"], "NonZeroExitCode");
        assert_eq!(v["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(v["details"]["causes"][0]["message"], "3");
        let ok: serde_json::Value =
            serde_json::from_slice(&outcome_message(Protocol::V5, &Ok(0))).unwrap();
        assert_eq!(ok["status"], "Success");
        assert!(outcome_message(Protocol::V2, &Ok(0)).is_empty());
        assert_eq!(
            outcome_message(Protocol::V3, &Ok(2)),
            b"command terminated with non-zero exit code: 2"
        );
    }
}
