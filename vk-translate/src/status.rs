//! ContainerGroup -> PodStatus: phase, conditions and container statuses from ACI's instance view.
//!
//! [`pod_status`] is pure: the clock reading is an argument, and the pod's current status is
//! only read to carry over what ACI cannot know (condition transition times, start time, QoS
//! class, host IP, conditions owned by others). Every ACI state is interpreted in one table,
//! `translate_state`; values it does not know leave the pod `Pending` with the raw value in the
//! message, never a guess.
//!
//! ACI reports no readiness probe results and no image digests: a running container counts as
//! ready, and `imageID` is the image reference ACI ran.

use std::fmt::Write as _;

use k8s_openapi::api::core::v1::{
    Container as PodContainer, ContainerState as PodContainerState, ContainerStateRunning,
    ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Pod, PodCondition, PodIP,
    PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::container_group::{
    ContainerGroup, ContainerPropertiesInstanceView, ContainerState, Event, EventType,
    InstanceState, ProvisioningState, RestartPolicy, parse_arm_timestamp,
};

/// Pod phase `Pending`.
const PENDING: &str = "Pending";
/// Pod phase `Running`.
const RUNNING: &str = "Running";
/// Pod phase `Succeeded`.
const SUCCEEDED: &str = "Succeeded";
/// Pod phase `Failed`.
const FAILED: &str = "Failed";

/// Reason of a failed group when no ACI event says more.
const PROVIDER_FAILED: &str = "ProviderFailed";
/// Waiting reason of a container ACI has not started yet.
const CONTAINER_CREATING: &str = "ContainerCreating";
/// Exit code and reason the kubelet uses for a container whose exit status was lost.
const UNKNOWN_EXIT_CODE: i32 = 137;
/// See [`UNKNOWN_EXIT_CODE`].
const CONTAINER_STATUS_UNKNOWN: &str = "ContainerStatusUnknown";

/// The conditions this module owns; any other condition on the pod is carried over untouched.
const POD_SCHEDULED: &str = "PodScheduled";
/// See [`POD_SCHEDULED`].
const INITIALIZED: &str = "Initialized";
/// See [`POD_SCHEDULED`].
const CONTAINERS_READY: &str = "ContainersReady";
/// See [`POD_SCHEDULED`].
const READY: &str = "Ready";

/// The pod status for `pod` given its container group as ARM last reported it, at time `now`.
///
/// Containers and init containers are listed in pod-spec order; a container ACI does not report
/// (yet) is waiting in `ContainerCreating`.
#[must_use]
pub fn pod_status(group: &ContainerGroup, pod: &Pod, now: Timestamp) -> PodStatus {
    let spec = pod.spec.as_ref();
    let existing = pod.status.as_ref();
    let generation = pod.metadata.generation;
    let group_key = group.id.as_deref().or(group.name.as_deref());

    let init_containers: Vec<ContainerStatus> = spec
        .and_then(|spec| spec.init_containers.as_ref())
        .into_iter()
        .flatten()
        .map(|container| {
            let view = group
                .properties
                .init_containers
                .iter()
                .find(|aci| aci.name == container.name)
                .and_then(|aci| aci.properties.instance_view.as_ref());
            container_status(container, view, group_key)
        })
        .collect();
    let containers: Vec<ContainerStatus> = spec
        .map(|spec| spec.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|container| {
            let view = group
                .properties
                .containers
                .iter()
                .find(|aci| aci.name == container.name)
                .and_then(|aci| aci.properties.instance_view.as_ref());
            container_status(container, view, group_key)
        })
        .collect();

    let restart_policy = spec
        .and_then(|spec| spec.restart_policy.as_deref())
        .map(RestartPolicy::from)
        .or_else(|| group.properties.restart_policy.clone())
        .unwrap_or(RestartPolicy::Always);
    let outcome = phase(group, &init_containers, &containers, &restart_policy);
    let mut containers = containers;
    if matches!(outcome.phase, SUCCEEDED | FAILED) {
        // A finished pod serves nothing, whatever a stale instance view still says.
        for status in &mut containers {
            status.ready = false;
        }
    }

    let ip = group
        .properties
        .ip_address
        .as_ref()
        .and_then(|ip| ip.ip.clone())
        .filter(|ip| !ip.is_empty());
    let start_time = existing
        .and_then(|status| status.start_time.clone())
        .or_else(|| earliest_start(group).map(Time))
        .unwrap_or(Time(now));

    let conditions = conditions(
        pod,
        &outcome,
        &init_containers,
        &containers,
        now,
        generation,
    );

    PodStatus {
        phase: Some(outcome.phase.to_owned()),
        reason: outcome.reason,
        message: outcome.message,
        conditions: Some(conditions),
        pod_ips: ip.clone().map(|ip| vec![PodIP { ip }]),
        pod_ip: ip,
        host_ip: existing.and_then(|status| status.host_ip.clone()),
        host_ips: existing.and_then(|status| status.host_ips.clone()),
        qos_class: existing.and_then(|status| status.qos_class.clone()),
        start_time: Some(start_time),
        init_container_statuses: (!init_containers.is_empty()).then_some(init_containers),
        container_statuses: Some(containers),
        observed_generation: generation,
        ..PodStatus::default()
    }
}

// === ACI states ===

/// What one ACI state means for a container and for the pod: the single place ACI states are
/// interpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StateTranslation {
    /// The container state it becomes.
    container: ContainerKind,
    /// The reason used when ACI gives none.
    reason: &'static str,
    /// What a group instance view in this state means for the pod phase.
    group: GroupPhase,
}

