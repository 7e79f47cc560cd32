//! The query parameters of Azure Monitor's metrics calls, parsed and validated the way the
//! service does: metric names against the container group metric definitions, aggregations,
//! time range, time grain, `$filter`/`filter`, `top`, `orderby` and `rollupby`.
use jiff::{SignedDuration, Timestamp};

use super::definitions::{Aggregation, METRICS, MetricDef, NAMESPACE};

/// Nanoseconds per second.
pub(super) const SECOND: i128 = 1_000_000_000;

/// The longest time range one query may span (Azure Monitor answers at most 30 days per
/// query; the emulator also keeps answers bounded with it).
const MAX_SPAN_SECONDS: i128 = 30 * 24 * 3600;

/// At most this many metric names per call (`MetricNamesParameter` in metrics_API.json).
const MAX_METRIC_NAMES: usize = 20;

/// The time grains container group metrics support, in seconds, with the spelling Azure
/// uses when it lists them in an error.
const GRAINS: [(i128, &str); 8] = [
    (60, "00:01:00"),
    (300, "00:05:00"),
    (900, "00:15:00"),
    (1800, "00:30:00"),
    (3600, "01:00:00"),
    (21_600, "06:00:00"),
    (43_200, "12:00:00"),
    (86_400, "1.00:00:00"),
];

/// The time grain of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Grain {
    /// Buckets of this many seconds.
    Every(i128),
    /// One bucket over the whole time range.
    Full,
}

/// Which `containerName` series a query asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Split {
    /// No filter: one series over all containers.
    None,
    /// `containerName eq '*'`: one series per container.
    All,
    /// `containerName eq 'a' or containerName eq 'b'`: those containers' series.
    Only(Vec<String>),
}

/// A parsed, validated metrics query.
#[derive(Debug)]
pub(super) struct Query {
    /// The metrics asked for, in request order.
    pub metrics: Vec<&'static MetricDef>,
    /// The aggregations asked for, in request order.
    pub aggregations: Vec<Aggregation>,
    /// Start of the time range.
    pub start: Timestamp,
    /// End of the time range.
    pub end: Timestamp,
    /// The time grain.
    pub grain: Grain,
    /// The `containerName` filter.
    pub split: Split,
    /// At most this many series per metric (and resource) when a filter is given.
    pub top: usize,
    /// Sort series by this aggregation, descending if `true`.
    pub order: Option<(Aggregation, bool)>,
    /// `rollupby=containerName`: one series over the filtered containers.
    pub rollup: bool,
}

/// Which call the parameters belong to: the names of the time range and filter parameters
/// differ between the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Api {
    /// `metrics:getBatch`: `starttime`, `endtime`, `filter`; `metricnamespace` required.
    Batch,
    /// `Microsoft.Insights/metrics`: `timespan`, `$filter`.
    List,
}

