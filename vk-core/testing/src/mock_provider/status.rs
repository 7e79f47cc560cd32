//! Pod statuses the MockProvider reports: Pending, Running, and terminated.
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::container::MockContainer;

fn condition(ty: &str, ok: bool, at: Timestamp) -> PodCondition {
    PodCondition {
        type_: ty.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        last_transition_time: Some(Time(at)),
        ..PodCondition::default()
    }
}

fn container_status(
    name: &str,
    image: &str,
    state: ContainerState,
    ready: bool,
) -> ContainerStatus {
    ContainerStatus {
        name: name.to_owned(),
        image: image.to_owned(),
        image_id: format!("mock://{image}"),
        container_id: Some(format!("mock://{name}")),
        ready,
        started: Some(state.running.is_some()),
        restart_count: 0,
        state: Some(state),
        ..ContainerStatus::default()
    }
}

/// A status in `phase` whose containers are all in the state `state` makes for them, ready
/// or not; `ip` and `started` once the pod runs. `PodScheduled` and `Initialized` date from
/// `started` (or `at`), the readiness conditions from `at`.
fn status(
    phase: &str,
    containers: &[MockContainer],
    ready: bool,
    ip: Option<&str>,
    started: Option<Timestamp>,
    at: Timestamp,
    state: impl Fn(&MockContainer) -> ContainerState,
) -> PodStatus {
    let scheduled = started.unwrap_or(at);
    PodStatus {
        phase: Some(phase.to_owned()),
        pod_ip: ip.map(str::to_owned),
        pod_ips: ip.map(|ip| vec![PodIP { ip: ip.to_owned() }]),
        start_time: started.map(Time),
        conditions: Some(vec![
            condition("PodScheduled", true, scheduled),
            condition("Initialized", true, scheduled),
            condition("ContainersReady", ready, at),
            condition("Ready", ready, at),
        ]),
        container_statuses: Some(
            containers
                .iter()
                .map(|c| container_status(&c.name, &c.image, state(c), ready))
                .collect(),
        ),
        ..PodStatus::default()
    }
}

/// Accepted, containers being created.
pub(super) fn pending(containers: &[MockContainer], at: Timestamp) -> PodStatus {
    status("Pending", containers, false, None, None, at, |_| {
        ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some("ContainerCreating".into()),
                message: None,
            }),
            ..ContainerState::default()
        }
    })
}

/// Every container running and ready.
pub(super) fn running(
    containers: &[MockContainer],
    ip: &str,
    started: Timestamp,
    at: Timestamp,
) -> PodStatus {
    status(
        "Running",
        containers,
        true,
        Some(ip),
        Some(started),
        at,
        |_| ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(Time(at)),
            }),
            ..ContainerState::default()
        },
    )
}

/// Every container exited with `exit_code`: Succeeded for 0, Failed otherwise.
pub(super) fn terminated(
    containers: &[MockContainer],
    ip: &str,
    started: Timestamp,
    at: Timestamp,
    exit_code: i32,
) -> PodStatus {
    let ok = exit_code == 0;
    let phase = if ok { "Succeeded" } else { "Failed" };
    status(phase, containers, false, Some(ip), Some(started), at, |c| {
        ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code,
                reason: Some(if ok { "Completed" } else { "Error" }.into()),
                started_at: Some(Time(started)),
                finished_at: Some(Time(at)),
                container_id: Some(format!("mock://{}", c.name)),
                ..ContainerStateTerminated::default()
            }),
            ..ContainerState::default()
        }
    })
}
