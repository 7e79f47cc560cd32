//! A container whose `postStart` hook has not finished is held: the pod status shows it
//! as a kubelet does, waiting (`ContainerCreating`), not started, not ready
//! ([`super::hooks`] runs the hooks; the status tracker and the provider apply the hold).
use k8s_openapi::api::core::v1::{ContainerState, ContainerStateWaiting, PodCondition, PodStatus};

/// The waiting reason of a container whose `postStart` hook has not finished.
const HELD_REASON: &str = "ContainerCreating";

/// Show the containers in `held` as a kubelet shows a container whose `postStart` hook is
/// still running: waiting (`ContainerCreating`), not started, not ready; the pod not Ready;
/// `Pending` while no container runs.
pub(crate) fn hold(status: &mut PodStatus, held: &[String]) {
    if held.is_empty() {
        return;
    }
    let mut changed = Vec::new();
    for c in status.container_statuses.iter_mut().flatten() {
        if !held.contains(&c.name) || c.state.as_ref().is_none_or(|s| s.running.is_none()) {
            continue;
        }
        c.state = Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(HELD_REASON.to_owned()),
                message: Some("the postStart hook is running".to_owned()),
            }),
            ..ContainerState::default()
        });
        c.ready = false;
        c.started = Some(false);
        changed.push(c.name.clone());
    }
    if changed.is_empty() {
        return;
    }
    let any_running = status.container_statuses.iter().flatten().any(|c| {
        c.state
            .as_ref()
            .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
    });
    if !any_running && status.phase.as_deref() == Some("Running") {
        status.phase = Some("Pending".to_owned());
    }
    let unready: Vec<String> = status
        .container_statuses
        .iter()
        .flatten()
        .filter(|c| !c.ready)
        .map(|c| c.name.clone())
        .collect();
    for condition in status.conditions.iter_mut().flatten() {
        if matches!(condition.type_.as_str(), "Ready" | "ContainersReady")
            && condition.status == "True"
        {
            *condition = PodCondition {
                status: "False".to_owned(),
                reason: Some("ContainersNotReady".to_owned()),
                message: Some(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                )),
                ..condition.clone()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running_status() -> PodStatus {
        serde_json::from_value(serde_json::json!({
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "ContainersReady", "status": "True"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [{
                "name": "app", "image": "nginx", "imageID": "", "ready": true,
                "restartCount": 0, "started": true,
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            }],
        }))
        .unwrap()
    }

    #[test]
    fn a_held_container_should_show_waiting_and_the_pod_not_ready() {
        let mut status = running_status();
        hold(&mut status, &["app".to_owned()]);
        let c = &status.container_statuses.as_ref().unwrap()[0];
        assert!(!c.ready);
        assert_eq!(c.started, Some(false));
        let waiting = c.state.as_ref().unwrap().waiting.as_ref().unwrap();
        assert_eq!(waiting.reason.as_deref(), Some("ContainerCreating"));
        assert_eq!(status.phase.as_deref(), Some("Pending"));
        let conditions = status.conditions.unwrap();
        let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "False");
        assert!(ready.message.as_deref().unwrap().contains("app"));
        let scheduled = conditions
            .iter()
            .find(|c| c.type_ == "PodScheduled")
            .unwrap();
        assert_eq!(scheduled.status, "True");
    }

    #[test]
    fn nothing_held_should_change_nothing() {
        let mut status = running_status();
        hold(&mut status, &[]);
        assert_eq!(status, running_status());
        hold(&mut status, &["other".to_owned()]);
        assert_eq!(status, running_status());
    }
}
