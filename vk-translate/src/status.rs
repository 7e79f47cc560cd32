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

mod conditions;
mod containers;
mod events;
mod eviction;
mod phase;
mod state;
mod vocabulary;

use conditions::conditions;
use containers::container_status;
use phase::phase;
use vocabulary::{FAILED, SUCCEEDED};

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodIP, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::container_group::{ContainerGroup, RestartPolicy, parse_arm_timestamp};

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

#[cfg(test)]
mod tests;
