//! Spot evictions: a Spot group Azure took back shows as the kubelet shows an evicted pod
//! (phase `Failed`, reason `Evicted`, a message), so its controller replaces it.
//!
//! ACI's reference does not spell an eviction out in the instance view. What is read: a
//! group with `priority: Spot` carrying an event (of the group, or of one of its
//! containers) whose name or message speaks of an eviction (`evict`, any case). A Regular
//! group is never taken for evicted, whatever its events say.

use crate::container_group::{ContainerGroup, ContainerGroupPriority, Event};

/// The kubelet's pod reason for an eviction.
pub(super) const EVICTED: &str = "Evicted";

fn mentions_eviction(event: &Event) -> bool {
    [event.name.as_deref(), event.message.as_deref()]
        .into_iter()
        .flatten()
        .any(|text| text.to_ascii_lowercase().contains("evict"))
}

/// The message of an evicted Spot group; `None` when it was not evicted.
pub(super) fn eviction(group: &ContainerGroup) -> Option<String> {
    let properties = &group.properties;
    if properties.priority != Some(ContainerGroupPriority::Spot) {
        return None;
    }
    let group_events = properties.instance_view.iter().flat_map(|v| &v.events);
    let container_events = properties
        .containers
        .iter()
        .filter_map(|c| c.properties.instance_view.as_ref())
        .flat_map(|v| &v.events);
    let event = group_events
        .chain(container_events)
        .find(|e| mentions_eviction(e))?;
    let said = event
        .message
        .as_deref()
        .or(event.name.as_deref())
        .unwrap_or_default();
    Some(format!(
        "ACI evicted the Spot container group (Azure reclaimed its capacity): {said}"
    ))
}