/// Kubernetes container state kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ContainerKind {
    /// `running`.
    Running,
    /// `terminated`, with the exit code used when ACI reports none.
    Terminated { default_exit_code: i32 },
    /// `waiting`.
    Waiting,
}

/// What a group-level instance view state decides about the pod phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GroupPhase {
    /// The containers decide, as the kubelet does.
    FromContainers,
    /// The pod succeeded.
    Succeeded,
    /// The pod failed.
    Failed,
    /// The group was stopped: succeeded if every container exited 0, failed otherwise.
    Stopped,
    /// A state this model does not know: pending, the raw value in the message.
    Unknown,
}

/// The table of ACI states (group instance view `state` and container `currentState.state`).
fn translate_state(state: &InstanceState) -> StateTranslation {
    use ContainerKind::{Running, Terminated, Waiting};
    let (container, reason, group) = match state {
        InstanceState::Running => (Running, "", GroupPhase::FromContainers),
        InstanceState::Terminated => (
            Terminated {
                default_exit_code: UNKNOWN_EXIT_CODE,
            },
            CONTAINER_STATUS_UNKNOWN,
            GroupPhase::FromContainers,
        ),
        InstanceState::Succeeded => (
            Terminated {
                default_exit_code: 0,
            },
            "Completed",
            GroupPhase::Succeeded,
        ),
        InstanceState::Failed => (
            Terminated {
                default_exit_code: 1,
            },
            "Error",
            GroupPhase::Failed,
        ),
        InstanceState::Stopped => (
            Terminated {
                default_exit_code: UNKNOWN_EXIT_CODE,
            },
            "Stopped",
            GroupPhase::Stopped,
        ),
        InstanceState::Waiting | InstanceState::Pending | InstanceState::Creating => {
            (Waiting, CONTAINER_CREATING, GroupPhase::FromContainers)
        }
        InstanceState::Repairing => (Waiting, "Repairing", GroupPhase::FromContainers),
        InstanceState::Other(_) => (Waiting, "UnknownState", GroupPhase::Unknown),
    };
    StateTranslation {
        container,
        reason,
        group,
    }
}

// === container statuses ===

/// The status of one pod container from its ACI instance view (`None`: not reported).
fn container_status(
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
fn container_id(group_key: &str, container: &str) -> String {
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

/// `value` when it is usable as a Kubernetes reason (one CamelCase word), else `None`.
fn reason_word(value: &str) -> Option<&str> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric());
    ok.then_some(value)
}

// === events ===

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
fn most_relevant_failure<'a>(events: impl Iterator<Item = &'a Event>) -> Option<&'a Event> {
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
fn event_reason(event: &Event) -> String {
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

// === phase ===

/// The pod phase with its reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    /// `Pending`, `Running`, `Succeeded` or `Failed`.
    phase: &'static str,
    /// Pod-level reason.
    reason: Option<String>,
    /// Pod-level message.
    message: Option<String>,
}

impl Outcome {
    /// A phase with no reason.
    fn plain(phase: &'static str) -> Self {
        Self {
            phase,
            reason: None,
            message: None,
        }
    }

    /// A phase with a reason and a message.
    fn explained(phase: &'static str, reason: String, message: String) -> Self {
        Self {
            phase,
            reason: Some(reason),
            message: Some(message),
        }
    }
}

