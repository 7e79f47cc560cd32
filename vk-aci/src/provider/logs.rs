//! `kubectl logs` over ACI's ListLogs: tail and timestamps from ACI, `since` and
//! `limitBytes` applied here, and follow by polling a small tail with timestamps
//! ([`Follower`], bounded by [`FollowLimits`]).
use bytes::Bytes;
use jiff::Timestamp;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{self, Duration};
use vk_core::provider::{LogOptions, LogStream};
use vk_translate::container_group::{ContainerGroup, InstanceState, RestartPolicy};

use crate::arm::{ArmClient, Priority};

/// Limits of `kubectl logs -f` ([`crate::AciConfig::logs_follow`]).
///
/// ACI has no log stream and its list-logs call takes only `tail` and `timestamps` (no
/// `since`, `aci-spec/2025-09-01`, `Containers_ListLogs`), so a follower polls with
/// timestamps and a small tail and keeps the lines newer than the last one it sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowLimits {
    /// Lines asked for at each poll at least; the tail then follows the log's rate.
    pub min_tail: u64,
    /// Lines asked for at most in one read: a follower that fell further behind skips the
    /// older of the lines it missed.
    pub max_tail: u64,
    /// Bytes one poll sends at most (of more new lines, only the newest that fit); the tail
    /// also stops growing once a read reaches this size.
    pub max_poll_bytes: usize,
    /// Bytes of log a stream reads from ACI in all (first read included); the stream then
    /// ends (`kubectl logs -f` returns) and can be started again.
    pub max_stream_bytes: u64,
    /// Follow streams open at once per provider; more are refused until one ends.
    pub max_streams: usize,
}

impl Default for FollowLimits {
    /// A tail of 8 to 10,000 lines; 1 MiB a poll (a quarter of the 4 MB ACI answers at most,
    /// `Containers_ListLogs` `tail`); 256 MiB a stream; 32 streams, about 16 reads/s at the
    /// 2 s poll, well inside ARM's read budget of 25/s refill
    /// (`aci-spec/README.md`, Throttling) even before background reads yield to others.
    fn default() -> Self {
        Self {
            min_tail: 8,
            max_tail: 10_000,
            max_poll_bytes: 1 << 20,
            max_stream_bytes: 256 << 20,
            max_streams: 32,
        }
    }
}

/// Where a follower is in a log, from reads of its tail with timestamps.
///
/// It remembers the timestamp of the last line sent and how many lines with exactly that
/// timestamp it sent, so identical lines written in the same instant are each sent once.
/// A read is trusted when it reaches back to an older line (or holds the whole log);
/// when every line of a full read is new, the tail doubles and the read is repeated.
/// A restarted container's lines are newer than the old instance's, so they are sent.
#[derive(Debug)]
pub struct Follower {
    limits: FollowLimits,
    tail: u64,
    last: Option<Timestamp>,
    same: usize,
}

/// What to do with one read ([`Follower::read`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Read<'a> {
    /// Every line was new: read again with the (grown) [`Follower::tail`].
    Again,
    /// The lines to send (with their timestamps), oldest first.
    Send(Vec<&'a str>),
}

impl Follower {
    /// A follower that starts with `limits.min_tail`.
    #[must_use]
    pub fn new(limits: FollowLimits) -> Self {
        Self {
            tail: limits.min_tail.max(2),
            limits,
            last: None,
            same: 0,
        }
    }

    /// The tail to ask for at the next read.
    #[must_use]
    pub fn tail(&self) -> u64 {
        self.tail
    }

    /// Record the first read: `lines` (with timestamps), read with a tail of `tail` lines
    /// (`None`: the whole log), all of which count as sent.
    pub fn start(&mut self, lines: &[&str], tail: Option<u64>) {
        let whole = tail.is_none_or(|t| (lines.len() as u64) < t);
        self.remember(&stamps(lines), whole, lines.len());
    }

