//! The shell's builtin programs that need no session state beyond what they are handed.
use std::collections::BTreeMap;

use tokio::time::{self, Duration};

use super::stdin::Stdin;
use super::syntax::assignment;

/// `echo [-n] ARGS`.
pub(super) fn echo(args: &[String], out: &mut Vec<u8>) -> i32 {
    let (newline, args) = match args.first().map(String::as_str) {
        Some("-n") => (false, &args[1..]),
        _ => (true, args),
    };
    out.extend_from_slice(args.join(" ").as_bytes());
    if newline {
        out.push(b'\n');
    }
    0
}

/// `printf FORMAT ARGS`.
pub(super) fn printf_command(args: &[String], out: &mut Vec<u8>) -> i32 {
    match args.split_first() {
        Some((format, rest)) => {
            out.extend_from_slice(printf(format, rest).as_bytes());
            0
        }
        None => {
            out.extend_from_slice(b"printf: usage: printf format [arguments]\n");
            2
        }
    }
}

/// `cat`: standard input, or `/etc/hostname`.
pub(super) async fn cat(
    args: &[String],
    hostname: &str,
    stdin: &mut dyn Stdin,
    out: &mut Vec<u8>,
) -> i32 {
    if args.is_empty() || args.iter().all(|a| a == "-") {
        out.extend_from_slice(&stdin.read_to_eof().await);
        return 0;
    }
    let mut status = 0;
    for file in args {
        if file == "/etc/hostname" {
            out.extend_from_slice(format!("{hostname}\n").as_bytes());
        } else {
            out.extend_from_slice(
                format!("cat: can't open '{file}': No such file or directory\n").as_bytes(),
            );
            status = 1;
        }
    }
    status
}

/// `env`/`printenv`: every variable.
pub(super) fn env(env: &BTreeMap<String, String>, out: &mut Vec<u8>) -> i32 {
    for (k, v) in env {
        out.extend_from_slice(format!("{k}={v}\n").as_bytes());
    }
    0
}

/// `export NAME=value...`.
pub(super) fn export(env: &mut BTreeMap<String, String>, args: &[String]) -> i32 {
    for arg in args {
        if let Some((k, v)) = assignment(arg) {
            env.insert(k, v);
        }
    }
    0
}

/// `sleep N` (at most a minute).
pub(super) async fn sleep(args: &[String]) -> i32 {
    let secs = args
        .first()
        .and_then(|a| a.parse::<f64>().ok())
        .unwrap_or(0.0);
    time::sleep(Duration::from_secs_f64(secs.clamp(0.0, 60.0))).await;
    0
}

/// POSIX `printf`: the format is reused while arguments remain.
fn printf(format: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    loop {
        let mut consumed = false;
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('\\') => out.push('\\'),
                    Some(other) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => out.push('\\'),
                },
                '%' => match chars.next() {
                    Some('%') => out.push('%'),
                    Some('s') => {
                        consumed = true;
                        out.push_str(args.next().map_or("", String::as_str));
                    }
                    Some('d' | 'i') => {
                        consumed = true;
                        let n = args
                            .next()
                            .and_then(|a| a.trim().parse::<i64>().ok())
                            .unwrap_or(0);
                        out.push_str(&n.to_string());
                    }
                    Some(other) => {
                        out.push('%');
                        out.push(other);
                    }
                    None => out.push('%'),
                },
                other => out.push(other),
            }
        }
        if !consumed || args.len() == 0 {
            return out;
        }
    }
}
