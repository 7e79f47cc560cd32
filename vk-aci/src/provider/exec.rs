//! `kubectl exec` over ACI's exec API.
//!
//! ACI runs one executable without arguments on one TTY and reports no exit status. So:
//! a one-word command goes straight through (exit status 0 when the session ends). Any
//! other argv starts the container's shell (`/bin/sh`, or the pod's
//! [`EXEC_SHELL_ANNOTATION`]) and types one line into it: `stty -echo` (unless a TTY was
//! asked for), a start marker, the argv quoted for POSIX `sh`, and an end marker carrying
//! `$?`. The driver drops everything before the start marker (prompt, echo), streams what
//! follows, and returns the status from the end marker, so `kubectl exec pod -- sh -c
//! 'exit 3'` exits 3.
//!
//! Limits, stated plainly: stderr arrives merged into stdout (ACI has one TTY stream); an
//! image without a shell can only run one-word commands; the marker is printed by `printf`,
//! so the shell needs that builtin (every POSIX shell has it).
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{self, Duration};
use tokio_tungstenite::tungstenite::Message;
use vk_core::provider::{BoxWrite, ExecIo, ProviderError, Result, TerminalSize};

use crate::arm::ExecSession;

/// Pod annotation naming the shell used to run multi-word exec commands.
pub const EXEC_SHELL_ANNOTATION: &str = "vk-aci.io/exec-shell";

/// The shell used when the pod does not name one.
pub const DEFAULT_SHELL: &str = "/bin/sh";

/// Terminal size when the client sends none (the kubelet's default for a TTY).
pub const DEFAULT_SIZE: TerminalSize = TerminalSize {
    width: 80,
    height: 24,
};

/// Largest output held back while looking for the start marker.
const MAX_PREAMBLE: usize = 64 * 1024;

/// Quote a word for POSIX `sh`: single quotes, with `'` written as `'\''`.
#[must_use]
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The line typed into the shell for `argv`, with markers made from `id`.
///
/// The markers are printed by `printf` from two arguments, so the echoed command line
/// never contains them.
#[must_use]
pub fn command_line(argv: &[String], id: &str, tty: bool) -> String {
    let command = argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
    let stty = if tty { "" } else { "stty -echo; " };
    format!(
        "{stty}printf '%s%s\\n' VKS_ {id}; {command}; printf '\\n%s%s:%s\\n' VKE_ {id} \"$?\"\n"
    )
}

/// What the output parser found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Still looking for the start marker.
    Preamble,
    /// Between the markers.
    Streaming,
    /// The end marker with the command's exit status.
    Done(i32),
}

/// Splits the shell's output into the command's output and the markers.
#[derive(Debug)]
pub struct OutputParser {
    start: Vec<u8>,
    end: Vec<u8>,
    buffer: Vec<u8>,
    state: Parsed,
    crlf: bool,
}

// === impl OutputParser ===

impl OutputParser {
    /// A parser for markers made from `id`; `tty` keeps `\r\n` as the terminal wrote it.
    #[must_use]
    pub fn new(id: &str, tty: bool) -> Self {
        Self {
            start: format!("VKS_{id}").into_bytes(),
            end: format!("VKE_{id}:").into_bytes(),
            buffer: Vec::new(),
            state: Parsed::Preamble,
            crlf: !tty,
        }
    }

    /// The state after the input seen so far.
    #[must_use]
    pub fn state(&self) -> &Parsed {
        &self.state
    }

