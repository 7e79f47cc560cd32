//! The emulator's `/bin/sh`: a small POSIX-like interpreter, enough for what the provider's
//! exec driver sends and for people typing simple commands.
//!
//! Supported: `;`, `&&`, `||`; single quotes, double quotes and backslash escapes; `$?`,
//! `$NAME`, `${NAME}`; `NAME=value` assignments; `>/dev/null`, `2>/dev/null`, `2>&1`;
//! builtins `echo [-n]`, `printf` (`%s %d %%`, `\n \t \\`), `cat` (stdin up to Ctrl-D, or
//! `/etc/hostname`), `env`, `stty [-]echo`, `exit [N]`, `true`, `false`, `:`, `export`,
//! `hostname`, `pwd`, `sleep N`, and `sh`/`bash -c SCRIPT` (a subshell). Anything else
//! answers `sh: NAME: not found` with status 127, like a shell without that program.
use std::collections::BTreeMap;

mod builtins;
mod stdin;
mod syntax;

pub use stdin::{NoStdin, Stdin};
pub use syntax::words;
use syntax::{Token, assignment, parse_redirects, split_commands, tokenize};

/// A shell session's state.
#[derive(Clone, Debug)]
pub struct Shell {
    /// Variables (the container's environment plus assignments).
    pub env: BTreeMap<String, String>,
    /// Whether the terminal echoes input (`stty -echo` turns it off).
    pub echo: bool,
    /// `$?`.
    pub last_status: i32,
    /// Set once `exit` ran: the shell's exit status.
    pub exited: Option<i32>,
    hostname: String,
}

// === impl Shell ===

impl Shell {
    /// A shell with `env` as its environment, echo on.
    #[must_use]
    pub fn new(env: BTreeMap<String, String>, hostname: impl Into<String>) -> Self {
        Self {
            env,
            echo: true,
            last_status: 0,
            exited: None,
            hostname: hostname.into(),
        }
    }

    /// Run one input line; output goes to `out` (with `\n` line ends; the TTY layer adds
    /// `\r`). Each command's words are expanded just before it runs, so `$?` sees the
    /// status of the command before it.
    pub async fn run_line(&mut self, line: &str, stdin: &mut dyn Stdin, out: &mut Vec<u8>) {
        let commands = match split_commands(line) {
            Ok(commands) => commands,
            Err(message) => {
                out.extend_from_slice(format!("sh: syntax error: {message}\n").as_bytes());
                self.last_status = 2;
                return;
            }
        };
        for (op, raw) in commands {
            let words = match tokenize(&raw, &self.env, self.last_status) {
                Ok(tokens) => tokens
                    .into_iter()
                    .filter_map(|t| match t {
                        Token::Word(w) => Some(w),
                        _ => None,
                    })
                    .collect(),
                Err(message) => {
                    out.extend_from_slice(format!("sh: syntax error: {message}\n").as_bytes());
                    self.last_status = 2;
                    return;
                }
            };
            if let Some(code) = self.run_joined(&op, words, stdin, out).await {
                self.exited = Some(code);
                return;
            }
        }
    }

    async fn run_joined(
        &mut self,
        op: &Token,
        words: Vec<String>,
        stdin: &mut dyn Stdin,
        out: &mut Vec<u8>,
    ) -> Option<i32> {
        if words.is_empty() {
            return None;
        }
        let run = match op {
            Token::And => self.last_status == 0,
            Token::Or => self.last_status != 0,
            _ => true,
        };
        if !run {
            return None;
        }
        let command = parse_redirects(words);
        let mut buffer = Vec::new();
        let exit = self.run_command(command.words, stdin, &mut buffer).await;
        if !command.discard_stdout {
            out.extend_from_slice(&buffer);
        }
        exit
    }

    async fn run_command(
        &mut self,
        mut words: Vec<String>,
        stdin: &mut dyn Stdin,
        out: &mut Vec<u8>,
    ) -> Option<i32> {
        // Leading assignments.
        while let Some((name, value)) = words.first().and_then(|w| assignment(w)) {
            self.env.insert(name, value);
            words.remove(0);
        }
        let Some(program) = words.first().cloned() else {
            self.last_status = 0;
            return None;
        };
        let args = &words[1..];
        let name = program.rsplit('/').next().unwrap_or(&program).to_owned();
        let status = match name.as_str() {
            "echo" => builtins::echo(args, out),
            "printf" => builtins::printf_command(args, out),
            "cat" => builtins::cat(args, &self.hostname, stdin, out).await,
            "env" | "printenv" => builtins::env(&self.env, out),
            "stty" => {
                for arg in args {
                    match arg.as_str() {
                        "-echo" => self.echo = false,
                        "echo" => self.echo = true,
                        _ => {}
                    }
                }
                0
            }
            "exit" => {
                let code = args
                    .first()
                    .map_or(Some(self.last_status), |a| a.parse::<i32>().ok())
                    .unwrap_or(2)
                    & 0xff;
                self.last_status = code;
                return Some(code);
            }
            "true" | ":" => 0,
            "false" => 1,
            "export" => builtins::export(&mut self.env, args),
            "hostname" => {
                out.extend_from_slice(format!("{}\n", self.hostname).as_bytes());
                0
            }
            "pwd" => {
                out.extend_from_slice(b"/\n");
                0
            }
            "sleep" => builtins::sleep(args).await,
            "sh" | "bash" | "ash" | "dash" => self.subshell(args, stdin, out).await,
            _ => {
                out.extend_from_slice(format!("sh: {program}: not found\n").as_bytes());
                127
            }
        };
        self.last_status = status;
        None
    }

    /// `sh -c SCRIPT`: the script's lines in a copy of this session.
    async fn subshell(&self, args: &[String], stdin: &mut dyn Stdin, out: &mut Vec<u8>) -> i32 {
        if args.first().map(String::as_str) != Some("-c") {
            return 0;
        }
        let script = args.get(1).cloned().unwrap_or_default();
        let mut sub = self.clone();
        sub.exited = None;
        let mut status = 0;
        for line in script.lines() {
            Box::pin(sub.run_line(line, stdin, out)).await;
            status = sub.last_status;
            if let Some(code) = sub.exited {
                status = code;
                break;
            }
        }
        status
    }
}

#[cfg(test)]
mod tests;
