//! The shell's syntax: words, quotes, `$` expansions, `;`/`&&`/`||` and redirects.
use std::collections::BTreeMap;
use std::iter::Peekable;
use std::str::Chars;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Token {
    Word(String),
    Semi,
    And,
    Or,
}

/// A parsed command: words plus whether stdout is discarded.
pub(super) struct Command {
    pub words: Vec<String>,
    pub discard_stdout: bool,
}

pub(super) fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name.to_owned(), value.to_owned()))
}

pub(super) fn parse_redirects(words: Vec<String>) -> Command {
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
pub(super) fn split_commands(line: &str) -> Result<Vec<(Token, String)>, String> {
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
pub(super) fn tokenize(
    line: &str,
    env: &BTreeMap<String, String>,
    last_status: i32,
) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
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
                double_quoted(&mut chars, &mut word, env, last_status)?;
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            '$' => {
                in_word = true;
                expand(&mut chars, &mut word, env, last_status);
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

/// The rest of a double-quoted string (after its opening `"`): backslash escapes `"`, `\`,
/// `$` and `` ` ``, and `$` expands.
fn double_quoted(
    chars: &mut Peekable<Chars<'_>>,
    word: &mut String,
    env: &BTreeMap<String, String>,
    last_status: i32,
) -> Result<(), String> {
    loop {
        match chars.next() {
            Some('"') => return Ok(()),
            Some('\\') => match chars.next() {
                Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                Some(c) => {
                    word.push('\\');
                    word.push(c);
                }
                None => return Err("unterminated quoted string".into()),
            },
            Some('$') => expand(chars, word, env, last_status),
            Some(c) => word.push(c),
            None => return Err("unterminated quoted string".into()),
        }
    }
}

/// Expand what follows a `$`: `$?`, `${NAME}`, `$NAME`; a lone `$` stays.
fn expand(
    chars: &mut Peekable<Chars<'_>>,
    out: &mut String,
    env: &BTreeMap<String, String>,
    last_status: i32,
) {
    match chars.peek().copied() {
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
    }
}
