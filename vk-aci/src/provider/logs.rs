//! `kubectl logs` over ACI's ListLogs: tail and timestamps from ACI, `since` and
//! `limitBytes` applied here, and follow by polling with de-duplication.
use jiff::Timestamp;
use vk_core::provider::LogOptions;

/// Lines of a log snapshot that were not emitted yet.
///
/// ACI returns the whole (current) log each time. The follower remembers how many lines it
/// emitted and the last of them; if the new snapshot still has that line at that place the
/// rest is new, otherwise the log restarted (a new container instance) and all of it is new.
#[derive(Debug, Default)]
pub struct Follower {
    emitted: usize,
    last: Option<String>,
}

impl Follower {
    /// The new lines of `snapshot`.
    pub fn new_lines<'a>(&mut self, snapshot: &'a str) -> Vec<&'a str> {
        let lines: Vec<&str> = snapshot.lines().collect();
        let continues = self.emitted > 0
            && lines.len() >= self.emitted
            && self.last.as_deref() == Some(lines[self.emitted - 1]);
        let fresh = if continues {
            &lines[self.emitted..]
        } else if self.emitted == 0 {
            &lines[..]
        } else {
            // The log restarted.
            &lines[..]
        };
        if let Some(last) = lines.last() {
            self.emitted = lines.len();
            self.last = Some((*last).to_owned());
        }
        fresh.to_vec()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follower_should_emit_only_new_lines() {
        let mut f = Follower::default();
        assert_eq!(f.new_lines("a\nb\n"), vec!["a", "b"]);
        assert_eq!(f.new_lines("a\nb\n"), Vec::<&str>::new());
        assert_eq!(f.new_lines("a\nb\nc\n"), vec!["c"]);
        assert_eq!(f.new_lines("x\n"), vec!["x"], "a restarted log is all new");
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
