use tokio::time::{Duration, Instant};
use vk_translate::container_group::*;

use super::*;
use vk_translate::container_group::{ContainerProperties, EnvironmentVariable};

fn container(command: &[&str]) -> Container {
    Container {
        name: "c".into(),
        properties: ContainerProperties {
            image: Some("busybox".into()),
            command: command.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        },
    }
}

#[test]
fn no_command_should_run_forever() {
    assert_eq!(Behaviour::of(&container(&[])), Behaviour::default());
}

#[test]
fn shell_script_should_print_sleep_and_exit() {
    let b = Behaviour::of(&container(&["sh", "-c", "echo hello; sleep 2; exit 3"]));
    assert_eq!(b.lines, vec!["hello".to_owned()]);
    assert_eq!(b.exit, Some((3, Duration::from_secs(2))));
    let forever = Behaviour::of(&container(&["/bin/sh", "-c", "echo hi; sleep infinity"]));
    assert_eq!(forever.exit, None);
}

#[test]
fn emulator_env_should_override_the_command() {
    let mut c = container(&["nginx"]);
    c.properties.environment_variables = vec![
        EnvironmentVariable {
            name: "EMULATOR_RUN_SECONDS".into(),
            value: Some("5".into()),
            ..Default::default()
        },
        EnvironmentVariable {
            name: "EMULATOR_EXIT_CODE".into(),
            value: Some("7".into()),
            ..Default::default()
        },
    ];
    assert_eq!(Behaviour::of(&c).exit, Some((7, Duration::from_secs(5))));
}

#[tokio::test(start_paused = true)]
async fn restart_policy_always_should_count_restarts() {
    let start = Instant::now();
    let record = GroupRecord {
        spec: ContainerGroup::default(),
        started: start,
        fail_provisioning: false,
        deleting_since: None,
        ip: "10.0.0.1".into(),
        stopped: None,
    };
    let c = container(&["sh", "-c", "sleep 2; exit 1"]);
    let now = record.container_now(&c, start, start + Duration::from_secs(5));
    assert!(now.running);
    assert_eq!(now.restart_count, 2);
    assert_eq!(now.previous.map(|p| p.2), Some(1));
}

#[tokio::test(start_paused = true)]
async fn run_spans_should_end_with_the_last_exit_only() {
    let start = Instant::now();
    let timeline = Timeline {
        pending: Duration::from_secs(1),
        creating: Duration::from_secs(2),
        deleting: Duration::ZERO,
    };
    let mut record = GroupRecord {
        spec: ContainerGroup::default(),
        started: start,
        fail_provisioning: false,
        deleting_since: None,
        ip: String::new(),
        stopped: None,
    };
    let up = start + Duration::from_secs(3);
    let exits = container(&["sh", "-c", "sleep 5; exit 1"]);
    assert_eq!(
        record.run_span(&container(&[]), &timeline),
        Some((up, None))
    );
    assert_eq!(
        record.run_span(&exits, &timeline),
        Some((up, None)),
        "restarted"
    );
    record.spec.properties.restart_policy = Some(RestartPolicy::Never);
    let ended = Some((up, Some(up + Duration::from_secs(5))));
    assert_eq!(record.run_span(&exits, &timeline), ended);
    assert_eq!(record.run_span(&container(&["true"]), &timeline), None);
    record.fail_provisioning = true;
    assert_eq!(record.run_span(&container(&[]), &timeline), None);
}

#[tokio::test(start_paused = true)]
async fn restart_policy_never_should_stay_terminated() {
    let start = Instant::now();
    let mut record = GroupRecord {
        spec: ContainerGroup::default(),
        started: start,
        fail_provisioning: false,
        deleting_since: None,
        ip: String::new(),
        stopped: None,
    };
    record.spec.properties.restart_policy = Some(RestartPolicy::Never);
    let c = container(&["sh", "-c", "sleep 2; exit 3"]);
    let now = record.container_now(&c, start, start + Duration::from_secs(5));
    assert!(!now.running);
    assert_eq!((now.exit_code, now.restart_count), (Some(3), 0));
}
