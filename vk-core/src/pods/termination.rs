//! The last status of a pod being deleted, written before the pod object is removed.
//!
//! A kubelet that has stopped a deleted pod's containers reports them `terminated`, and
//! since Kubernetes 1.27 gives the pod a terminal phase whatever its restart policy
//! (`Succeeded` when every container exited 0, else `Failed`; static pods aside), with
//! `Ready` and `ContainersReady` false (reason `PodCompleted`). Only then does it remove the
//! object. This does the same once the provider has confirmed the deletion:
//!
//! - a container the provider last reported `terminated` keeps that state (its exit code
//!   and reason);
//! - a container that was running was stopped by the provider at the runtime's request:
//!   `terminated` with exit code 0 and reason `Completed`, as a container that exits
//!   cleanly on the kubelet's stop signal shows;
//! - a container that never started (waiting) ends as the kubelet reports a container it
//!   cannot find when the pod is terminated: reason `ContainerStatusUnknown`, exit code 137.
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStatus, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Exit code the kubelet reports for a container it could not locate (SIGKILL).
const UNKNOWN_EXIT_CODE: i32 = 137;

/// The terminated form of one container's status.
fn terminated(c: &ContainerStatus, now: Timestamp) -> ContainerStatus {
    let state = c.state.clone().unwrap_or_default();
    if state.terminated.is_some() {
        return ContainerStatus {
            ready: false,
            started: Some(false),
            ..c.clone()
        };
    }
    let was_running = state.running.is_some() || c.started == Some(true);
    let end = if was_running {
        ContainerStateTerminated {
            exit_code: 0,
            reason: Some("Completed".to_owned()),
            started_at: state.running.and_then(|r| r.started_at),
            finished_at: Some(Time(now)),
            container_id: c.container_id.clone(),
            ..ContainerStateTerminated::default()
        }
    } else {
        ContainerStateTerminated {
            exit_code: UNKNOWN_EXIT_CODE,
            reason: Some("ContainerStatusUnknown".to_owned()),
            message: Some(
                "The container could not be located when the pod was terminated".to_owned(),
            ),
            ..ContainerStateTerminated::default()
        }
    };
    ContainerStatus {
        ready: false,
        started: Some(false),
        state: Some(ContainerState {
            terminated: Some(end),
            ..ContainerState::default()
        }),
        ..c.clone()
    }
}

/// The status to write for a pod whose containers the provider has stopped because the pod
/// is being deleted; `None` when there is nothing to report (no container statuses yet, or
/// the pod has a terminal phase already).
pub(crate) fn final_status(current: Option<&PodStatus>, now: Timestamp) -> Option<PodStatus> {
    let current = current?;
    if matches!(current.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    let containers = current.container_statuses.as_ref()?;
    if containers.is_empty() {
        return None;
    }
    let containers: Vec<ContainerStatus> = containers.iter().map(|c| terminated(c, now)).collect();
    let succeeded = containers.iter().all(|c| {
        c.state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.exit_code == 0)
    });
    let mut status = current.clone();
    status.phase = Some(if succeeded { "Succeeded" } else { "Failed" }.to_owned());
    status.container_statuses = Some(containers);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    for type_ in ["Ready", "ContainersReady"] {
        let unchanged = conditions
            .iter()
            .find(|c| c.type_ == type_)
            .is_some_and(|c| c.status == "False");
        if unchanged {
            continue;
        }
        conditions.retain(|c| c.type_ != type_);
        conditions.push(PodCondition {
            type_: type_.to_owned(),
            status: "False".to_owned(),
            reason: Some("PodCompleted".to_owned()),
            last_transition_time: Some(Time(now)),
            ..PodCondition::default()
        });
    }
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStateRunning, ContainerStateWaiting};

    fn container(name: &str, state: ContainerState) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            ready: state.running.is_some(),
            started: Some(state.running.is_some()),
            container_id: Some(format!("mock://{name}")),
            state: Some(state),
            ..ContainerStatus::default()
        }
    }

    fn running() -> ContainerState {
        ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(Time(Timestamp::UNIX_EPOCH)),
            }),
            ..ContainerState::default()
        }
    }

    fn end(s: &ContainerStatus) -> ContainerStateTerminated {
        s.state.clone().unwrap().terminated.unwrap()
    }

    #[test]
    fn running_containers_should_end_completed_and_the_pod_succeeded() {
        let now = Timestamp::from_second(60).unwrap();
        let current = PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..PodCondition::default()
            }]),
            container_statuses: Some(vec![container("app", running())]),
            ..PodStatus::default()
        };
        let s = final_status(Some(&current), now).unwrap();
        assert_eq!(s.phase.as_deref(), Some("Succeeded"));
        let c = &s.container_statuses.as_ref().unwrap()[0];
        assert!(!c.ready);
        let t = end(c);
        assert_eq!(t.exit_code, 0);
        assert_eq!(t.reason.as_deref(), Some("Completed"));
        assert_eq!(t.finished_at, Some(Time(now)));
        assert_eq!(t.started_at, Some(Time(Timestamp::UNIX_EPOCH)));
        assert_eq!(t.container_id.as_deref(), Some("mock://app"));
        let ready: Vec<_> = s
            .conditions
            .unwrap()
            .into_iter()
            .filter(|c| c.type_.ends_with("Ready"))
            .map(|c| (c.type_, c.status))
            .collect();
        assert_eq!(ready.len(), 2);
        assert!(ready.iter().all(|(_, s)| s == "False"));
    }

    #[test]
    fn a_failed_or_never_started_container_should_fail_the_pod() {
        let failed = container(
            "a",
            ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 2,
                    reason: Some("Error".into()),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            },
        );
        let waiting = container(
            "b",
            ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ContainerCreating".into()),
                    message: None,
                }),
                ..ContainerState::default()
            },
        );
        let current = PodStatus {
            phase: Some("Running".into()),
            container_statuses: Some(vec![failed, waiting, container("c", running())]),
            ..PodStatus::default()
        };
        let s = final_status(Some(&current), Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        let cs = s.container_statuses.unwrap();
        assert_eq!(end(&cs[0]).exit_code, 2);
        assert_eq!(end(&cs[0]).reason.as_deref(), Some("Error"));
        assert_eq!(end(&cs[1]).exit_code, 137);
        assert_eq!(
            end(&cs[1]).reason.as_deref(),
            Some("ContainerStatusUnknown")
        );
        assert_eq!(end(&cs[2]).reason.as_deref(), Some("Completed"));
    }

    #[test]
    fn terminal_pods_and_pods_without_containers_should_be_left_alone() {
        let now = Timestamp::UNIX_EPOCH;
        assert!(final_status(None, now).is_none());
        assert!(final_status(Some(&PodStatus::default()), now).is_none());
        let done = PodStatus {
            phase: Some("Succeeded".into()),
            container_statuses: Some(vec![container("app", running())]),
            ..PodStatus::default()
        };
        assert!(final_status(Some(&done), now).is_none());
    }
}