    /// The lines of `snapshot` (read with [`Self::tail`] lines and timestamps) newer than
    /// those sent, capped at `max_poll_bytes` (the newest kept).
    pub fn read<'a>(&mut self, snapshot: &'a str) -> Read<'a> {
        let lines: Vec<&str> = snapshot.lines().collect();
        let stamps = stamps(&lines);
        let whole = (lines.len() as u64) < self.tail;
        let reaches_back = match self.last {
            Some(last) => stamps.first().is_some_and(|t| t.is_none_or(|t| t < last)),
            None => false,
        };
        let can_grow =
            self.tail < self.limits.max_tail && snapshot.len() < self.limits.max_poll_bytes;
        if !whole && !reaches_back && can_grow {
            self.tail = self.tail.saturating_mul(2).min(self.limits.max_tail);
            return Read::Again;
        }
        // Lines at or after the last timestamp sent; of those at it, `same` were sent.
        let from = match self.last {
            Some(last) => {
                let run = stamps.iter().position(|t| t.is_some_and(|t| t >= last));
                let run = run.unwrap_or(lines.len());
                let at_last = stamps[run..]
                    .iter()
                    .take_while(|t| **t == Some(last))
                    .count();
                run + at_last.min(self.same)
            }
            None => 0,
        };
        let mut from = from;
        let mut bytes: usize = lines[from..].iter().map(|l| l.len() + 1).sum();
        while bytes > self.limits.max_poll_bytes && from < lines.len() {
            bytes -= lines[from].len() + 1;
            from += 1;
        }
        let sent = &lines[from..];
        let fresh = sent.len();
        if fresh > 0 {
            self.remember(&stamps, whole, fresh);
        }
        let next = u64::try_from(fresh.saturating_mul(2)).unwrap_or(u64::MAX);
        let at_least = u64::try_from(self.same.saturating_add(2)).unwrap_or(u64::MAX);
        self.tail = next
            .max(at_least)
            .max(self.limits.min_tail)
            .min(self.limits.max_tail);
        Read::Send(sent.to_vec())
    }

    /// Remember the last line of a read (`stamps`, of which the last `fresh` were new):
    /// its timestamp and how many lines of the log up to it carry that timestamp.
    fn remember(&mut self, stamps: &[Option<Timestamp>], whole: bool, fresh: usize) {
        let Some(last) = stamps.last().copied().flatten() else {
            return;
        };
        let count = stamps
            .iter()
            .rev()
            .take_while(|t| **t == Some(last))
            .count();
        // A run that fills a partial read may go on before it: then only what was sent of
        // it is known.
        let partial_run = count == stamps.len() && !whole;
        self.same = if partial_run && self.last == Some(last) {
            self.same.saturating_add(fresh).max(count)
        } else {
            count
        };
        self.last = Some(last);
    }
}

/// The timestamp of each line; a line without one (a continuation) takes the one before.
fn stamps(lines: &[&str]) -> Vec<Option<Timestamp>> {
    let mut previous = None;
    lines
        .iter()
        .map(|line| {
            let own = line
                .split_once(' ')
                .map_or(*line, |(stamp, _)| stamp)
                .parse::<Timestamp>()
                .ok();
            previous = own.or(previous);
            previous
        })
        .collect()
}

/// Apply `since` and the timestamp option to lines fetched with timestamps.
#[must_use]
pub fn shape_lines(lines: &[&str], opts: &LogOptions) -> String {
    let mut out = String::new();
    for line in lines {
        let (stamp, text) = match line.split_once(' ') {
            Some((stamp, text)) => match stamp.parse::<Timestamp>() {
                Ok(ts) => (Some(ts), text),
                Err(_) => (None, *line),
            },
            None => (None, *line),
        };
        if let (Some(since), Some(ts)) = (opts.since, stamp)
            && ts < since
        {
            continue;
        }
        if opts.timestamps {
            out.push_str(line);
        } else {
            out.push_str(text);
        }
        out.push('\n');
    }
    out
}

/// An open `kubectl logs -f`: what [`follow`] needs.
pub(crate) struct Follow {
    /// The client the polls go through (at background priority).
    pub arm: ArmClient,
    /// The container group.
    pub group: String,
    /// The container.
    pub container: String,
    /// What the caller asked for.
    pub opts: LogOptions,
    /// The first read (with timestamps).
    pub first: String,
    /// Tail, byte and stream limits.
    pub limits: FollowLimits,
    /// Time between polls.
    pub interval: Duration,
    /// Bytes sent at most (`limitBytes`).
    pub limit: usize,
    /// The stream's permit (one per open follow), released when the stream ends.
    pub permit: OwnedSemaphorePermit,
}

