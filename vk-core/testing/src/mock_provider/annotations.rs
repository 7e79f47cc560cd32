//! The pod annotations that steer the mock, and reading them.
use k8s_openapi::api::core::v1::Pod;
use tokio::time::Duration;

/// Annotation: how long after starting the containers exit.
pub const EXIT_AFTER_ANNOTATION: &str = "mock.vk.io/exit-after";
/// Annotation: the exit code of the containers (default 0).
pub const EXIT_CODE_ANNOTATION: &str = "mock.vk.io/exit-code";
/// Annotation: delay from create to Running for this pod.
pub const START_AFTER_ANNOTATION: &str = "mock.vk.io/start-after";
/// Annotation: make `create_pod` fail (`unsupported`, `transient` or `invalid`).
pub const CREATE_ERROR_ANNOTATION: &str = "mock.vk.io/create-error";

/// Parse `500ms`, `2s`, `1m`, `1h` (or plain seconds).
pub(super) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num.trim().parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

pub(super) fn annotation<'a>(pod: &'a Pod, name: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(name))
        .map(String::as_str)
}