/// Query string parameters; names compare case-insensitively, as Azure's do.
#[derive(Debug)]
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters of a query string.
    pub fn new(query: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

// === impl Query ===

impl Query {
    /// Parse and validate the parameters of `api` at wall time `now`.
    ///
    /// # Errors
    /// The message of Azure Monitor's `BadRequest`.
    pub fn parse(params: &Params, api: Api, now: Timestamp) -> Result<Self, String> {
        match (params.get("metricnamespace"), api) {
            (None, Api::Batch) => {
                return Err("The metricnamespace query parameter is required.".into());
            }
            (Some(ns), _) if !ns.eq_ignore_ascii_case(NAMESPACE) => {
                return Err(format!(
                    "Metric namespace '{ns}' is not valid for resources of type '{NAMESPACE}'; the supported namespace is 'Microsoft.ContainerInstance/containerGroups'."
                ));
            }
            _ => {}
        }
        let metrics = metric_names(params.get("metricnames"))?;
        let aggregations = aggregations(params.get("aggregation"))?;
        let (start, end) = match api {
            Api::Batch => batch_range(params.get("starttime"), params.get("endtime"), now)?,
            Api::List => timespan(params.get("timespan"), now)?,
        };
        if start >= end {
            return Err(format!(
                "Detected invalid time range: the start time {start} must be before the end time {end}."
            ));
        }
        if end.as_nanosecond() - start.as_nanosecond() > MAX_SPAN_SECONDS * SECOND {
            return Err(format!(
                "The time range {start} to {end} is longer than the 30 days a query may span."
            ));
        }
        let grain = grain(params.get("interval").unwrap_or("PT1M"))?;
        let filter = match api {
            Api::Batch => params.get("filter"),
            Api::List => params.get("$filter"),
        };
        let split = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(filter) => parse_filter(filter, &metrics)?,
            None => Split::None,
        };
        let top = match params.get("top") {
            None => 10,
            Some(t) => t
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|t| (1..=i32::MAX as usize).contains(t))
                .ok_or_else(|| {
                    format!("Detected invalid TopN value: '{t}'; it must be a positive Int value.")
                })?,
        };
        let order = params.get("orderby").map(orderby).transpose()?;
        let rollup = match params.get("rollupby").map(str::trim) {
            None | Some("") => false,
            Some(d) if d.eq_ignore_ascii_case("containerName") => true,
            Some(d) => {
                return Err(format!(
                    "Dimension '{d}' in rollupby is not a dimension of these metrics; the supported one is containerName."
                ));
            }
        };
        if params
            .get("resultType")
            .is_some_and(|r| !r.eq_ignore_ascii_case("Data"))
        {
            return Err("The emulator answers resultType=Data only.".into());
        }
        Ok(Self {
            metrics,
            aggregations,
            start,
            end,
            grain,
            split,
            top,
            order,
            rollup,
        })
    }

    /// The buckets of the query as `(timestamp, from, to)` in nanoseconds: whole minutes
    /// from the start (rounded down to the minute), each `grain` long, every one that starts
    /// before the end; or, for `FULL`, one bucket over the range.
    pub fn buckets(&self) -> Vec<(i128, i128, i128)> {
        let start = self.start.as_nanosecond();
        let end = self.end.as_nanosecond();
        let first = start - start.rem_euclid(60 * SECOND);
        match self.grain {
            Grain::Full => vec![(first, start, end)],
            Grain::Every(seconds) => {
                let step = seconds * SECOND;
                let mut out = Vec::new();
                let mut at = first;
                while at < end {
                    out.push((at, at, at + step));
                    at += step;
                }
                out
            }
        }
    }

    /// The interval as answers show it: the grain, or the whole range for `FULL`.
    pub fn interval(&self) -> String {
        match self.grain {
            Grain::Every(seconds) => iso_duration(seconds),
            Grain::Full => {
                let span = self.end.as_nanosecond() - self.start.as_nanosecond();
                iso_duration((span + SECOND / 2) / SECOND)
            }
        }
    }
}

fn metric_names(names: Option<&str>) -> Result<Vec<&'static MetricDef>, String> {
    let names: Vec<&str> = names
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err("The metricnames query parameter is required.".into());
    }
    if names.len() > MAX_METRIC_NAMES {
        return Err(format!(
            "Requested {} metrics; at most {MAX_METRIC_NAMES} metric names can be specified.",
            names.len()
        ));
    }
    let mut out: Vec<&'static MetricDef> = Vec::new();
    for name in names {
        let Some(def) = METRICS.iter().find(|m| m.name.eq_ignore_ascii_case(name)) else {
            let valid: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
            return Err(format!(
                "Failed to find metric configuration for provider: Microsoft.ContainerInstance, resource Type: containerGroups, metric: {name}, Valid metrics: {}",
                valid.join(",")
            ));
        };
        if !out.iter().any(|m| m.name == def.name) {
            out.push(def);
        }
    }
    Ok(out)
}

fn aggregations(text: Option<&str>) -> Result<Vec<Aggregation>, String> {
    let mut out = Vec::new();
    for part in text
        .unwrap_or("average")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let aggregation = Aggregation::parse(part)?;
        if !out.contains(&aggregation) {
            out.push(aggregation);
        }
    }
    if out.is_empty() {
        out.push(Aggregation::Average);
    }
    Ok(out)
}

fn timestamp(text: &str, what: &str) -> Result<Timestamp, String> {
    text.trim().parse::<Timestamp>().map_err(|_| {
        format!("Detected invalid {what} '{text}'; expected an ISO 8601 time such as 2024-02-01T10:00:00.000Z.")
    })
}

/// `starttime`/`endtime`: both, or only `starttime` (ending now), or neither (the last
/// hour); `endtime` alone is refused, as metricBatch.json says.
fn batch_range(
    start: Option<&str>,
    end: Option<&str>,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), String> {
    match (start, end) {
        (Some(s), Some(e)) => Ok((timestamp(s, "starttime")?, timestamp(e, "endtime")?)),
        (Some(s), None) => Ok((timestamp(s, "starttime")?, now)),
        (None, Some(_)) => Err("The starttime query parameter is required with endtime.".into()),
        (None, None) => Ok((last_hour(now), now)),
    }
}

/// `timespan=START/END`, or the last hour.
fn timespan(text: Option<&str>, now: Timestamp) -> Result<(Timestamp, Timestamp), String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok((last_hour(now), now));
    };
    let Some((start, end)) = text.split_once('/') else {
        return Err(format!(
            "Detected invalid timespan '{text}'; expected 'startDateTime_ISO/endDateTime_ISO'."
        ));
    };
    Ok((timestamp(start, "start time")?, timestamp(end, "end time")?))
}