/// The pod phase: ARM's provisioning state first, then the group's state, then the containers
/// the way the kubelet counts them.
fn phase(
    group: &ContainerGroup,
    init_containers: &[ContainerStatus],
    containers: &[ContainerStatus],
    restart_policy: &RestartPolicy,
) -> Outcome {
    let properties = &group.properties;
    let provisioning = properties.provisioning_state.as_ref();
    if matches!(
        provisioning,
        Some(ProvisioningState::Failed | ProvisioningState::Canceled)
    ) {
        return provisioning_failure(group, provisioning);
    }

    let group_state = properties
        .instance_view
        .as_ref()
        .and_then(|view| view.state.as_ref());
    match group_state.map(|state| (state, translate_state(state).group)) {
        Some((_, GroupPhase::Succeeded)) => return Outcome::plain(SUCCEEDED),
        Some((_, GroupPhase::Failed)) => {
            return failed_from_events(group, "ACI reports the container group failed");
        }
        Some((_, GroupPhase::Stopped)) => {
            return if !containers.is_empty() && containers.iter().all(exited_zero) {
                Outcome::plain(SUCCEEDED)
            } else {
                Outcome::explained(
                    FAILED,
                    "Stopped".to_owned(),
                    "ACI stopped the container group".to_owned(),
                )
            };
        }
        Some((raw, GroupPhase::Unknown)) => {
            return Outcome::explained(
                PENDING,
                "UnknownState".to_owned(),
                format!("ACI reports container group state {:?}", raw.as_str()),
            );
        }
        Some((_, GroupPhase::FromContainers)) | None => {}
    }
    if let Some(ProvisioningState::Other(raw)) = provisioning
        && group_state.is_none()
    {
        return Outcome::explained(
            PENDING,
            "UnknownState".to_owned(),
            format!("ACI reports provisioning state {raw:?}"),
        );
    }

    // Init containers run one after the other; the pod is pending until all exited 0.
    for init in init_containers {
        if exited_zero(init) {
            continue;
        }
        let failed = terminated(init).is_some_and(|code| code != 0);
        if failed && *restart_policy == RestartPolicy::Never {
            return Outcome::explained(
                FAILED,
                "InitContainerFailed".to_owned(),
                format!("init container {} failed", init.name),
            );
        }
        return Outcome::plain(PENDING);
    }
    containers_phase(containers, restart_policy)
}

