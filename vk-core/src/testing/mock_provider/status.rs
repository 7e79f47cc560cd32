//! Pod statuses the MockProvider reports: Pending, Running, and terminated.
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::MockContainer;

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

/// Accepted, containers being created.
pub(super) fn pending(containers: &[MockContainer], at: Timestamp) -> PodStatus {
    PodStatus {
        phase: Some("Pending".into()),
        conditions: Some(vec![
            condition("PodScheduled", true, at),
            condition("Initialized", true, at),
            condition("ContainersReady", false, at),
            condition("Ready", false, at),
        ]),
        container_statuses: Some(
            containers
                .iter()
                .map(|c| {
                    container_status(
                        &c.name,
                        &c.image,
                        ContainerState {
                            waiting: Some(ContainerStateWaiting {
                                reason: Some("ContainerCreating".into()),
                                message: None,
                            }),
                            ..ContainerState::default()
                        },
                        false,
                    )
                })
                .collect(),
        ),
        ..PodStatus::default()
    }
}

/// Every container running and ready.
pub(super) fn running(
    containers: &[MockContainer],
    ip: &str,
    started: Timestamp,
    at: Timestamp,
) -> PodStatus {
    PodStatus {
        phase: Some("Running".into()),
        pod_ip: Some(ip.to_owned()),
        pod_ips: Some(vec![PodIP { ip: ip.to_owned() }]),
        start_time: Some(Time(started)),
        conditions: Some(vec![
            condition("PodScheduled", true, started),
            condition("Initialized", true, started),
            condition("ContainersReady", true, at),
            condition("Ready", true, at),
        ]),
        container_statuses: Some(
            containers
                .iter()
                .map(|c| {
                    container_status(
                        &c.name,
                        &c.image,
                        ContainerState {
                            running: Some(ContainerStateRunning {
                                started_at: Some(Time(at)),
                            }),
                            ..ContainerState::default()
                        },
                        true,
                    )
                })
                .collect(),
        ),
        ..PodStatus::default()
    }
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
    PodStatus {
        phase: Some(if ok { "Succeeded" } else { "Failed" }.into()),
        pod_ip: Some(ip.to_owned()),
        pod_ips: Some(vec![PodIP { ip: ip.to_owned() }]),
        start_time: Some(Time(started)),
        conditions: Some(vec![
            condition("PodScheduled", true, started),
            condition("Initialized", true, started),
            condition("ContainersReady", false, at),
            condition("Ready", false, at),
        ]),
        container_statuses: Some(
            containers
                .iter()
                .map(|c| {
                    container_status(
                        &c.name,
                        &c.image,
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
                        },
                        false,
                    )
                })
                .collect(),
        ),
        ..PodStatus::default()
    }
}
