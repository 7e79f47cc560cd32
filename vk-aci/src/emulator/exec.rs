//! The exec WebSocket as ACI documents it: the client sends the password as the first TEXT
//! frame, then stdin as frames; every server frame is terminal output; there is no exit
//! code. The command is one executable without arguments: a shell (`/bin/sh`, `sh`,
//! `bash`) gets an interactive TTY that echoes input until `stty -echo`; any other single
//! word runs once through the shell's builtins; a command with spaces fails like ACI's
//! runtime does.
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{self, Duration};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

use super::shell::{Shell, Stdin};
use super::store::Shared;

type Ws = WebSocketStream<TcpStream>;

/// Accept exec WebSockets until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(session(stream, shared.clone()));
    }
}

async fn session(stream: TcpStream, shared: Arc<Shared>) {
    let path = Arc::new(Mutex::new(String::new()));
    let seen = path.clone();
    // tungstenite's handshake callback fixes the (large) error type.
    #[allow(clippy::result_large_err)]
    let callback = move |request: &Request, response: Response| {
        *seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = request.uri().path().to_owned();
        Ok(response)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let id = path
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .trim_start_matches("/exec/")
        .to_owned();
    let (mut sink, mut stream) = ws.split();
    // The password must come first, as TEXT.
    let first = time::timeout(Duration::from_secs(30), stream.next()).await;
    let password = match first {
        Ok(Some(Ok(Message::Text(text)))) => text.to_string(),
        _ => {
            let _ = sink.send(Message::Close(None)).await;
            return;
        }
    };
    let ticket = shared.lock().exec.remove(&id);
    let Some(ticket) = ticket.filter(|t| t.password == password) else {
        let _ = sink.send(Message::Close(None)).await;
        return;
    };
    let mut tty = Tty {
        sink,
        stream,
        pending: VecDeque::new(),
        closed: false,
    };
    let command = ticket.command.trim().to_owned();
    let target = ticket.target.clone();
    let mut shell = Shell::new(ticket.env, ticket.hostname);
    let program = command.rsplit('/').next().unwrap_or(&command).to_owned();
    if command.contains(char::is_whitespace) || command.is_empty() {
        tty.write(format!(
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{command}\": executable file not found in $PATH: unknown\r\n"
        ).as_bytes())
        .await;
    } else if matches!(program.as_str(), "sh" | "bash" | "ash" | "dash") {
        interactive(&mut shell, &mut tty, &shared, &target).await;
    } else {
        shared.lock().note(format!("exec {target}: {command}"));
        let mut out = Vec::new();
        shell.run_line(&command, &mut tty, &mut out).await;
        if shell.last_status == 127 {
            out = format!(
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{command}\": executable file not found in $PATH: unknown\n"
            )
            .into_bytes();
        }
        tty.write(&crlf(&out)).await;
    }
    let _ = tty.sink.send(Message::Close(None)).await;
}

/// `\n` -> `\r\n`, as a TTY's output processing does.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 8);
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

async fn interactive(shell: &mut Shell, tty: &mut Tty, shared: &Shared, target: &str) {
    const PROMPT: &[u8] = b"# ";
    tty.write(PROMPT).await;
    let mut line = Vec::new();
    let mut last_cr = false;
    while let Some(byte) = tty.next_byte().await {
        let mut echo = Vec::new();
        match byte {
            b'\n' if last_cr => {}
            b'\r' | b'\n' => {
                if shell.echo {
                    echo.extend_from_slice(b"\r\n");
                }
                tty.write(&echo).await;
                let text = String::from_utf8_lossy(&line).into_owned();
                line.clear();
                shared.lock().note(format!("exec {target}: {text}"));
                let mut out = Vec::new();
                shell.run_line(&text, tty, &mut out).await;
                tty.write(&crlf(&out)).await;
                if shell.exited.is_some() {
                    return;
                }
                tty.write(PROMPT).await;
                last_cr = byte == b'\r';
                continue;
            }
            0x04 if line.is_empty() => return,
            0x03 => {
                line.clear();
                tty.write(b"^C\r\n# ").await;
            }
            0x7f | 0x08 => {
                if line.pop().is_some() && shell.echo {
                    tty.write(b"\x08 \x08").await;
                }
            }
            other => {
                line.push(other);
                if shell.echo {
                    tty.write(&[other]).await;
                }
            }
        }
        last_cr = false;
    }
}

/// The terminal: input bytes from frames, output as BINARY frames.
struct Tty {
    sink: SplitSink<Ws, Message>,
    stream: SplitStream<Ws>,
    pending: VecDeque<u8>,
    closed: bool,
}

impl Tty {
    async fn write(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            let _ = self.sink.send(Message::binary(bytes.to_vec())).await;
        }
    }

    async fn next_byte(&mut self) -> Option<u8> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Some(b);
            }
            if self.closed {
                return None;
            }
            match self.stream.next().await {
                Some(Ok(Message::Binary(data))) => self.pending.extend(data.iter()),
                Some(Ok(Message::Text(text))) => self.pending.extend(text.as_bytes()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => self.closed = true,
                Some(Ok(_)) => {}
            }
        }
    }
}

impl Stdin for Tty {
    fn read_to_eof(&mut self) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send + '_>> {
        Box::pin(async move {
            let mut data = Vec::new();
            while let Some(b) = self.next_byte().await {
                match b {
                    0x04 => break,
                    b'\r' => data.push(b'\n'),
                    other => data.push(other),
                }
            }
            data
        })
    }
}
