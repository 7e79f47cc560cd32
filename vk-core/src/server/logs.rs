//! `/containerLogs/{namespace}/{pod}/{container}`: a container's logs, streamed.
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::header;
use jiff::{SignedDuration, Timestamp};

use super::error::{Error, Result};
use super::state::ServerState;
use crate::provider::{LogOptions, PodKey};

pub(super) async fn container_logs(
    State(state): State<ServerState>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let key = PodKey::new(namespace, pod);
    state.container(&key, &container)?;
    let opts = log_options(query.as_deref().unwrap_or_default(), state.clock.now())?;
    let stream = state.provider.logs(&key, &container, &opts).await?;
    // Enforced here too, so a provider that ignores the option cannot exceed it.
    let stream = match opts.limit_bytes {
        Some(limit) => {
            let mut left = limit;
            stream
                .take_while(move |_| std::future::ready(left > 0))
                .map(move |chunk| {
                    chunk.map(|mut b| {
                        let keep = usize::try_from(left).unwrap_or(usize::MAX).min(b.len());
                        b.truncate(keep);
                        left -= keep as u64;
                        b
                    })
                })
                .boxed()
        }
        None => stream,
    };
    Ok((
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Parse `kubectl logs` options: follow, tailLines, timestamps, sinceSeconds, sinceTime,
/// limitBytes, previous.
pub(super) fn log_options(query: &str, now: Timestamp) -> Result<LogOptions> {
    let mut o = LogOptions::default();
    let flag = |v: &str| v == "1" || v.eq_ignore_ascii_case("true");
    let number = |name: &str, v: &str| {
        v.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::BadRequest(format!("{name} must be a non-negative integer")))
    };
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "follow" => o.follow = flag(&v),
            "timestamps" => o.timestamps = flag(&v),
            "previous" => o.previous = flag(&v),
            "tailLines" => o.tail_lines = Some(number("tailLines", &v)?.unsigned_abs()),
            "limitBytes" => o.limit_bytes = Some(number("limitBytes", &v)?.unsigned_abs()),
            "sinceSeconds" => {
                let secs = number("sinceSeconds", &v)?;
                o.since = Some(
                    now.checked_sub(SignedDuration::from_secs(secs))
                        .unwrap_or(Timestamp::MIN),
                );
            }
            "sinceTime" => {
                o.since =
                    Some(v.parse::<Timestamp>().map_err(|_| {
                        Error::BadRequest("sinceTime must be an RFC 3339 time".into())
                    })?);
            }
            _ => {}
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_log_options_should_parse() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let o = log_options(
            "follow=true&tailLines=5&timestamps=true&limitBytes=10&previous=false&sinceSeconds=60",
            now,
        )
        .unwrap();
        assert!(o.follow && o.timestamps && !o.previous);
        assert_eq!(o.tail_lines, Some(5));
        assert_eq!(o.limit_bytes, Some(10));
        assert_eq!(o.since, Some("2025-12-31T23:59:00Z".parse().unwrap()));
        let o = log_options("sinceTime=2025-01-01T00:00:00Z", now).unwrap();
        assert_eq!(o.since, Some("2025-01-01T00:00:00Z".parse().unwrap()));
        assert!(log_options("tailLines=-1", now).is_err());
        assert!(log_options("sinceTime=yesterday", now).is_err());
    }
}
