//! The pod conditions this crate owns: PodScheduled, Initialized, ContainersReady, Ready.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::phase::{Outcome, exited_zero};
use super::vocabulary::{CONTAINERS_READY, INITIALIZED, POD_SCHEDULED, READY, SUCCEEDED};

/// The four conditions this module owns, after the pod's other conditions.
pub(super) fn conditions(
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
