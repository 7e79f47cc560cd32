//! Unit tests of ContainerGroup -> PodStatus.

use k8s_openapi::api::core::v1::{
    Container as PodContainer, Pod, PodCondition, PodReadinessGate, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::containers::container_id;
use super::state::{ContainerKind, GroupPhase, translate_state};
use super::*;
use crate::container_group::{ContainerGroup, InstanceState};

const GROUP_ID: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g";

fn now() -> Timestamp {
    "2026-01-02T03:04:05Z".parse().unwrap()
}

fn pod(containers: &[&str], init_containers: &[&str], restart_policy: &str) -> Pod {
    let container = |name: &&str| PodContainer {
        name: (*name).to_owned(),
        image: Some(format!("registry.example/{name}:1")),
        ..PodContainer::default()
    };
    Pod {
        metadata: ObjectMeta {
            name: Some("web".to_owned()),
            namespace: Some("default".to_owned()),
            generation: Some(2),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: containers.iter().map(container).collect(),
            init_containers: (!init_containers.is_empty())
                .then(|| init_containers.iter().map(container).collect()),
            restart_policy: Some(restart_policy.to_owned()),
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// A group in `provisioning` state whose containers have the given instance views.
fn aci_group(
    provisioning: &str,
    state: Option<&str>,
    containers: Value,
    init_containers: Value,
) -> ContainerGroup {
    let mut body = json!({
        "id": GROUP_ID,
        "name": "g",
        "properties": {
            "provisioningState": provisioning,
            "containers": containers,
            "initContainers": init_containers,
            "ipAddress": {"ip": "10.1.2.3", "type": "Private", "ports": [{"port": 80}]},
        }
    });
    if let Some(state) = state {
        body["properties"]["instanceView"] = json!({"state": state, "events": []});
    }
    serde_json::from_value(body).unwrap()
}

fn container(name: &str, view: Value) -> Value {
    json!({"name": name, "properties": {"image": format!("registry.example/{name}:1"), "instanceView": view}})
}

fn running(name: &str) -> Value {
    container(
        name,
        json!({"restartCount": 0, "currentState": {"state": "Running", "startTime": "2026-01-02T03:00:00Z"}}),
    )
}

fn exited(name: &str, code: i32) -> Value {
    container(
        name,
        json!({"restartCount": 0, "currentState": {
            "state": "Terminated", "exitCode": code, "detailStatus": if code == 0 { "Completed" } else { "Error" },
            "startTime": "2026-01-02T03:00:00Z", "finishTime": "2026-01-02T03:01:00Z"}}),
    )
}

fn example(name: &str) -> ContainerGroup {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = dir
        .ancestors()
        .map(|dir| dir.join("shared/aci-spec/2025-09-01/examples").join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} not found beside the repository"));
    let example: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::from_value(example["responses"]["200"]["body"].clone()).unwrap()
}

fn condition<'a>(status: &'a PodStatus, type_: &str) -> &'a PodCondition {
    let conditions = status.conditions.as_ref().unwrap();
    conditions.iter().find(|c| c.type_ == type_).unwrap()
}

fn only_container(status: &PodStatus) -> &ContainerStatus {
    &status.container_statuses.as_ref().unwrap()[0]
}

fn waiting_reason(status: &ContainerStatus) -> &str {
    let waiting = status.state.as_ref().unwrap().waiting.as_ref();
    waiting.unwrap().reason.as_deref().unwrap()
}

#[test]
fn state_table_should_cover_every_known_aci_state() {
    use ContainerKind::{Running, Terminated, Waiting};
    let rows = [
        ("Running", Running, GroupPhase::FromContainers),
        (
            "Terminated",
            Terminated {
                default_exit_code: 137,
            },
            GroupPhase::FromContainers,
        ),
        (
            "Succeeded",
            Terminated {
                default_exit_code: 0,
            },
            GroupPhase::Succeeded,
        ),
        (
            "Failed",
            Terminated {
                default_exit_code: 1,
            },
            GroupPhase::Failed,
        ),
        (
            "Stopped",
            Terminated {
                default_exit_code: 137,
            },
            GroupPhase::Stopped,
        ),
        ("Waiting", Waiting, GroupPhase::FromContainers),
        ("Pending", Waiting, GroupPhase::FromContainers),
        ("Creating", Waiting, GroupPhase::FromContainers),
        ("Repairing", Waiting, GroupPhase::FromContainers),
        ("Hibernating", Waiting, GroupPhase::Unknown),
    ];
    for (state, container, group) in rows {
        let row = translate_state(&InstanceState::from(state));
        assert_eq!((row.container, row.group), (container, group), "{state}");
    }
}

#[test]
fn get_succeeded_example_without_instance_view_should_be_pending_and_creating() {
    let status = pod_status(
        &example("ContainerGroupsGet_Succeeded.json"),
        &pod(&["demo1"], &[], "Always"),
        now(),
    );
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(status.pod_ips.as_ref().unwrap()[0].ip, "10.0.0.1");
    let container = only_container(&status);
    assert_eq!(waiting_reason(container), "ContainerCreating");
    assert!(!container.ready);
    assert_eq!(container.container_id, None);
    assert_eq!(condition(&status, "PodScheduled").status, "True");
    assert_eq!(condition(&status, "Ready").status, "False");
    assert_eq!(status.start_time, Some(Time(now())));
}

#[test]
fn get_failed_example_should_fail_with_the_mount_event() {
    let status = pod_status(
        &example("ContainerGroupsGet_Failed.json"),
        &pod(&["demo1"], &[], "Always"),
        now(),
    );
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("FailedMount"));
    assert_eq!(
        status.message.as_deref(),
        Some("Output: mount error(2): Permission denied")
    );
    // Pulling and Pulled are not failures: the container is still being created.
    assert_eq!(waiting_reason(only_container(&status)), "ContainerCreating");
    let expected_start: Timestamp = "2017-08-08T00:09:10Z".parse().unwrap();
    assert_eq!(status.start_time, Some(Time(expected_start)));
}

#[test]
fn running_group_should_be_running_and_ready() {
    let group = aci_group(
        "Succeeded",
        Some("Running"),
        json!([running("app")]),
        json!([]),
    );
    let status = pod_status(&group, &pod(&["app"], &[], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.pod_ip.as_deref(), Some("10.1.2.3"));
    let container = only_container(&status);
    assert!(container.ready);
    assert_eq!(container.started, Some(true));
    assert_eq!(container.image, "registry.example/app:1");
    assert_eq!(container.image_id, "registry.example/app:1");
    let started: Timestamp = "2026-01-02T03:00:00Z".parse().unwrap();
    let running = container.state.as_ref().unwrap().running.as_ref().unwrap();
    assert_eq!(running.started_at, Some(Time(started)));
    let id = container.container_id.as_deref().unwrap();
    assert_eq!(id, container_id(GROUP_ID, "app"));
    assert!(id.starts_with("aci://") && id.len() == 6 + 64);
    for type_ in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
        let condition = condition(&status, type_);
        assert_eq!(condition.status, "True", "{type_}");
        assert_eq!(condition.observed_generation, Some(2));
    }
    assert_eq!(status.start_time, Some(Time(started)));
}

#[test]
fn container_id_should_differ_per_group_and_container() {
    let a = container_id(GROUP_ID, "app");
    assert_eq!(a, container_id(GROUP_ID, "app"));
    assert_ne!(a, container_id(GROUP_ID, "sidecar"));
    assert_ne!(a, container_id("/other", "app"));
    assert!(
        a["aci://".len()..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
}

#[test]
fn never_policy_with_a_failed_container_should_fail_with_exit_codes() {
    let group = aci_group(
        "Succeeded",
        Some("Running"),
        json!([exited("ok", 0), exited("bad", 3)]),
        json!([]),
    );
    let status = pod_status(&group, &pod(&["ok", "bad"], &[], "Never"), now());
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    let statuses = status.container_statuses.as_ref().unwrap();
    let names: Vec<_> = statuses.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ok", "bad"]);
    let bad = statuses[1]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!(bad.exit_code, 3);
    assert_eq!(bad.reason.as_deref(), Some("Error"));
    assert_eq!(bad.container_id, statuses[1].container_id);
    let finished: Timestamp = "2026-01-02T03:01:00Z".parse().unwrap();
    assert_eq!(bad.finished_at, Some(Time(finished)));
    assert_eq!(
        condition(&status, "Ready").reason.as_deref(),
        Some("ContainersNotReady")
    );
    assert_eq!(
        condition(&status, "ContainersReady").message.as_deref(),
        Some("containers with unready status: [ok bad]")
    );
}

#[test]
fn never_policy_with_every_container_exited_zero_should_succeed() {
    let group = aci_group(
        "Succeeded",
        Some("Running"),
        json!([exited("a", 0), exited("b", 0)]),
        json!([]),
    );
    let status = pod_status(&group, &pod(&["a", "b"], &[], "Never"), now());
    assert_eq!(status.phase.as_deref(), Some("Succeeded"));
    assert_eq!(
        condition(&status, "Ready").reason.as_deref(),
        Some("PodCompleted")
    );
    assert_eq!(condition(&status, "Ready").status, "False");
}

#[test]
fn on_failure_policy_with_a_failed_container_should_keep_running() {
    let group = aci_group(
        "Succeeded",
        Some("Running"),
        json!([exited("bad", 1)]),
        json!([]),
    );
    assert_eq!(
        pod_status(&group, &pod(&["bad"], &[], "OnFailure"), now())
            .phase
            .as_deref(),
        Some("Running")
    );
    let group = group_with_state("Succeeded", json!([exited("ok", 0)]));
    assert_eq!(
        pod_status(&group, &pod(&["ok"], &[], "OnFailure"), now())
            .phase
            .as_deref(),
        Some("Succeeded")
    );
}

fn group_with_state(state: &str, containers: Value) -> ContainerGroup {
    aci_group("Succeeded", Some(state), containers, json!([]))
}

#[test]
fn group_state_succeeded_or_failed_should_decide_the_phase() {
    let succeeded = group_with_state("Succeeded", json!([exited("a", 0)]));
    assert_eq!(
        pod_status(&succeeded, &pod(&["a"], &[], "Always"), now())
            .phase
            .as_deref(),
        Some("Succeeded")
    );
    let failed = group_with_state("Failed", json!([exited("a", 2)]));
    let status = pod_status(&failed, &pod(&["a"], &[], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("ProviderFailed"));
}

#[test]
fn stopped_group_should_fail_unless_every_container_exited_zero() {
    let stopped = group_with_state("Stopped", json!([running("a")]));
    let status = pod_status(&stopped, &pod(&["a"], &[], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("Stopped"));
    assert!(
        !only_container(&status).ready,
        "a stopped group's stale Running is not ready"
    );
    assert_eq!(condition(&status, "Ready").status, "False");
    let done = group_with_state("Stopped", json!([exited("a", 0)]));
    assert_eq!(
        pod_status(&done, &pod(&["a"], &[], "Never"), now())
            .phase
            .as_deref(),
        Some("Succeeded")
    );
}

#[test]
fn restarting_container_should_report_restarts_and_last_state() {
    let view = json!({
        "restartCount": 3,
        "currentState": {"state": "Waiting", "detailStatus": "CrashLoopBackOff: Back-off 40s restarting failed container"},
        "previousState": {"state": "Terminated", "exitCode": 1, "detailStatus": "Error",
                          "startTime": "2026-01-02T03:00:00Z", "finishTime": "2026-01-02T03:00:05Z"}
    });
    let group = group_with_state("Running", json!([container("app", view)]));
    let status = pod_status(&group, &pod(&["app"], &[], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let app = only_container(&status);
    assert_eq!(app.restart_count, 3);
    assert_eq!(waiting_reason(app), "CrashLoopBackOff");
    let waiting = app.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(
        waiting.message.as_deref(),
        Some("CrashLoopBackOff: Back-off 40s restarting failed container")
    );
    let last = app
        .last_state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert!(app.container_id.is_some());
    assert!(!app.ready);
    assert_eq!(app.started, Some(false));
}

#[test]
fn init_containers_should_hold_the_pod_pending_until_all_exited_zero() {
    let group = aci_group(
        "Succeeded",
        Some("Running"),
        json!([container("app", json!({}))]),
        json!([exited("migrate", 0), running("seed")]),
    );
    let status = pod_status(
        &group,
        &pod(&["app"], &["migrate", "seed"], "Always"),
        now(),
    );
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    let inits = status.init_container_statuses.as_ref().unwrap();
    assert_eq!(
        inits.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["migrate", "seed"]
    );
    let initialized = condition(&status, "Initialized");
    assert_eq!(initialized.status, "False");
    assert_eq!(
        initialized.reason.as_deref(),
        Some("ContainersNotInitialized")
    );
    assert_eq!(
        initialized.message.as_deref(),
        Some("containers with incomplete status: [seed]")
    );
    assert_eq!(waiting_reason(only_container(&status)), "ContainerCreating");

    let done = aci_group(
        "Succeeded",
        Some("Running"),
        json!([running("app")]),
        json!([exited("migrate", 0), exited("seed", 0)]),
    );
    let status = pod_status(&done, &pod(&["app"], &["migrate", "seed"], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(condition(&status, "Initialized").status, "True");
}

#[test]
fn failed_init_container_with_never_policy_should_fail_the_pod() {
    let group = aci_group(
        "Succeeded",
        Some("Running"),
        json!([container("app", json!({}))]),
        json!([exited("migrate", 4)]),
    );
    let status = pod_status(&group, &pod(&["app"], &["migrate"], "Never"), now());
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("InitContainerFailed"));
    let status = pod_status(&group, &pod(&["app"], &["migrate"], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Pending"));
}

#[test]
fn unknown_group_state_should_be_pending_with_the_raw_value() {
    let group = group_with_state("Hibernating", json!([running("app")]));
    let status = pod_status(&group, &pod(&["app"], &[], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert!(
        status
            .message
            .as_deref()
            .unwrap()
            .contains("\"Hibernating\"")
    );
}

#[test]
fn unknown_container_state_should_wait_with_the_raw_value() {
    let view = json!({"currentState": {"state": "Teleporting"}});
    let group = group_with_state("Running", json!([container("app", view)]));
    let status = pod_status(&group, &pod(&["app"], &[], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    let app = only_container(&status);
    assert_eq!(waiting_reason(app), "UnknownState");
    let waiting = app.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert!(
        waiting
            .message
            .as_deref()
            .unwrap()
            .contains("\"Teleporting\"")
    );
}

#[test]
fn unknown_provisioning_state_without_instance_view_should_be_pending_with_the_raw_value() {
    let group = aci_group(
        "Hibernating",
        None,
        json!([container("app", Value::Null)]),
        json!([]),
    );
    let status = pod_status(&group, &pod(&["app"], &[], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert!(
        status
            .message
            .as_deref()
            .unwrap()
            .contains("\"Hibernating\"")
    );
}

#[test]
fn terminated_without_exit_code_should_be_status_unknown() {
    let view = json!({"currentState": {"state": "Terminated"}});
    let group = group_with_state("Running", json!([container("app", view)]));
    let status = pod_status(&group, &pod(&["app"], &[], "Never"), now());
    let terminated = only_container(&status)
        .state
        .as_ref()
        .unwrap()
        .terminated
        .clone()
        .unwrap();
    assert_eq!(terminated.exit_code, 137);
    assert_eq!(terminated.reason.as_deref(), Some("ContainerStatusUnknown"));
    assert_eq!(status.phase.as_deref(), Some("Failed"));
}

#[test]
fn image_pull_failure_should_fail_with_err_image_pull() {
    let view = json!({"currentState": {"state": "Waiting", "detailStatus": ""}, "events": [
        {"name": "Pulling", "type": "Normal", "message": "pulling image \"nope:1\"", "lastTimestamp": "2026-01-02T03:00:00Z"},
        {"name": "Failed", "type": "Warning", "message": "Failed to pull image \"nope:1\": not found", "lastTimestamp": "2026-01-02T03:00:02Z"}
    ]});
    let group = aci_group(
        "Failed",
        Some("Pending"),
        json!([container("app", view)]),
        json!([]),
    );
    let status = pod_status(&group, &pod(&["app"], &[], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("ErrImagePull"));
    assert_eq!(
        status.message.as_deref(),
        Some("container app: Failed to pull image \"nope:1\": not found")
    );
    assert_eq!(waiting_reason(only_container(&status)), "ErrImagePull");
}

#[test]
fn failed_provisioning_without_events_should_be_provider_failed() {
    let group = aci_group(
        "Failed",
        None,
        json!([container("app", Value::Null)]),
        json!([]),
    );
    let status = pod_status(&group, &pod(&["app"], &[], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("ProviderFailed"));
    assert!(status.message.as_deref().unwrap().contains("Failed"));
}

#[test]
fn container_missing_from_the_group_should_be_creating_in_pod_order() {
    let group = group_with_state("Running", json!([running("b")]));
    let status = pod_status(&group, &pod(&["a", "b"], &[], "Always"), now());
    let statuses = status.container_statuses.as_ref().unwrap();
    assert_eq!(statuses[0].name, "a");
    assert_eq!(waiting_reason(&statuses[0]), "ContainerCreating");
    assert!(statuses[1].ready);
    assert_eq!(status.phase.as_deref(), Some("Pending"));
}

#[test]
fn transition_time_should_carry_over_only_when_the_status_is_unchanged() {
    let earlier: Timestamp = "2025-12-31T00:00:00Z".parse().unwrap();
    let old = |type_: &str, status: &str| PodCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        last_transition_time: Some(Time(earlier)),
        ..PodCondition::default()
    };
    let mut pod = pod(&["app"], &[], "Always");
    pod.status = Some(PodStatus {
        conditions: Some(vec![
            old("PodScheduled", "True"),
            old("Ready", "False"),
            old("DisruptionTarget", "True"),
        ]),
        start_time: Some(Time(earlier)),
        qos_class: Some("Burstable".to_owned()),
        ..PodStatus::default()
    });
    let group = group_with_state("Running", json!([running("app")]));
    let status = pod_status(&group, &pod, now());
    let at = |type_: &str| {
        condition(&status, type_)
            .last_transition_time
            .clone()
            .unwrap()
            .0
    };
    assert_eq!(at("PodScheduled"), earlier);
    assert_eq!(at("Ready"), now());
    assert_eq!(at("Initialized"), now());
    assert_eq!(condition(&status, "DisruptionTarget").status, "True");
    assert_eq!(status.start_time, Some(Time(earlier)));
    assert_eq!(status.qos_class.as_deref(), Some("Burstable"));
}

#[test]
fn readiness_gates_should_hold_ready_until_their_conditions_are_true() {
    let mut pod = pod(&["app"], &[], "Always");
    pod.spec.as_mut().unwrap().readiness_gates = Some(vec![PodReadinessGate {
        condition_type: "example.com/lb".to_owned(),
    }]);
    let group = group_with_state("Running", json!([running("app")]));
    let status = pod_status(&group, &pod, now());
    assert_eq!(condition(&status, "ContainersReady").status, "True");
    let ready = condition(&status, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("False", Some("ReadinessGatesNotReady"))
    );

    pod.status = Some(PodStatus {
        conditions: Some(vec![PodCondition {
            type_: "example.com/lb".to_owned(),
            status: "True".to_owned(),
            ..PodCondition::default()
        }]),
        ..PodStatus::default()
    });
    assert_eq!(
        condition(&pod_status(&group, &pod, now()), "Ready").status,
        "True"
    );
}

#[test]
fn get_failed_example_status_should_match_snapshot() {
    let status = pod_status(
        &example("ContainerGroupsGet_Failed.json"),
        &pod(&["demo1"], &[], "Always"),
        now(),
    );
    insta::assert_json_snapshot!(status);
}

#[test]
fn restarting_group_with_init_containers_status_should_match_snapshot() {
    let view = json!({
        "restartCount": 2,
        "currentState": {"state": "Running", "startTime": "2026-01-02T03:02:00Z"},
        "previousState": {"state": "Terminated", "exitCode": 137, "detailStatus": "OOMKilled",
                          "startTime": "2026-01-02T03:01:00Z", "finishTime": "2026-01-02T03:01:30Z"}
    });
    let group = aci_group(
        "Succeeded",
        Some("Running"),
        json!([container("app", view), running("sidecar")]),
        json!([exited("migrate", 0)]),
    );
    let status = pod_status(
        &group,
        &pod(&["app", "sidecar"], &["migrate"], "Always"),
        now(),
    );
    insta::assert_json_snapshot!(status);
}

#[test]
fn an_evicted_spot_group_should_fail_as_evicted_and_a_regular_one_never() {
    let mut evicted = group_with_state("Stopped", json!([exited("a", 137)]));
    evicted.properties.priority = Some(crate::container_group::ContainerGroupPriority::Spot);
    evicted
        .properties
        .instance_view
        .as_mut()
        .unwrap()
        .events
        .push(
            serde_json::from_value(json!({
                "name": "SpotContainerGroupEvicted",
                "type": "Warning",
                "message": "The Spot container group was evicted: Azure reclaimed the capacity",
            }))
            .unwrap(),
        );
    let status = pod_status(&evicted, &pod(&["a"], &[], "Always"), now());
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("Evicted"));
    assert!(
        status.message.as_deref().unwrap().contains("reclaimed"),
        "{status:?}"
    );
    let mut regular = evicted.clone();
    regular.properties.priority = Some(crate::container_group::ContainerGroupPriority::Regular);
    let status = pod_status(&regular, &pod(&["a"], &[], "Always"), now());
    assert_eq!(status.reason.as_deref(), Some("Stopped"));
}
