//! Generated container logs: a few lines per container, more while following.
use bytes::Bytes;
use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::time::Duration;
use tokio_stream::wrappers::ReceiverStream;

use vk_core::provider::{LogOptions, LogStream, PodKey};

/// Line `n` (from 1) of a container's log.
pub(super) fn line(key: &PodKey, container: &str, n: u64) -> String {
    format!("mock log line {n} from {}/{container}", key)
}

fn render(opts: &LogOptions, text: &str, at: Timestamp) -> String {
    if opts.timestamps {
        format!("{} {text}\n", at.strftime("%Y-%m-%dT%H:%M:%S%.9fZ"))
    } else {
        format!("{text}\n")
    }
}

/// Inputs of a log stream.
pub(super) struct LogSource {
    /// Whose logs.
    pub key: PodKey,
    /// Which container.
    pub container: String,
    /// Lines written so far.
    pub lines: u64,
    /// When line 1 was written; line n is n-1 seconds later.
    pub first: Timestamp,
    /// How often a new line comes while following.
    pub every: Duration,
}

/// A stream of the log, following while `alive` says the container still runs.
pub(super) fn stream<F>(src: LogSource, opts: &LogOptions, alive: F) -> LogStream
where
    F: Fn() -> bool + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(16);
    let opts = opts.clone();
    tokio::spawn(async move {
        let at = |n: u64| {
            src.first
                .saturating_add(jiff::SignedDuration::from_secs(
                    i64::try_from(n.saturating_sub(1)).unwrap_or(i64::MAX),
                ))
                .unwrap_or(src.first)
        };
        let start = match opts.tail_lines {
            Some(t) => src.lines.saturating_sub(t) + 1,
            None => 1,
        };
        let mut budget = opts.limit_bytes.unwrap_or(u64::MAX);
        let mut send = |n: u64| {
            let mut text = render(&opts, &line(&src.key, &src.container, n), at(n));
            let len = text.len() as u64;
            if len > budget {
                text.truncate(usize::try_from(budget).unwrap_or(0));
            }
            budget = budget.saturating_sub(len);
            (Bytes::from(text), budget == 0)
        };
        for n in start..=src.lines {
            let (chunk, last) = send(n);
            if tx.send(Ok(chunk)).await.is_err() || last {
                return;
            }
        }
        if !opts.follow {
            return;
        }
        let mut n = src.lines;
        loop {
            tokio::time::sleep(src.every).await;
            if !alive() {
                return;
            }
            n += 1;
            let (chunk, last) = send(n);
            if tx.send(Ok(chunk)).await.is_err() || last {
                return;
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}
