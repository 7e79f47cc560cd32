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
use std::future::Future;
use std::pin::Pin;

use tokio::time::{self, Duration};

/// Where `cat` reads its standard input from (the exec session).
pub trait Stdin: Send {
    /// Bytes typed until end of input (Ctrl-D at the start of a line, or the connection
    /// closing).
    fn read_to_eof(&mut self) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send + '_>>;
}

/// A stdin that is already at its end.
#[derive(Debug, Default)]
pub struct NoStdin;

impl Stdin for NoStdin {
    fn read_to_eof(&mut self) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send + '_>> {
        Box::pin(async { Vec::new() })
    }
}

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

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Semi,
    And,
    Or,
}

/// A parsed command: words plus whether stdout is discarded.
struct Command {
    words: Vec<String>,
    discard_stdout: bool,
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
            "echo" => {
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
            "printf" => match args.split_first() {
                Some((format, rest)) => {
                    out.extend_from_slice(printf(format, rest).as_bytes());
                    0
                }
                None => {
                    out.extend_from_slice(b"printf: usage: printf format [arguments]\n");
                    2
                }
            },
            "cat" => {
                if args.is_empty() || args.iter().all(|a| a == "-") {
                    out.extend_from_slice(&stdin.read_to_eof().await);
                    0
                } else {
                    let mut status = 0;
                    for file in args {
                        if file == "/etc/hostname" {
                            out.extend_from_slice(format!("{}\n", self.hostname).as_bytes());
                        } else {
                            out.extend_from_slice(
                                format!("cat: can't open '{file}': No such file or directory\n")
                                    .as_bytes(),
                            );
                            status = 1;
                        }
                    }
                    status
                }
            }
            "env" | "printenv" => {
                for (k, v) in &self.env {
                    out.extend_from_slice(format!("{k}={v}\n").as_bytes());
                }
                0
            }
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
            "export" => {
                for arg in args {
                    if let Some((k, v)) = assignment(arg) {
                        self.env.insert(k, v);
                    }
                }
                0
            }
            "hostname" => {
                out.extend_from_slice(format!("{}\n", self.hostname).as_bytes());
                0
            }
            "pwd" => {
                out.extend_from_slice(b"/\n");
                0
            }
            "sleep" => {
                let secs = args
                    .first()
                    .and_then(|a| a.parse::<f64>().ok())
                    .unwrap_or(0.0);
                time::sleep(Duration::from_secs_f64(secs.clamp(0.0, 60.0))).await;
                0
            }
            "sh" | "bash" | "ash" | "dash" => {
                if args.first().map(String::as_str) == Some("-c") {
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
                } else {
                    0
                }
            }
            _ => {
                out.extend_from_slice(format!("sh: {program}: not found\n").as_bytes());
                127
            }
        };
        self.last_status = status;
        None
    }
}

fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name.to_owned(), value.to_owned()))
}

fn parse_redirects(words: Vec<String>) -> Command {
    let mut command = Command {
        words: Vec::new(),
        discard_stdout: false,
    };
    let mut iter = words.into_iter();
    while let Some(word) = iter.next() {
        let target = match word.as_str() {
            ">" | "1>" => iter.next(),
            "2>" => {
                iter.next();
                continue;
            }
            "2>&1" => continue,
            w if w.starts_with("2>") => continue,
            w if w.starts_with("1>") => Some(w[2..].to_owned()),
            w if w.starts_with('>') => Some(w[1..].to_owned()),
            _ => {
                command.words.push(word);
                continue;
            }
        };
        if target.as_deref() == Some("/dev/null") {
            command.discard_stdout = true;
        }
    }
    command
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

/// The words of a simple command line, quotes removed, no expansion of variables; used
/// to read container commands.
#[must_use]
pub fn words(line: &str) -> Vec<String> {
    tokenize(line, &BTreeMap::new(), 0)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(w),
            _ => None,
        })
        .collect()
}

