//! ACI events: which one explains a failure, and the Kubernetes reason it becomes.

use super::vocabulary::{PROVIDER_FAILED, reason_word};
use crate::container_group::{Event, EventType, parse_arm_timestamp};

/// Whether an ACI event reports a failure (its type is Warning or its name says so).
fn is_failure(event: &Event) -> bool {
    let name = event.name.as_deref().unwrap_or_default();
    event.type_ == Some(EventType::Warning)
        || name.starts_with("Fail")
        || name.starts_with("Err")
        || name.contains("BackOff")
        || name == "Unhealthy"
}

/// The latest failure among `events` (by last timestamp, then by order).
pub(super) fn most_relevant_failure<'a>(
    events: impl Iterator<Item = &'a Event>,
) -> Option<&'a Event> {
    events
        .filter(|event| is_failure(event))
        .enumerate()
        .max_by_key(|(index, event)| {
            let at = event
                .last_timestamp
                .as_deref()
                .or(event.first_timestamp.as_deref())
                .and_then(parse_arm_timestamp);
            (at, *index)
        })
        .map(|(_, event)| event)
}

/// The Kubernetes reason for an ACI failure event: image pull failures get the kubelet's
/// `ErrImagePull`/`ImagePullBackOff`, other events keep their name.
pub(super) fn event_reason(event: &Event) -> String {
    let name = event.name.as_deref().unwrap_or_default();
    let message = event
        .message
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let about_image = message.contains("pull") || message.contains("image");
    if name.contains("BackOff") && about_image {
        "ImagePullBackOff".to_owned()
    } else if name.starts_with("Fail") && about_image && !name.contains("Mount") {
        "ErrImagePull".to_owned()
    } else {
        reason_word(name).unwrap_or(PROVIDER_FAILED).to_owned()
    }
}
