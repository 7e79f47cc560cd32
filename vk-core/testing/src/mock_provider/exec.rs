//! The MockProvider's tiny command set for exec: `echo`, `cat`, `env`, `exit N`, `true`,
//! `false`, `sleep N`, `hostname` and `sh -c '<one of those>'`; anything else exits 127.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Duration;

use vk_core::provider::{BoxWrite, ExecIo};

/// Split a `sh -c` string into words (single and double quotes, no expansion).
pub(super) fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

async fn write(w: &mut Option<BoxWrite>, data: &[u8]) {
    if let Some(w) = w.as_mut() {
        let _ = w.write_all(data).await;
        let _ = w.flush().await;
    }
}

/// What exec needs to know about the container.
pub(super) struct Context {
    /// Environment of the container, in spec order.
    pub env: Vec<(String, String)>,
    /// The pod name (HOSTNAME).
    pub hostname: String,
}

/// Run `command` with `io` and return the exit code.
pub(super) async fn run(command: &[String], mut io: ExecIo, ctx: &Context) -> i32 {
    let mut argv: Vec<String> = command.to_vec();
    if argv.len() >= 3 && (argv[0] == "sh" || argv[0] == "/bin/sh") && argv[1] == "-c" {
        argv = words(&argv[2]);
    }
    // With a TTY there is no stderr: errors go to stdout.
    let code = match argv.first().map(String::as_str) {
        None => 0,
        Some("echo") => {
            let mut line = argv[1..].join(" ");
            line.push('\n');
            write(&mut io.stdout, line.as_bytes()).await;
            0
        }
        Some("cat") => {
            if let Some(mut input) = io.stdin.take() {
                let mut buf = vec![0u8; 8192];
                loop {
                    match input.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => write(&mut io.stdout, &buf[..n]).await,
                    }
                }
            }
            0
        }
        Some("env") => {
            let mut out = format!("HOSTNAME={}\n", ctx.hostname);
            for (k, v) in &ctx.env {
                out.push_str(&format!("{k}={v}\n"));
            }
            write(&mut io.stdout, out.as_bytes()).await;
            0
        }
        Some("hostname") => {
            write(&mut io.stdout, format!("{}\n", ctx.hostname).as_bytes()).await;
            0
        }
        Some("true") => 0,
        Some("false") => 1,
        Some("sleep") => {
            let secs: f64 = argv.get(1).and_then(|s| s.parse().ok()).unwrap_or(0.0);
            tokio::time::sleep(Duration::from_secs_f64(secs.clamp(0.0, 3600.0))).await;
            0
        }
        Some("exit") => argv.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
        Some(other) => {
            let msg = format!("sh: {other}: not found\n");
            if io.stderr.is_some() {
                write(&mut io.stderr, msg.as_bytes()).await;
            } else {
                write(&mut io.stdout, msg.as_bytes()).await;
            }
            127
        }
    };
    for w in [io.stdout.as_mut(), io.stderr.as_mut()]
        .into_iter()
        .flatten()
    {
        let _ = w.shutdown().await;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_c_strings_split_into_words_with_quotes() {
        assert_eq!(
            words("echo 'big world' \"a b\" c"),
            ["echo", "big world", "a b", "c"]
        );
        assert_eq!(words("exit 3"), ["exit", "3"]);
        assert_eq!(words("echo ''"), ["echo", ""]);
    }
}