    /// Feed terminal output; returns the bytes that belong to the command's output.
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        self.buffer.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            match self.state {
                Parsed::Preamble => {
                    let Some(at) = find(&self.buffer, &self.start) else {
                        if self.buffer.len() > MAX_PREAMBLE {
                            let drop = self.buffer.len() - self.start.len();
                            self.buffer.drain(..drop);
                        }
                        return out;
                    };
                    // The marker line ends with a newline (`\r\n` on a TTY).
                    let rest = at + self.start.len();
                    let Some(nl) = self.buffer[rest..].iter().position(|&b| b == b'\n') else {
                        return out;
                    };
                    self.buffer.drain(..rest + nl + 1);
                    self.state = Parsed::Streaming;
                }
                Parsed::Streaming => {
                    if let Some(at) = find(&self.buffer, &self.end) {
                        let rest = at + self.end.len();
                        let Some(nl) = self.buffer[rest..].iter().position(|&b| b == b'\n') else {
                            return out;
                        };
                        let status = String::from_utf8_lossy(&self.buffer[rest..rest + nl])
                            .trim()
                            .parse::<i32>()
                            .unwrap_or(1);
                        // The end marker starts on a fresh line: drop that newline too.
                        let mut body = self.buffer[..at].to_vec();
                        if body.ends_with(b"\r\n") {
                            body.truncate(body.len() - 2);
                        } else if body.ends_with(b"\n") {
                            body.truncate(body.len() - 1);
                        }
                        out.extend(self.clean(&body));
                        self.buffer.clear();
                        self.state = Parsed::Done(status);
                        return out;
                    }
                    // Keep back what could be the start of the end marker plus its newline.
                    let keep = self.end.len() + 2;
                    if self.buffer.len() > keep {
                        let emit: Vec<u8> = self.buffer.drain(..self.buffer.len() - keep).collect();
                        out.extend(self.clean(&emit));
                    }
                    return out;
                }
                Parsed::Done(_) => return out,
            }
        }
    }

    fn clean(&self, bytes: &[u8]) -> Vec<u8> {
        if !self.crlf {
            return bytes.to_vec();
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut iter = bytes.iter().peekable();
        while let Some(&b) = iter.next() {
            if b == b'\r' && iter.peek() == Some(&&b'\n') {
                continue;
            }
            out.push(b);
        }
        out
    }
}

/// `\r\n` -> `\n` (a TTY's output, read without a TTY).
fn crlf_to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if !(b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A random marker id.
#[must_use]
pub fn marker_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The first terminal size the client sends, waiting briefly for it.
pub async fn initial_size(io: &mut ExecIo) -> TerminalSize {
    match io.resize.as_mut() {
        Some(rx) => time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_SIZE),
        None => DEFAULT_SIZE,
    }
}

fn ws_error(message: impl Into<String>) -> ProviderError {
    ProviderError::transient("ExecUnavailable", message)
}

async fn write_out(stdout: &mut Option<BoxWrite>, bytes: &[u8]) {
    if let Some(out) = stdout.as_mut()
        && !bytes.is_empty()
    {
        let _ = out.write_all(bytes).await;
        let _ = out.flush().await;
    }
}

