//! What a container does, read from its command and environment ([`Behaviour::of`]).
use std::collections::BTreeMap;

use tokio::time::Duration;
use vk_translate::container_group::Container;

/// A container's scripted behaviour.
///
/// Rules, first match wins:
/// 1. env `EMULATOR_RUN_SECONDS=T` (and optional `EMULATOR_EXIT_CODE=N`, default 0): exit N
///    after T seconds; env `EMULATOR_LOG=text` adds a log line.
/// 2. `sh|bash -c SCRIPT`: the script's `echo`/`printf` print log lines (each shows in the
///    log once the `sleep`s before it have passed, as in ACI), `sleep N` adds N seconds,
///    `exit N` ends with N; the end of the script exits 0; `sleep infinity`, a
///    `while`/`tail -f` loop runs forever.
/// 3. `sleep N`: exit 0 after N seconds (`sleep infinity` runs forever); `echo ARGS`:
///    print ARGS and exit 0; `true`/`false`: exit 0/1 at once.
/// 4. Anything else, including no command (the image's default): run forever.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Behaviour {
    /// Lines printed by the container.
    pub lines: Vec<String>,
    /// When each of `lines` is printed, from the start of the run (empty: all at once).
    pub printed_after: Vec<Duration>,
    /// Exit code and run time; `None` runs forever.
    pub exit: Option<(i32, Duration)>,
}

// === impl Behaviour ===

impl Behaviour {
    /// The behaviour of a container spec.
    #[must_use]
    pub fn of(container: &Container) -> Self {
        let env: BTreeMap<&str, &str> = container
            .properties
            .environment_variables
            .iter()
            .filter_map(|e| e.value.as_deref().map(|v| (e.name.as_str(), v)))
            .collect();
        let mut lines: Vec<String> = env
            .get("EMULATOR_LOG")
            .map(|l| (*l).to_owned())
            .into_iter()
            .collect();
        if let Some(secs) = env
            .get("EMULATOR_RUN_SECONDS")
            .and_then(|s| s.parse::<f64>().ok())
        {
            let code = env
                .get("EMULATOR_EXIT_CODE")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            return Self {
                lines,
                exit: Some((code, Duration::from_secs_f64(secs.clamp(0.0, 1e9)))),
                printed_after: Vec::new(),
            };
        }
        let command = &container.properties.command;
        let program = command
            .first()
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned());
        let mut behaviour = match (program.as_deref(), command.get(1).map(String::as_str)) {
            (Some("sh" | "bash" | "ash" | "dash"), Some("-c")) => {
                script(command.get(2).map_or("", String::as_str))
            }
            (Some("sleep"), _) => match command
                .get(1)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| s.is_finite())
            {
                Some(secs) => Self {
                    lines: Vec::new(),
                    exit: Some((0, Duration::from_secs_f64(secs.clamp(0.0, 1e9)))),
                    printed_after: Vec::new(),
                },
                None => Self::default(),
            },
            (Some("echo"), _) => Self {
                lines: vec![command[1..].join(" ")],
                exit: Some((0, Duration::ZERO)),
                printed_after: Vec::new(),
            },
            (Some("true"), _) => Self {
                lines: Vec::new(),
                exit: Some((0, Duration::ZERO)),
                printed_after: Vec::new(),
            },
            (Some("false"), _) => Self {
                lines: Vec::new(),
                exit: Some((1, Duration::ZERO)),
                printed_after: Vec::new(),
            },
            _ => Self::default(),
        };
        if !behaviour.printed_after.is_empty() {
            let mut after = vec![Duration::ZERO; lines.len()];
            after.append(&mut behaviour.printed_after);
            behaviour.printed_after = after;
        }
        lines.append(&mut behaviour.lines);
        behaviour.lines = lines;
        behaviour
    }
}

fn script(text: &str) -> Behaviour {
    let mut lines = Vec::new();
    let mut printed_after = Vec::new();
    let mut elapsed = Duration::ZERO;
    for segment in text.split(['\n', ';']).flat_map(|s| s.split("&&")) {
        let words: Vec<String> = crate::emulator::shell::words(segment.trim());
        match words.first().map(String::as_str) {
            Some("echo") => {
                lines.push(words[1..].join(" "));
                printed_after.push(elapsed);
            }
            Some("printf") => {
                lines.push(words[1..].join(" ").replace("\\n", ""));
                printed_after.push(elapsed);
            }
            Some("sleep") => match words
                .get(1)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| s.is_finite())
            {
                Some(secs) => elapsed += Duration::from_secs_f64(secs.clamp(0.0, 1e9)),
                None => {
                    return Behaviour {
                        lines,
                        printed_after,
                        exit: None,
                    };
                }
            },
            Some("exit") => {
                let code = words.get(1).and_then(|c| c.parse().ok()).unwrap_or(0);
                return Behaviour {
                    lines,
                    printed_after,
                    exit: Some((code, elapsed)),
                };
            }
            Some("while" | "tail" | "exec") => {
                return Behaviour {
                    lines,
                    printed_after,
                    exit: None,
                };
            }
            _ => {}
        }
    }
    Behaviour {
        lines,
        printed_after,
        exit: Some((0, elapsed)),
    }
}