/// The kubelet's phase rule over the regular containers.
fn containers_phase(containers: &[ContainerStatus], restart_policy: &RestartPolicy) -> Outcome {
    let (mut waiting, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for status in containers {
        let state = status.state.as_ref();
        if state.is_some_and(|state| state.running.is_some()) {
            running += 1;
        } else if let Some(code) = terminated(status) {
            stopped += 1;
            if code == 0 {
                succeeded += 1;
            }
        } else if status
            .last_state
            .as_ref()
            .is_some_and(|state| state.terminated.is_some())
        {
            // Restarting after an exit: the kubelet counts it as stopped, not as pending.
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    let phase = if containers.is_empty() || waiting > 0 {
        PENDING
    } else if running > 0 {
        RUNNING
    } else if stopped == containers.len() {
        match restart_policy {
            RestartPolicy::Never if succeeded == stopped => SUCCEEDED,
            RestartPolicy::Never => FAILED,
            RestartPolicy::OnFailure if succeeded == stopped => SUCCEEDED,
            _ => RUNNING,
        }
    } else {
        PENDING
    };
    Outcome::plain(phase)
}

/// `Failed` for a failed or canceled provisioning, explained by the most relevant ACI event.
fn provisioning_failure(
    group: &ContainerGroup,
    provisioning: Option<&ProvisioningState>,
) -> Outcome {
    let state = provisioning.map_or("Failed", ProvisioningState::as_str);
    failed_from_events(
        group,
        &format!("ACI reports provisioning state {state} for the container group"),
    )
}

/// `Failed`, with the reason and message of the most relevant failure event of the group or its
/// containers, or `ProviderFailed` and `fallback` when there is none.
fn failed_from_events(group: &ContainerGroup, fallback: &str) -> Outcome {
    let properties = &group.properties;
    let group_events = properties
        .instance_view
        .iter()
        .flat_map(|view| view.events.iter())
        .map(|event| (None, event));
    let container_events = properties
        .init_containers
        .iter()
        .map(|init| (&init.name, init.properties.instance_view.as_ref()))
        .chain(
            properties
                .containers
                .iter()
                .map(|container| (&container.name, container.properties.instance_view.as_ref())),
        )
        .flat_map(|(name, view)| {
            view.into_iter()
                .flat_map(|view| view.events.iter())
                .map(move |event| (Some(name), event))
        });
    let events: Vec<_> = group_events.chain(container_events).collect();
    let best = most_relevant_failure(events.iter().map(|(_, event)| *event));
    let Some(event) = best else {
        return Outcome::explained(FAILED, PROVIDER_FAILED.to_owned(), fallback.to_owned());
    };
    let owner = events
        .iter()
        .find(|(_, candidate)| std::ptr::eq(*candidate, event))
        .and_then(|(owner, _)| *owner);
    let text = event.message.clone().unwrap_or_else(|| fallback.to_owned());
    let message = match owner {
        Some(container) => format!("container {container}: {text}"),
        None => text,
    };
    Outcome::explained(FAILED, event_reason(event), message)
}

/// The exit code of a terminated container.
fn terminated(status: &ContainerStatus) -> Option<i32> {
    status
        .state
        .as_ref()
        .and_then(|state| state.terminated.as_ref())
        .map(|terminated| terminated.exit_code)
}

/// Whether a container terminated with exit code 0.
fn exited_zero(status: &ContainerStatus) -> bool {
    terminated(status) == Some(0)
}

/// The earliest start time ACI reports for any container of the group.
fn earliest_start(group: &ContainerGroup) -> Option<Timestamp> {
    let properties = &group.properties;
    properties
        .init_containers
        .iter()
        .filter_map(|init| init.properties.instance_view.as_ref())
        .chain(
            properties
                .containers
                .iter()
                .filter_map(|container| container.properties.instance_view.as_ref()),
        )
        .flat_map(|view| [view.previous_state.as_ref(), view.current_state.as_ref()])
        .flatten()
        .filter_map(|state| state.start_time.as_deref().and_then(parse_arm_timestamp))
        .min()
}

// === conditions ===

/// The four conditions this module owns, after the pod's other conditions.
fn conditions(
    pod: &Pod,
    outcome: &Outcome,
    init_containers: &[ContainerStatus],
    containers: &[ContainerStatus],
    now: Timestamp,
    generation: Option<i64>,
) -> Vec<PodCondition> {
    let existing: &[PodCondition] = pod
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_deref())
        .unwrap_or_default();
    let completed = outcome.phase == SUCCEEDED;
    let condition = |type_: &str, ok: bool, reason: Option<String>, message: Option<String>| {
        let status = if ok { "True" } else { "False" };
        let last_transition_time = existing
            .iter()
            .find(|old| old.type_ == type_ && old.status == status)
            .and_then(|old| old.last_transition_time.clone())
            .unwrap_or(Time(now));
        PodCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason,
            message,
            last_transition_time: Some(last_transition_time),
            observed_generation: generation,
            ..PodCondition::default()
        }
    };

    let incomplete = names(init_containers.iter().filter(|init| !exited_zero(init)));
    let initialized = if incomplete.is_empty() {
        condition(
            INITIALIZED,
            true,
            completed.then(|| "PodCompleted".to_owned()),
            None,
        )
    } else {
        condition(
            INITIALIZED,
            false,
            Some("ContainersNotInitialized".to_owned()),
            Some(format!("containers with incomplete status: [{incomplete}]")),
        )
    };

    let unready = names(containers.iter().filter(|status| !status.ready));
    let (ready_reason, ready_message) = if completed {
        (Some("PodCompleted".to_owned()), None)
    } else if unready.is_empty() {
        (None, None)
    } else {
        (
            Some("ContainersNotReady".to_owned()),
            Some(format!("containers with unready status: [{unready}]")),
        )
    };
    let containers_ready = unready.is_empty() && !completed;
    let containers_ready_condition = condition(
        CONTAINERS_READY,
        containers_ready,
        ready_reason.clone(),
        ready_message.clone(),
    );

    let gates: Vec<&str> = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.readiness_gates.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|gate| gate.condition_type.as_str())
        .filter(|gate| {
            !existing
                .iter()
                .any(|old| old.type_ == *gate && old.status == "True")
        })
        .collect();
    let ready = if containers_ready && !gates.is_empty() {
        condition(
            READY,
            false,
            Some("ReadinessGatesNotReady".to_owned()),
            Some(format!(
                "the status of pod readiness gates is not \"True\": [{}]",
                gates.join(" ")
            )),
        )
    } else {
        condition(READY, containers_ready, ready_reason, ready_message)
    };

    let owned = [POD_SCHEDULED, INITIALIZED, CONTAINERS_READY, READY];
    existing
        .iter()
        .filter(|old| !owned.contains(&old.type_.as_str()))
        .cloned()
        .chain([
            condition(POD_SCHEDULED, true, None, None),
            initialized,
            containers_ready_condition,
            ready,
        ])
        .collect()
}

/// Container names separated by spaces, as the kubelet lists them in condition messages.
fn names<'a>(statuses: impl Iterator<Item = &'a ContainerStatus>) -> String {
    statuses
        .map(|status| status.name.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