fn last_hour(now: Timestamp) -> Timestamp {
    now.checked_sub(SignedDuration::from_hours(1))
        .unwrap_or(now)
}

/// `PT1M`, ..., `P1D` (the supported grains) or `FULL`.
fn grain(text: &str) -> Result<Grain, String> {
    if text.trim().eq_ignore_ascii_case("FULL") {
        return Ok(Grain::Full);
    }
    let supported: Vec<&str> = GRAINS.iter().map(|(_, s)| *s).collect();
    let invalid = || {
        format!(
            "Detected invalid time interval input: {text}, supported ones are: {}",
            supported.join(",")
        )
    };
    let seconds = parse_iso_duration(text.trim()).ok_or_else(invalid)?;
    if GRAINS.iter().any(|(s, _)| *s == seconds) {
        Ok(Grain::Every(seconds))
    } else {
        Err(invalid())
    }
}

/// Seconds of an ISO 8601 duration of days, hours, minutes and seconds (`P1DT2H`, `PT5M`).
fn parse_iso_duration(text: &str) -> Option<i128> {
    let upper = text.to_ascii_uppercase();
    let rest = upper.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut seconds: i128 = 0;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, i128)]| -> Option<()> {
        let mut number = String::new();
        let mut last = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let position = units.iter().position(|(u, _)| *u == c)?;
            if position < last || number.is_empty() || number.len() > 9 {
                return None;
            }
            last = position + 1;
            seconds += number.parse::<i128>().ok()? * units[position].1;
            number.clear();
            any = true;
        }
        number.is_empty().then_some(())
    };
    take(date, &[('D', 86_400)])?;
    if let Some(time) = time {
        take(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    any.then_some(seconds)
}

/// An ISO 8601 duration for whole seconds: `PT1M`, `PT4H`, `P1D`, `P1DT12H`.
fn iso_duration(seconds: i128) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (hours, rest) = (rest / 3600, rest % 3600);
    let (minutes, secs) = (rest / 60, rest % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || secs > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if secs > 0 || (hours == 0 && minutes == 0) {
            out.push_str(&format!("{secs}S"));
        }
    }
    out
}

/// A filter token.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
}

fn tokens(filter: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = filter.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        value.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("Unterminated quoted value in filter '{filter}'.")),
                }
            }
            out.push(Token::Quoted(value));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '\'' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push(Token::Word(word));
        }
    }
    Ok(out)
}

/// `containerName eq 'x' [or containerName eq 'y' ...]`, `'*'` for every container.
fn parse_filter(filter: &str, metrics: &[&'static MetricDef]) -> Result<Split, String> {
    let tokens = tokens(filter)?;
    let invalid = || format!("Detected invalid filter '{filter}'.");
    let mut values = Vec::new();
    let mut dimensions = Vec::new();
    let mut rest = tokens.as_slice();
    loop {
        let [
            Token::Word(dimension),
            Token::Word(op),
            Token::Quoted(value),
            tail @ ..,
        ] = rest
        else {
            return Err(invalid());
        };
        if !op.eq_ignore_ascii_case("eq") {
            return Err(invalid());
        }
        dimensions.push(dimension.clone());
        values.push(value.clone());
        match tail {
            [] => break,
            [Token::Word(join), more @ ..] if join.eq_ignore_ascii_case("or") => rest = more,
            [Token::Word(join), ..] if join.eq_ignore_ascii_case("and") => {
                return Err(format!(
                    "Detected invalid filter '{filter}': the metrics have one dimension, containerName; join its values with 'or'."
                ));
            }
            _ => return Err(invalid()),
        }
    }
    for metric in metrics {
        let supported = if metric.has_container_dimension() {
            "containerName"
        } else {
            ""
        };
        if let Some(unknown) = dimensions
            .iter()
            .find(|d| !metric.has_container_dimension() || !d.eq_ignore_ascii_case("containerName"))
        {
            return Err(format!(
                "Metric: {} does not support requested dimension combination: {}, supported ones are: {supported}",
                metric.name,
                unknown.to_ascii_lowercase()
            ));
        }
    }
    if values.iter().any(|v| v == "*") {
        Ok(Split::All)
    } else {
        Ok(Split::Only(values))
    }
}

/// `average desc`, `maximum`, `minimum asc`.
fn orderby(text: &str) -> Result<(Aggregation, bool), String> {
    let mut words = text.split_whitespace();
    let aggregation = Aggregation::parse(words.next().unwrap_or_default())?;
    let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(format!("Detected invalid orderby '{text}'.")),
    };
    if words.next().is_some() {
        return Err(format!(
            "Detected invalid orderby '{text}'; only one order can be specified."
        ));
    }
    Ok((aggregation, descending))
}

#[cfg(test)]
mod tests;