/// Run an exec session. `script` is `Some((argv, id))` for the shell driver, `None` to pass
/// a one-word command straight through.
///
/// # Errors
/// The WebSocket failed, or the shell did not start or ended before the end marker.
pub async fn run(
    session: ExecSession,
    mut io: ExecIo,
    script: Option<(&[String], String)>,
    shell: &str,
) -> Result<i32> {
    let connect = tokio_tungstenite::connect_async(session.web_socket_uri.as_str());
    let (ws, _) = time::timeout(Duration::from_secs(30), connect)
        .await
        .map_err(|_| ws_error("timed out connecting to ACI's exec WebSocket"))?
        .map_err(|e| ws_error(format!("cannot connect to ACI's exec WebSocket: {e}")))?;
    let (mut sink, mut stream) = ws.split();
    sink.send(Message::text(session.password.secret()))
        .await
        .map_err(|e| ws_error(format!("exec WebSocket closed: {e}")))?;

    let tty = io.tty;
    let mut parser = match &script {
        Some((argv, id)) => {
            sink.send(Message::binary(command_line(argv, id, tty).into_bytes()))
                .await
                .map_err(|e| ws_error(format!("exec WebSocket closed: {e}")))?;
            Some(OutputParser::new(id, tty))
        }
        None => None,
    };
    let mut stdout = io.stdout.take();
    let mut stdin = io.stdin.take();
    let mut buf = vec![0u8; 16 * 1024];
    let mut preamble = Vec::new();
    loop {
        tokio::select! {
            read = async { match stdin.as_mut() { Some(s) => s.read(&mut buf).await, None => std::future::pending().await } } => {
                match read {
                    Ok(0) | Err(_) => {
                        stdin = None;
                        // End of input: Ctrl-D, as a terminal would send it.
                        let _ = sink.send(Message::binary(vec![0x04])).await;
                    }
                    Ok(n) => {
                        let _ = sink.send(Message::binary(buf[..n].to_vec())).await;
                    }
                }
            }
            frame = stream.next() => {
                let data = match frame {
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                };
                match parser.as_mut() {
                    None if tty => write_out(&mut stdout, &data).await,
                    None => write_out(&mut stdout, &crlf_to_lf(&data)).await,
                    Some(p) => {
                        if *p.state() == Parsed::Preamble && preamble.len() < 4096 {
                            preamble.extend_from_slice(&data);
                        }
                        let out = p.push(&data);
                        write_out(&mut stdout, &out).await;
                        if let Parsed::Done(status) = *p.state() {
                            let _ = sink.send(Message::binary(b"exit\n".to_vec())).await;
                            let _ = sink.close().await;
                            return Ok(status);
                        }
                    }
                }
            }
        }
    }
    match parser.map(|p| p.state().clone()) {
        None => Ok(0),
        Some(Parsed::Preamble) => {
            let said = String::from_utf8_lossy(&preamble);
            let said = said.trim();
            Err(ProviderError::unsupported(format!(
                "ACI could not start the shell {shell:?} that runs commands with arguments \
                 (the image may have no shell; set the pod annotation {EXEC_SHELL_ANNOTATION} \
                 to one it has, or exec a single executable without arguments){}",
                if said.is_empty() {
                    String::new()
                } else {
                    format!("; ACI said: {said}")
                }
            )))
        }
        Some(Parsed::Streaming) => Err(ProviderError::Other(
            "the exec session ended before the command reported its exit status".into(),
        )),
        Some(Parsed::Done(status)) => Ok(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_should_survive_any_word() {
        assert_eq!(quote("ls"), "ls");
        assert_eq!(quote("exit 3"), "'exit 3'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME;rm"), "'$HOME;rm'");
    }

    #[test]
    fn the_command_line_should_not_contain_the_markers_literally() {
        let line = command_line(&["sh".into(), "-c".into(), "exit 3".into()], "abc", false);
        assert!(line.starts_with("stty -echo; "));
        assert!(line.contains("sh -c 'exit 3';"));
        assert!(!line.contains("VKS_abc") && !line.contains("VKE_abc"));
        assert!(line.ends_with('\n'));
    }

    #[test]
    fn the_parser_should_strip_noise_and_return_the_status() {
        let mut p = OutputParser::new("abc", false);
        let mut out = p.push(b"# stty -echo; printf '%s%s\\n' VKS_ abc; ...\r\nVKS_ab");
        out.extend(p.push(b"c\r\nhello\r\nwor"));
        out.extend(p.push(b"ld\r\n\r\nVKE_abc:3\r\n# "));
        assert_eq!(String::from_utf8(out).unwrap(), "hello\nworld\n");
        assert_eq!(*p.state(), Parsed::Done(3));
    }

    #[test]
    fn output_without_a_final_newline_should_stay_intact() {
        let mut p = OutputParser::new("x", false);
        let out = p.push(b"VKS_x\r\nno newline\r\nVKE_x:0\r\n");
        assert_eq!(String::from_utf8(out).unwrap(), "no newline");
        assert_eq!(*p.state(), Parsed::Done(0));
    }

    #[test]
    fn a_marker_split_across_frames_should_be_found() {
        let mut p = OutputParser::new("id", true);
        let mut out = Vec::new();
        for b in b"junk VKS_id\r\nout\r\n\r\nVKE_id:42\r\n" {
            out.extend(p.push(&[*b]));
        }
        assert_eq!(String::from_utf8(out).unwrap(), "out\r\n");
        assert_eq!(*p.state(), Parsed::Done(42));
    }
}