/// Stream `first`, then poll the container's log until it ends for good, the reader goes
/// away, or a limit is reached.
pub(crate) fn follow(follow: Follow) -> LogStream {
    let Follow {
        arm,
        group,
        container,
        opts,
        first,
        limits,
        interval,
        limit,
        permit,
    } = follow;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
    tokio::spawn(async move {
        let _permit = permit;
        let mut follower = Follower::new(limits);
        let mut read = u64::try_from(first.len()).unwrap_or(u64::MAX);
        let lines: Vec<&str> = first.lines().collect();
        follower.start(&lines, opts.tail_lines);
        let mut fresh: Vec<String> = lines.into_iter().map(str::to_owned).collect();
        drop(first);
        let mut sent = 0usize;
        let mut done = false;
        loop {
            let refs: Vec<&str> = fresh.iter().map(String::as_str).collect();
            let mut text = shape_lines(&refs, &opts).into_bytes();
            text.truncate(limit.saturating_sub(sent));
            sent += text.len();
            if !text.is_empty() && tx.send(Ok(Bytes::from(text))).await.is_err() {
                return;
            }
            if done || sent >= limit || read >= limits.max_stream_bytes || tx.is_closed() {
                return;
            }
            // Following is background work: it never delays creates or status reads.
            done = match arm
                .get::<ContainerGroup>(&group, Priority::Background)
                .await
            {
                Ok(group) => container_finished(&group, &container),
                Err(e) => e.is_not_found(),
            };
            time::sleep(interval).await;
            fresh = loop {
                let tail = follower.tail();
                let snapshot = match arm
                    .logs_at(&group, &container, Some(tail), true, Priority::Background)
                    .await
                {
                    Ok(s) => s,
                    Err(e) if e.is_not_found() => return,
                    Err(_) => break Vec::new(),
                };
                read = read.saturating_add(u64::try_from(snapshot.len()).unwrap_or(u64::MAX));
                match follower.read(&snapshot) {
                    Read::Send(lines) => {
                        break lines.into_iter().map(str::to_owned).collect();
                    }
                    Read::Again if read < limits.max_stream_bytes => {}
                    Read::Again => break Vec::new(),
                }
            };
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Box::pin(stream)
}

/// Whether the container has ended for good (logs -f stops then).
fn container_finished(group: &ContainerGroup, container: &str) -> bool {
    let restarts = !matches!(group.properties.restart_policy, Some(RestartPolicy::Never));
    group
        .properties
        .containers
        .iter()
        .find(|c| c.name == container)
        .and_then(|c| c.properties.instance_view.as_ref())
        .and_then(|v| v.current_state.as_ref())
        .is_some_and(|s| s.state == Some(InstanceState::Terminated) && !restarts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &[(u32, &str)]) -> String {
        lines
            .iter()
            .map(|(s, text)| format!("2026-01-01T00:00:{s:02}Z {text}\n"))
            .collect()
    }

    fn sent(read: Read<'_>) -> Vec<String> {
        match read {
            Read::Send(lines) => lines
                .iter()
                .map(|l| l.split_once(' ').map_or("", |(_, t)| t).to_owned())
                .collect(),
            Read::Again => panic!("the read was trusted"),
        }
    }

    /// What ACI answers for `tail` lines of `all`.
    fn tail_of(all: &str, tail: u64) -> String {
        let lines: Vec<&str> = all.lines().collect();
        let keep = usize::try_from(tail).unwrap().min(lines.len());
        lines[lines.len() - keep..]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn follower_should_send_identical_lines_of_one_instant_once_each() {
        let mut f = Follower::new(FollowLimits::default());
        let first = log(&[(0, "a"), (1, "same"), (1, "same")]);
        f.start(&first.lines().collect::<Vec<_>>(), None);
        let all = log(&[(0, "a"), (1, "same"), (1, "same"), (1, "same"), (2, "b")]);
        assert_eq!(sent(f.read(&tail_of(&all, f.tail()))), ["same", "b"]);
        assert!(sent(f.read(&tail_of(&all, f.tail()))).is_empty());
        let all = log(&[
            (0, "a"),
            (1, "same"),
            (1, "same"),
            (1, "same"),
            (2, "b"),
            (2, "b"),
        ]);
        assert_eq!(sent(f.read(&tail_of(&all, f.tail()))), ["b"]);
    }

    #[test]
    fn follower_should_grow_the_tail_only_while_every_line_is_new() {
        let mut f = Follower::new(FollowLimits::default());
        f.start(&["2026-01-01T00:00:00Z start"], None);
        let mut lines = vec![(0, "start")];
        lines.extend((1..=30).map(|s| (s, "x")));
        let all = log(&lines);
        assert_eq!(f.tail(), 8);
        assert_eq!(f.read(&tail_of(&all, f.tail())), Read::Again);
        assert_eq!(f.read(&tail_of(&all, f.tail())), Read::Again);
        assert_eq!(f.tail(), 32);
        assert_eq!(sent(f.read(&tail_of(&all, f.tail()))).len(), 30);
        assert_eq!(f.tail(), 60, "twice the lines the last poll brought");
        assert!(sent(f.read(&tail_of(&all, f.tail()))).is_empty());
        assert_eq!(f.tail(), 8, "an idle log is read 8 lines at a time");
    }

    #[test]
    fn follower_should_send_a_restarted_containers_log() {
        let mut f = Follower::new(FollowLimits::default());
        let first = log(&[(0, "old"), (1, "old")]);
        f.start(&first.lines().collect::<Vec<_>>(), Some(10));
        let restarted = log(&[(5, "new")]);
        assert_eq!(sent(f.read(&restarted)), ["new"]);
    }

    #[test]
    fn follower_should_send_only_the_newest_lines_that_fit_a_poll() {
        let limits = FollowLimits {
            max_poll_bytes: 60,
            ..FollowLimits::default()
        };
        let mut f = Follower::new(limits);
        f.start(&[], None);
        let all = log(&[(1, "one"), (2, "two"), (3, "three")]);
        assert_eq!(sent(f.read(&all)), ["two", "three"]);
        assert!(sent(f.read(&tail_of(&all, f.tail()))).is_empty());
    }

    #[test]
    fn since_should_drop_older_lines_and_timestamps_be_optional() {
        let lines = ["2026-01-01T00:00:00Z old", "2026-01-01T00:01:00Z new"];
        let opts = LogOptions {
            since: Some("2026-01-01T00:00:30Z".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(shape_lines(&lines, &opts), "new\n");
        let opts = LogOptions {
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            shape_lines(&lines, &opts),
            "2026-01-01T00:00:00Z old\n2026-01-01T00:01:00Z new\n"
        );
    }
}
