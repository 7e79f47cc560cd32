//! The table of ACI states: what each means for a container and for the pod.

use crate::container_group::InstanceState;

use super::vocabulary::{CONTAINER_CREATING, CONTAINER_STATUS_UNKNOWN, UNKNOWN_EXIT_CODE};

/// What one ACI state means for a container and for the pod: the single place ACI states are
/// interpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct StateTranslation {
    /// The container state it becomes.
    pub(super) container: ContainerKind,
    /// The reason used when ACI gives none.
    pub(super) reason: &'static str,
    /// What a group instance view in this state means for the pod phase.
    pub(super) group: GroupPhase,
}

/// Kubernetes container state kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ContainerKind {
    /// `running`.
    Running,
    /// `terminated`, with the exit code used when ACI reports none.
    Terminated { default_exit_code: i32 },
    /// `waiting`.
    Waiting,
}

/// What a group-level instance view state decides about the pod phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GroupPhase {
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
pub(super) fn translate_state(state: &InstanceState) -> StateTranslation {
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
