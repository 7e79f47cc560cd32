//! Runtime state ARM reports: group and container instance views, states and events.

use k8s_openapi::jiff::Timestamp;
use k8s_openapi::jiff::civil::DateTime;
use k8s_openapi::jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::enums::{EventType, InstanceState};

/// Runtime state of a group (`ContainerGroupPropertiesPropertiesInstanceView`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupPropertiesInstanceView {
    /// Group events (mount failures, scheduling).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
    /// Group state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<InstanceState>,
}

/// Runtime state of a container or init container (`ContainerPropertiesInstanceView`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPropertiesInstanceView {
    /// Number of restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<i32>,
    /// Current state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_state: Option<ContainerState>,
    /// State before the last restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<ContainerState>,
    /// Container events (pulls, starts, kills).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
}

/// A container state (`ContainerState`). Timestamps are kept as ARM sent them; see
/// [`parse_arm_timestamp`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// State name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<InstanceState>,
    /// When the state began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Exit code of a terminated container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// When a terminated container finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<String>,
    /// Human-readable detail (`Completed`, `Error`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_status: Option<String>,
}

/// An instance view event (`Event`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// How many times it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    /// First occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<String>,
    /// Last occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<String>,
    /// Event name, used as a reason (`Pulling`, `Failed`, `FailedMount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Event message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Event type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<EventType>,
}

/// Parses an ARM timestamp (RFC 3339, any number of fractional digits). A timestamp without an
/// offset is taken as UTC, as ARM means it. Returns `None` for anything unparseable.
#[must_use]
pub fn parse_arm_timestamp(value: &str) -> Option<Timestamp> {
    let value = value.trim();
    if let Ok(timestamp) = value.parse::<Timestamp>() {
        return Some(timestamp);
    }
    let civil = value.parse::<DateTime>().ok()?;
    civil
        .to_zoned(TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_with_zulu_should_parse() {
        let parsed = parse_arm_timestamp("2017-08-08T00:09:10Z").unwrap();
        assert_eq!(parsed.as_second(), 1_502_150_950);
    }

    #[test]
    fn timestamp_with_seven_fraction_digits_and_no_offset_should_parse_as_utc() {
        let parsed = parse_arm_timestamp("2017-08-08T00:09:10.1234567").unwrap();
        assert_eq!(parsed.as_second(), 1_502_150_950);
    }

    #[test]
    fn timestamp_with_offset_should_parse() {
        let parsed = parse_arm_timestamp("2017-08-08T02:09:10+02:00").unwrap();
        assert_eq!(parsed.as_second(), 1_502_150_950);
    }

    #[test]
    fn garbage_timestamp_should_be_none() {
        assert!(parse_arm_timestamp("yesterday").is_none());
        assert!(parse_arm_timestamp("").is_none());
    }
}