/// Split a line at unquoted `;`, `&&` and `||` into raw commands, each with the operator
/// that joins it to the previous one.
fn split_commands(line: &str) -> Result<Vec<(Token, String)>, String> {
    let mut commands = Vec::new();
    let mut op = Token::Semi;
    let mut current = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                current.push(c);
                loop {
                    match chars.next() {
                        Some('\'') => break current.push('\''),
                        Some(c) => current.push(c),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '"' => {
                current.push(c);
                loop {
                    match chars.next() {
                        Some('"') => break current.push('"'),
                        Some('\\') => {
                            current.push('\\');
                            if let Some(n) = chars.next() {
                                current.push(n);
                            }
                        }
                        Some(c) => current.push(c),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '\\' => {
                current.push(c);
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            ';' | '&' | '|' => {
                let next = match (c, chars.peek()) {
                    (';', _) => Token::Semi,
                    ('&', Some('&')) => {
                        chars.next();
                        Token::And
                    }
                    ('|', Some('|')) => {
                        chars.next();
                        Token::Or
                    }
                    ('&', _) if current.ends_with('>') => {
                        // `2>&1`
                        current.push('&');
                        continue;
                    }
                    ('&', _) => return Err("background jobs are not supported".into()),
                    _ => return Err("pipes are not supported".into()),
                };
                commands.push((
                    std::mem::replace(&mut op, next),
                    std::mem::take(&mut current),
                ));
            }
            '#' if current.is_empty() || current.ends_with(char::is_whitespace) => break,
            other => current.push(other),
        }
    }
    commands.push((op, current));
    Ok(commands)
}

/// Split a line into words and operators, expanding variables and removing quotes.
fn tokenize(
    line: &str,
    env: &BTreeMap<String, String>,
    last_status: i32,
) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let expand =
        |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String| match chars
            .peek()
            .copied()
        {
            Some('?') => {
                chars.next();
                out.push_str(&last_status.to_string());
            }
            Some('{') => {
                chars.next();
                let mut name = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    name.push(c);
                }
                out.push_str(env.get(&name).map_or("", String::as_str));
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push_str(env.get(&name).map_or("", String::as_str));
            }
            _ => out.push('$'),
        };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    tokens.push(Token::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
            }
            ';' | '&' | '|' => {
                if in_word {
                    tokens.push(Token::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
                match (c, chars.peek()) {
                    (';', _) => tokens.push(Token::Semi),
                    ('&', Some('&')) => {
                        chars.next();
                        tokens.push(Token::And);
                    }
                    ('|', Some('|')) => {
                        chars.next();
                        tokens.push(Token::Or);
                    }
                    ('&', _) => return Err("background jobs are not supported".into()),
                    _ => return Err("pipes are not supported".into()),
                }
            }
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated quoted string".into()),
                        },
                        Some('$') => expand(&mut chars, &mut word),
                        Some(c) => word.push(c),
                        None => return Err("unterminated quoted string".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            '$' => {
                in_word = true;
                expand(&mut chars, &mut word);
            }
            '>' if in_word && (word == "1" || word == "2") => {
                // `2>` / `2>&1` / `1>`: keep the fd with the operator.
                word.push('>');
                if chars.peek() == Some(&'&') {
                    chars.next();
                    word.push('&');
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        tokens.push(Token::Word(word));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(shell: &mut Shell, line: &str) -> String {
        let mut out = Vec::new();
        shell.run_line(line, &mut NoStdin, &mut out).await;
        String::from_utf8(out).unwrap()
    }

    fn shell() -> Shell {
        Shell::new(
            [("GREETING".to_owned(), "hello world".to_owned())].into(),
            "demo1",
        )
    }

    #[tokio::test]
    async fn echo_and_printf_should_print_their_arguments() {
        let mut sh = shell();
        assert_eq!(
            run(&mut sh, "echo a  'b  c' \"$GREETING\"").await,
            "a b  c hello world\n"
        );
        assert_eq!(
            run(&mut sh, "printf '%s-%d\\n' x 7 y 8").await,
            "x-7\ny-8\n"
        );
        assert_eq!(run(&mut sh, "echo -n x; echo y").await, "xy\n");
    }

    #[tokio::test]
    async fn status_should_flow_through_and_or_and_dollar_question() {
        let mut sh = shell();
        assert_eq!(run(&mut sh, "false && echo no; echo $?").await, "1\n");
        assert_eq!(run(&mut sh, "false || echo yes").await, "yes\n");
        assert_eq!(
            run(&mut sh, "'sh' '-c' 'exit 3'; printf '%s\\n' \"$?\"").await,
            "3\n"
        );
        assert_eq!(sh.exited, None, "exit inside sh -c ends only the subshell");
    }

    #[tokio::test]
    async fn unknown_programs_should_answer_127() {
        let mut sh = shell();
        assert_eq!(
            run(&mut sh, "ls /; echo $?").await,
            "sh: ls: not found\n127\n"
        );
    }

    #[tokio::test]
    async fn stty_and_exit_should_change_the_session() {
        let mut sh = shell();
        run(&mut sh, "stty -echo").await;
        assert!(!sh.echo);
        run(&mut sh, "exit 4").await;
        assert_eq!(sh.exited, Some(4));
    }

    #[tokio::test]
    async fn env_should_list_variables_and_assignments() {
        let mut sh = shell();
        run(&mut sh, "FOO=bar").await;
        assert_eq!(run(&mut sh, "env").await, "FOO=bar\nGREETING=hello world\n");
    }

    #[tokio::test]
    async fn quoting_should_keep_special_characters() {
        let mut sh = shell();
        assert_eq!(
            run(&mut sh, r#"echo 'it'\''s' "a;b" \$HOME"#).await,
            "it's a;b $HOME\n"
        );
        assert_eq!(
            run(&mut sh, "echo hi >/dev/null; echo shown 2>&1").await,
            "shown\n"
        );
    }

    #[tokio::test]
    async fn syntax_errors_should_not_panic() {
        let mut sh = shell();
        assert!(run(&mut sh, "echo 'open").await.contains("syntax error"));
        assert!(run(&mut sh, "a | b").await.contains("syntax error"));
    }
}
