//! The desired replica count normalized as `normalizeDesiredReplicas` (the legacy rules:
//! the scale-down stabilization window, then at most double or four up) or
//! `normalizeDesiredReplicasWithBehaviors` (`behavior`'s windows and rate policies) do.
use serde_json::Value;
use tokio::time::{Duration, Instant};

use super::behavior::{Behavior, Memory, limit_without_behavior};
use super::status::set_condition;

/// `normalizeDesiredReplicas` (no `behavior`).
#[allow(clippy::too_many_arguments)] // one per input of the upstream function
pub(super) fn normalize(
    memory: &mut Memory,
    status: &mut Value,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    window: Duration,
    instant: Instant,
    now: &str,
) -> i32 {
    let stabilized = memory.stabilize(desired, window, instant);
    if stabilized == desired {
        set_condition(
            status,
            "AbleToScale",
            true,
            "ReadyForNewScale",
            "recommended size matches current size",
            now,
        );
    } else {
        set_condition(
            status,
            "AbleToScale",
            true,
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent recommendation",
            now,
        );
    }
    let (replicas, reason, message) = limit_without_behavior(current, stabilized, min, max);
    set_condition(
        status,
        "ScalingLimited",
        replicas != stabilized,
        reason,
        message,
        now,
    );
    replicas
}

/// `normalizeDesiredReplicasWithBehaviors`.
#[allow(clippy::too_many_arguments)] // one per input of the upstream function
pub(super) fn normalize_with(
    memory: &mut Memory,
    b: &Behavior,
    status: &mut Value,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    instant: Instant,
    now: &str,
) -> i32 {
    let (stabilized, reason, message) = memory.stabilize_with(b, current, desired, instant);
    if stabilized == desired {
        set_condition(
            status,
            "AbleToScale",
            true,
            "ReadyForNewScale",
            "recommended size matches current size",
            now,
        );
    } else {
        set_condition(status, "AbleToScale", true, reason, message, now);
    }
    let (replicas, reason, message) = memory.limit_rate(b, current, stabilized, min, max, instant);
    set_condition(
        status,
        "ScalingLimited",
        replicas != stabilized,
        reason,
        message,
        now,
    );
    replicas
}
