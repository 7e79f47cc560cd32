//! Flag values as the upstream virtual kubelet reads them: Go durations (`1h30m`), Go listen
//! addresses (`:10255`), files named by flags, and empty meaning unset.

use std::path::Path;

use tokio::time::Duration;

use crate::error::BadInput;

/// A Go-style duration: `0`, `90s`, `2m`, `1h30m`, `500ms`.
pub(crate) fn parse_duration(flag: &str, text: &str) -> Result<Duration, BadInput> {
    let bad = || {
        BadInput(format!(
            "--{flag}: {text:?} is not a duration like 30s, 2m or 1h30m"
        ))
    };
    let text = text.trim();
    if text.is_empty() || text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(value * seconds).map_err(|_| bad())?;
    }
    Ok(total)
}

/// The contents of the file `path` given by `flag`.
pub(crate) fn read_file(flag: &str, path: &Path) -> Result<Vec<u8>, BadInput> {
    std::fs::read(path).map_err(|e| BadInput(format!("{flag} {}: {e}", path.display())))
}

/// `value` unless it is missing or blank.
pub(crate) fn non_empty(value: Option<&String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty()).cloned()
}

/// `HOST:PORT` or Go's `:PORT`.
pub(crate) fn parse_listen(flag: &str, addr: &str) -> Result<std::net::SocketAddr, BadInput> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_owned()
    };
    full.parse()
        .map_err(|_| BadInput(format!("--{flag} {addr:?}: expected HOST:PORT or :PORT")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_should_parse() {
        assert_eq!(parse_duration("x", "0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("x", "90s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("x", "1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("x", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert!(parse_duration("x", "5 minutes").is_err());
        assert!(parse_duration("x", "10").is_err());
    }

    #[test]
    fn go_listen_addresses_should_parse() {
        assert_eq!(
            parse_listen("metrics-addr", ":10255").unwrap().port(),
            10255
        );
        assert!(parse_listen("metrics-addr", "nope").is_err());
    }
}
