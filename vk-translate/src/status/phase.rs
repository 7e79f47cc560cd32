//! The pod phase, with its reason and message.

use k8s_openapi::api::core::v1::ContainerStatus;

use super::events::{event_reason, most_relevant_failure};
use super::state::{GroupPhase, translate_state};
use super::vocabulary::{FAILED, PENDING, PROVIDER_FAILED, RUNNING, SUCCEEDED};
use crate::container_group::{ContainerGroup, ProvisioningState, RestartPolicy};

/// The pod phase with its reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Outcome {
    /// `Pending`, `Running`, `Succeeded` or `Failed`.
    pub(super) phase: &'static str,
    /// Pod-level reason.
    pub(super) reason: Option<String>,
    /// Pod-level message.
    pub(super) message: Option<String>,
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
pub(super) fn phase(
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

    if let Some(message) = super::eviction::eviction(group) {
        return Outcome::explained(FAILED, super::eviction::EVICTED.to_owned(), message);
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
pub(super) fn exited_zero(status: &ContainerStatus) -> bool {
    terminated(status) == Some(0)
}
