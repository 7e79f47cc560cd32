//! Container and init container statuses from ACI container instance views.

use std::fmt::Write as _;

use k8s_openapi::api::core::v1::{
    Container as PodContainer, ContainerState as PodContainerState, ContainerStateRunning,
    ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use sha2::{Digest, Sha256};

use super::events::{event_reason, most_relevant_failure};
use super::state::{ContainerKind, translate_state};
use super::vocabulary::{CONTAINER_CREATING, reason_word};
use crate::container_group::{
    ContainerPropertiesInstanceView, ContainerState, Event, InstanceState, parse_arm_timestamp,
};

/// The status of one pod container from its ACI instance view (`None`: not reported).
pub(super) fn container_status(
    container: &PodContainer,
    view: Option<&ContainerPropertiesInstanceView>,
    group_key: Option<&str>,
) -> ContainerStatus {
    let image = container.image.clone().unwrap_or_default();
    let container_id = group_key.map(|key| container_id(key, &container.name));
    let events = view.map(|view| view.events.as_slice()).unwrap_or_default();
    let state = view
        .and_then(|view| view.current_state.as_ref())
        .map_or_else(
            || waiting(CONTAINER_CREATING, None, events),
            |state| translate_container_state(state, events, container_id.as_deref()),
        );
    let last_state = view
        .and_then(|view| view.previous_state.as_ref())
        .map(|state| translate_container_state(state, &[], container_id.as_deref()));
    let restart_count = view.and_then(|view| view.restart_count).unwrap_or(0).max(0);
    let running = state.running.is_some();
    let created =
        running || state.terminated.is_some() || last_state.is_some() || restart_count > 0;
    ContainerStatus {
        name: container.name.clone(),
        image_id: if created {
            image.clone()
        } else {
            String::new()
        },
        image,
        container_id: created.then_some(container_id).flatten(),
        ready: running,
        started: Some(running),
        restart_count,
        state: Some(state),
        last_state,
        ..ContainerStatus::default()
    }
}

/// One ACI container state as a Kubernetes container state.
fn translate_container_state(
    state: &ContainerState,
    events: &[Event],
    container_id: Option<&str>,
) -> PodContainerState {
    let Some(name) = state.state.as_ref() else {
        return waiting(CONTAINER_CREATING, None, events);
    };
    let row = translate_state(name);
    let detail = state
        .detail_status
        .as_deref()
        .map(str::trim)
        .filter(|detail| !detail.is_empty());
    let started_at = state.start_time.as_deref().and_then(parse_arm_timestamp);
    match row.container {
        ContainerKind::Running => PodContainerState {
            running: Some(ContainerStateRunning {
                started_at: started_at.map(Time),
            }),
            ..PodContainerState::default()
        },
        ContainerKind::Terminated { default_exit_code } => {
            let exit_code = state.exit_code.unwrap_or(default_exit_code);
            let reason = match (detail.and_then(reason_word), state.exit_code) {
                (Some(word), _) => word.to_owned(),
                (None, Some(0)) => "Completed".to_owned(),
                (None, Some(_)) => "Error".to_owned(),
                (None, None) => row.reason.to_owned(),
            };
            let message = match (detail, state.exit_code, &state.state) {
                (Some(detail), _, _) if reason_word(detail).is_none() => Some(detail.to_owned()),
                (_, None, Some(InstanceState::Terminated | InstanceState::Stopped)) => Some(
                    "ACI reported no exit code for this container; its status is unknown"
                        .to_owned(),
                ),
                _ => None,
            };
            PodContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code,
                    reason: Some(reason),
                    message,
                    started_at: started_at.map(Time),
                    finished_at: state
                        .finish_time
                        .as_deref()
                        .and_then(parse_arm_timestamp)
                        .map(Time),
                    container_id: container_id.map(str::to_owned),
                    ..ContainerStateTerminated::default()
                }),
                ..PodContainerState::default()
            }
        }
        ContainerKind::Waiting => {
            if let InstanceState::Other(raw) = name {
                let message = format!("ACI reports container state {raw:?}");
                return waiting(row.reason, Some(message), &[]);
            }
            match detail {
                Some(detail) => {
                    let word = detail
                        .split_once(':')
                        .map_or(detail, |(head, _)| head.trim());
                    match reason_word(word) {
                        Some(word) => waiting(word, Some(detail.to_owned()), &[]),
                        None => waiting(row.reason, Some(detail.to_owned()), events),
                    }
                }
                None => waiting(row.reason, None, events),
            }
        }
    }
}

/// A waiting state; a failure among the container's `events` (an image pull error) gives a
/// better reason and message than the defaults.
fn waiting(reason: &str, message: Option<String>, events: &[Event]) -> PodContainerState {
    let (reason, message) = match most_relevant_failure(events.iter()) {
        Some(event) => (event_reason(event), event.message.clone().or(message)),
        None => (reason.to_owned(), message),
    };
    PodContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason),
            message,
        }),
        ..PodContainerState::default()
    }
}

/// `aci://` and the hex SHA-256 of the group's ARM ID, `/` and the container name: stable for
/// the life of the group, distinct across groups, and free of ARM IDs in the pod status.
pub(super) fn container_id(group_key: &str, container: &str) -> String {
    let digest = Sha256::new()
        .chain_update(group_key.as_bytes())
        .chain_update(b"/")
        .chain_update(container.as_bytes())
        .finalize();
    let mut id = String::with_capacity(6 + 64);
    id.push_str("aci://");
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(id, "{byte:02x}");
    }
    id
}
