//! From a metrics proposal to the replica count the controller sets, as
//! kube-controller-manager does: without `spec.behavior`, the highest recommendation of
//! the downscale stabilization window and a scale-up limit of `max(2 * current, 4)`;
//! with it, the scale-up and scale-down stabilization windows and the rate policies
//! (`Pods`/`Percent` per period, `selectPolicy` Max/Min/Disabled) over the scale events
//! of the policies' periods. The API server's defaults for `behavior` are here too.
use serde_json::Value;
use tokio::time::{Duration, Instant};

/// How the policies of one direction combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Select {
    /// The policy allowing the largest change.
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// A rate policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    /// `Percent` (true) or `Pods`.
    pub percent: bool,
    /// Pods or percent per period.
    pub value: i32,
    /// The period in seconds.
    pub period_seconds: i32,
}

/// The rules of one direction (`HPAScalingRules`), defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rules {
    /// `stabilizationWindowSeconds`.
    pub window_seconds: i32,
    /// `selectPolicy`.
    pub select: Select,
    /// `policies`.
    pub policies: Vec<Policy>,
}

/// `spec.behavior` with the API server's and controller's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Behavior {
    /// `scaleUp`.
    pub up: Rules,
    /// `scaleDown`.
    pub down: Rules,
}

fn rules(v: Option<&Value>, default: Rules) -> Rules {
    let Some(v) = v.filter(|v| v.is_object()) else {
        return default;
    };
    let window_seconds = v
        .get("stabilizationWindowSeconds")
        .and_then(Value::as_i64)
        .and_then(|w| i32::try_from(w).ok())
        .unwrap_or(default.window_seconds);
    let select = match v.get("selectPolicy").and_then(Value::as_str) {
        Some("Min") => Select::Min,
        Some("Disabled") => Select::Disabled,
        Some("Max") => Select::Max,
        _ => default.select,
    };
    let policies = match v.get("policies").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(|p| {
                Some(Policy {
                    percent: match p.get("type").and_then(Value::as_str)? {
                        "Percent" => true,
                        "Pods" => false,
                        _ => return None,
                    },
                    value: i32::try_from(p.get("value").and_then(Value::as_i64)?).ok()?,
                    period_seconds: i32::try_from(p.get("periodSeconds").and_then(Value::as_i64)?)
                        .ok()?,
                })
            })
            .collect(),
        None => default.policies,
    };
    Rules {
        window_seconds,
        select,
        policies,
    }
}

/// The behavior of an HPA spec, if it has one: what is unset takes the API server's
/// defaults (scale up: no window, 4 pods or 100% per 15 s, the larger; scale down: 100%
/// per 15 s) and the scale-down window the controller's `downscale_window`.
pub(crate) fn behavior(spec: &Value, downscale_window: Duration) -> Option<Behavior> {
    let b = spec.get("behavior").filter(|b| b.is_object())?;
    let up = rules(
        b.get("scaleUp"),
        Rules {
            window_seconds: 0,
            select: Select::Max,
            policies: vec![
                Policy {
                    percent: false,
                    value: 4,
                    period_seconds: 15,
                },
                Policy {
                    percent: true,
                    value: 100,
                    period_seconds: 15,
                },
            ],
        },
    );
    let down = rules(
        b.get("scaleDown"),
        Rules {
            window_seconds: i32::try_from(downscale_window.as_secs()).unwrap_or(i32::MAX),
            select: Select::Max,
            policies: vec![Policy {
                percent: true,
                value: 100,
                period_seconds: 15,
            }],
        },
    );
    Some(Behavior { up, down })
}

/// One past scale change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScaleEvent {
    /// How many replicas were added or removed (non-negative).
    pub change: i32,
    /// When.
    pub at: Instant,
    /// Older than the longest policy period: free for reuse.
    pub outdated: bool,
}

/// What the controller remembers of one HPA between syncs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Memory {
    /// Unstabilized recommendations with their times.
    pub recommendations: Vec<(i32, Instant)>,
    /// Scale-up events.
    pub ups: Vec<ScaleEvent>,
    /// Scale-down events.
    pub downs: Vec<ScaleEvent>,
}

/// A normalization outcome: the count and the condition reason and message explaining it.
pub(crate) type Normalized = (i32, &'static str, &'static str);

fn ago(now: Instant, secs: i32) -> Option<Instant> {
    now.checked_sub(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

fn after(at: Instant, cutoff: Option<Instant>) -> bool {
    cutoff.is_none_or(|c| at > c)
}

impl Memory {
    /// Record `current` as the first recommendation, once.
    pub fn record_initial(&mut self, current: i32, now: Instant) {
        if self.recommendations.is_empty() {
            self.recommendations.push((current, now));
        }
    }

    fn remember(&mut self, replicas: i32, old: Option<usize>, now: Instant) {
        match old {
            Some(i) => self.recommendations[i] = (replicas, now),
            None => self.recommendations.push((replicas, now)),
        }
    }

    /// `stabilizeRecommendation`: the highest recommendation of the last `window`.
    pub fn stabilize(&mut self, desired: i32, window: Duration, now: Instant) -> i32 {
        let cutoff = now.checked_sub(window);
        let mut highest = desired;
        let mut old = None;
        for (i, (rec, at)) in self.recommendations.iter().enumerate() {
            if cutoff.is_some_and(|c| *at < c) {
                old = Some(i);
            } else {
                highest = highest.max(*rec);
            }
        }
        self.remember(desired, old, now);
        highest
    }

    /// `stabilizeRecommendationWithBehaviors`: between the lowest recommendation of the
    /// scale-up window and the highest of the scale-down window.
    pub fn stabilize_with(
        &mut self,
        b: &Behavior,
        current: i32,
        desired: i32,
        now: Instant,
    ) -> Normalized {
        let up_cutoff = ago(now, b.up.window_seconds);
        let down_cutoff = ago(now, b.down.window_seconds);
        let (mut up, mut down) = (desired, desired);
        let mut old = None;
        for (i, (rec, at)) in self.recommendations.iter().enumerate() {
            if after(*at, up_cutoff) {
                up = up.min(*rec);
            }
            if after(*at, down_cutoff) {
                down = down.max(*rec);
            }
            let before = |c: Option<Instant>| c.is_some_and(|c| *at < c);
            if before(up_cutoff) && before(down_cutoff) {
                old = Some(i);
            }
        }
        let recommendation = current.max(up).min(down);
        self.remember(desired, old, now);
        if desired >= current {
            (
                recommendation,
                "ScaleUpStabilized",
                "recent recommendations were lower than current one, applying the lowest recent recommendation",
            )
        } else {
            (
                recommendation,
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            )
        }
    }

    /// `storeScaleEvent`: remember a change, reusing an outdated slot.
    pub fn store_event(&mut self, b: &Behavior, prev: i32, new: i32, now: Instant) {
        let (events, rules, change) = if new > prev {
            (&mut self.ups, &b.up, new.saturating_sub(prev))
        } else {
            (&mut self.downs, &b.down, prev.saturating_sub(new))
        };
        let longest = rules
            .policies
            .iter()
            .map(|p| p.period_seconds)
            .max()
            .unwrap_or(0);
        let cutoff = ago(now, longest);
        let mut old = None;
        for (i, e) in events.iter_mut().enumerate() {
            if cutoff.is_some_and(|c| e.at < c) {
                e.outdated = true;
            }
            if e.outdated {
                old = Some(i);
            }
        }
        let event = ScaleEvent {
            change,
            at: now,
            outdated: false,
        };
        match old {
            Some(i) => events[i] = event,
            None => events.push(event),
        }
    }

    /// `convertDesiredReplicasWithBehaviorRate`: keep the change within the rate
    /// policies and `[min, max]`.
    pub fn limit_rate(
        &self,
        b: &Behavior,
        current: i32,
        desired: i32,
        min: i32,
        max: i32,
        now: Instant,
    ) -> Normalized {
        if desired > current {
            let limit = scale_up_limit(current, &self.ups, &self.downs, &b.up, now).max(current);
            let (allowed, reason, message) = if max > limit {
                (
                    limit,
                    "ScaleUpLimit",
                    "the desired replica count is increasing faster than the maximum scale rate",
                )
            } else {
                (
                    max,
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                )
            };
            if desired > allowed {
                return (allowed, reason, message);
            }
        } else if desired < current {
            let limit =
                scale_down_limit(current, &self.ups, &self.downs, &b.down, now).min(current);
            let (allowed, reason, message) = if min < limit {
                (
                    limit,
                    "ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate",
                )
            } else {
                (
                    min,
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )
            };
            if desired < allowed {
                return (allowed, reason, message);
            }
        }
        (
            desired,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        )
    }
}

/// `convertDesiredReplicasWithRules`: within `[min, max]` and at most `max(2 * current,
/// 4)` (the controller's guard against bogus usage spikes).
pub(crate) fn limit_without_behavior(current: i32, desired: i32, min: i32, max: i32) -> Normalized {
    let scale_up_limit = current.saturating_mul(2).max(4);
    let (allowed_max, reason, message) = if max > scale_up_limit {
        (
            scale_up_limit,
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    } else {
        (
            max,
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    };
    if desired < min {
        return (
            min,
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        );
    }
    if desired > allowed_max {
        return (allowed_max, reason, message);
    }
    (
        desired,
        "DesiredWithinRange",
        "the desired count is within the acceptable range",
    )
}

fn changed_within(events: &[ScaleEvent], period_seconds: i32, now: Instant) -> i32 {
    let cutoff = ago(now, period_seconds);
    events
        .iter()
        .filter(|e| after(e.at, cutoff))
        .map(|e| e.change)
        .fold(0, i32::saturating_add)
}

// Replica counts are small; percentages round as upstream (up when adding, down when
// removing).
fn proposals(
    current: i32,
    ups: &[ScaleEvent],
    downs: &[ScaleEvent],
    rules: &Rules,
    now: Instant,
    up: bool,
) -> impl Iterator<Item = i32> {
    rules.policies.iter().map(move |p| {
        let start = current
            .saturating_sub(changed_within(ups, p.period_seconds, now))
            .saturating_add(changed_within(downs, p.period_seconds, now));
        let start_f = f64::from(start);
        let pct = f64::from(p.value) / 100.0;
        match (p.percent, up) {
            (false, true) => start.saturating_add(p.value),
            (false, false) => start.saturating_sub(p.value),
            (true, true) => (start_f * (1.0 + pct)).ceil() as i32,
            (true, false) => (start_f * (1.0 - pct)) as i32,
        }
    })
}

/// `calculateScaleUpLimitWithScalingRules`.
fn scale_up_limit(
    current: i32,
    ups: &[ScaleEvent],
    downs: &[ScaleEvent],
    rules: &Rules,
    now: Instant,
) -> i32 {
    let all = proposals(current, ups, downs, rules, now, true);
    match rules.select {
        Select::Disabled => current,
        Select::Min => all.fold(i32::MAX, i32::min),
        Select::Max => all.fold(i32::MIN, i32::max),
    }
}

/// `calculateScaleDownLimitWithBehaviors`.
fn scale_down_limit(
    current: i32,
    ups: &[ScaleEvent],
    downs: &[ScaleEvent],
    rules: &Rules,
    now: Instant,
) -> i32 {
    let all = proposals(current, ups, downs, rules, now, false);
    match rules.select {
        Select::Disabled => current,
        Select::Min => all.fold(i32::MIN, i32::max),
        Select::Max => all.fold(i32::MAX, i32::min),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn defaults() -> Behavior {
        behavior(&json!({"behavior": {}}), Duration::from_secs(300)).unwrap()
    }

    #[test]
    fn unset_behavior_fields_should_take_the_api_server_defaults() {
        assert_eq!(behavior(&json!({}), Duration::from_secs(300)), None);
        let b = defaults();
        assert_eq!(b.up.window_seconds, 0);
        assert_eq!(b.up.policies.len(), 2);
        assert_eq!(b.down.window_seconds, 300);
        assert_eq!(b.down.policies[0].value, 100);
        let b = behavior(
            &json!({"behavior": {"scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Disabled"}}}),
            Duration::from_secs(300),
        )
        .unwrap();
        assert_eq!(
            (b.down.window_seconds, b.down.select),
            (0, Select::Disabled)
        );
    }

    #[test]
    fn scale_up_should_be_limited_by_the_largest_default_policy() {
        let b = defaults();
        let now = Instant::now();
        let m = Memory::default();
        // From 1: 1+4 pods or 1*2 -> 5.
        assert_eq!(m.limit_rate(&b, 1, 20, 1, 10, now).0, 5);
        // From 10: 10+4 or 20 -> 20, then the max of 15 applies.
        let (r, reason, _) = m.limit_rate(&b, 10, 40, 1, 15, now);
        assert_eq!((r, reason), (15, "TooManyReplicas"));
    }

    #[test]
    fn recent_scale_ups_should_count_against_the_period() {
        let b = defaults();
        let t0 = Instant::now();
        let mut m = Memory::default();
        m.store_event(&b, 1, 5, t0);
        let now = t0 + Duration::from_secs(5);
        // The period started at 1 replica: at most 5 now.
        assert_eq!(
            m.limit_rate(&b, 5, 20, 1, 50, now),
            (
                5,
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate"
            )
        );
        let later = t0 + Duration::from_secs(16);
        assert_eq!(m.limit_rate(&b, 5, 20, 1, 50, later).0, 10);
    }

    #[test]
    fn the_scale_down_window_should_hold_the_highest_recent_recommendation() {
        let b = behavior(
            &json!({"behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}),
            Duration::from_secs(300),
        )
        .unwrap();
        let t0 = Instant::now();
        let mut m = Memory::default();
        m.record_initial(4, t0);
        let (r, reason, _) = m.stabilize_with(&b, 4, 1, t0 + Duration::from_secs(10));
        assert_eq!((r, reason), (4, "ScaleDownStabilized"));
        // After the window only the last recommendation (1) is left.
        let (r, _, _) = m.stabilize_with(&b, 4, 1, t0 + Duration::from_secs(75));
        assert_eq!(r, 1);
    }

    #[test]
    fn a_zero_scale_down_window_should_follow_the_recommendation_at_once() {
        let b = behavior(
            &json!({"behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}),
            Duration::from_secs(300),
        )
        .unwrap();
        let t0 = Instant::now();
        let mut m = Memory::default();
        m.record_initial(5, t0);
        assert_eq!(m.stabilize_with(&b, 5, 1, t0 + Duration::from_secs(1)).0, 1);
        // Scale-down rate: 100% per 15 s allows going to 1 (min) at once.
        assert_eq!(m.limit_rate(&b, 5, 1, 1, 5, t0).0, 1);
    }

    #[test]
    fn without_behavior_scale_up_should_be_at_most_double_or_four() {
        assert_eq!(limit_without_behavior(1, 10, 1, 10).0, 4);
        assert_eq!(limit_without_behavior(3, 10, 1, 10).0, 6);
        assert_eq!(
            limit_without_behavior(3, 10, 1, 5),
            (
                5,
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count"
            )
        );
        assert_eq!(limit_without_behavior(3, 0, 2, 5).1, "TooFewReplicas");
        let t0 = Instant::now();
        let mut m = Memory::default();
        m.record_initial(5, t0);
        assert_eq!(
            m.stabilize(2, Duration::from_secs(300), t0 + Duration::from_secs(1)),
            5
        );
        assert_eq!(
            m.stabilize(2, Duration::from_secs(300), t0 + Duration::from_secs(301)),
            2
        );
    }
}
