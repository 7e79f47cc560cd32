//! The emulator's state: container groups and how they move through time.
//!
//! Nothing runs in the background: every view is computed from the tokio clock when asked
//! (creation time + delays + each container's behaviour), so a paused test clock drives the
//! whole state machine.
//!
//! Timeline of a group after its PUT: `Pending` for `pending_delay`, then `Creating` (image
//! pull) for `creating_delay`, then provisioned (`Succeeded`) with its containers started,
//! or `Failed` under the failed-provisioning fault.
//!
//! A container's behaviour follows its command (see [`Behaviour::of`]).
use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};
use tokio::time::{Duration, Instant};
use vk_translate::container_group::{
    Container, ContainerGroup, ContainerGroupPropertiesInstanceView,
    ContainerPropertiesInstanceView, ContainerState, Event, EventType, InstanceState,
    ProvisioningState, RestartPolicy,
};

/// A container's scripted behaviour.
///
/// Rules, first match wins:
/// 1. env `EMULATOR_RUN_SECONDS=T` (and optional `EMULATOR_EXIT_CODE=N`, default 0): exit N
///    after T seconds; env `EMULATOR_LOG=text` adds a log line.
/// 2. `sh|bash -c SCRIPT`: the script's `echo`/`printf` print log lines (each shows in the
///    log once the `sleep`s before it have passed, as in ACI), `sleep N` adds N seconds,
///    `exit N` ends with N; the end of the script exits 0; `sleep infinity`, a
///    `while`/`tail -f` loop runs forever.
/// 3. `sleep N`: exit 0 after N seconds (`sleep infinity` runs forever); `echo ARGS`:
///    print ARGS and exit 0; `true`/`false`: exit 0/1 at once.
/// 4. Anything else, including no command (the image's default): run forever.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Behaviour {
    /// Lines printed by the container.
    pub lines: Vec<String>,
    /// When each of `lines` is printed, from the start of the run (empty: all at once).
    pub printed_after: Vec<Duration>,
    /// Exit code and run time; `None` runs forever.
    pub exit: Option<(i32, Duration)>,
}

// === impl Behaviour ===

impl Behaviour {
    /// The behaviour of a container spec.
    #[must_use]
    pub fn of(container: &Container) -> Self {
        let env: BTreeMap<&str, &str> = container
            .properties
            .environment_variables
            .iter()
            .filter_map(|e| e.value.as_deref().map(|v| (e.name.as_str(), v)))
            .collect();
        let mut lines: Vec<String> = env
            .get("EMULATOR_LOG")
            .map(|l| (*l).to_owned())
            .into_iter()
            .collect();
        if let Some(secs) = env
            .get("EMULATOR_RUN_SECONDS")
            .and_then(|s| s.parse::<f64>().ok())
        {
            let code = env
                .get("EMULATOR_EXIT_CODE")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            return Self {
                lines,
                exit: Some((code, Duration::from_secs_f64(secs.clamp(0.0, 1e9)))),
                printed_after: Vec::new(),
            };
        }
        let command = &container.properties.command;
        let program = command
            .first()
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned());
        let mut behaviour = match (program.as_deref(), command.get(1).map(String::as_str)) {
            (Some("sh" | "bash" | "ash" | "dash"), Some("-c")) => {
                script(command.get(2).map_or("", String::as_str))
            }
            (Some("sleep"), _) => match command
                .get(1)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| s.is_finite())
            {
                Some(secs) => Self {
                    lines: Vec::new(),
                    exit: Some((0, Duration::from_secs_f64(secs.clamp(0.0, 1e9)))),
                    printed_after: Vec::new(),
                },
                None => Self::default(),
            },
            (Some("echo"), _) => Self {
                lines: vec![command[1..].join(" ")],
                exit: Some((0, Duration::ZERO)),
                printed_after: Vec::new(),
            },
            (Some("true"), _) => Self {
                lines: Vec::new(),
                exit: Some((0, Duration::ZERO)),
                printed_after: Vec::new(),
            },
            (Some("false"), _) => Self {
                lines: Vec::new(),
                exit: Some((1, Duration::ZERO)),
                printed_after: Vec::new(),
            },
            _ => Self::default(),
        };
        if !behaviour.printed_after.is_empty() {
            let mut after = vec![Duration::ZERO; lines.len()];
            after.append(&mut behaviour.printed_after);
            behaviour.printed_after = after;
        }
        lines.append(&mut behaviour.lines);
        behaviour.lines = lines;
        behaviour
    }
}

fn script(text: &str) -> Behaviour {
    let mut lines = Vec::new();
    let mut printed_after = Vec::new();
    let mut elapsed = Duration::ZERO;
    for segment in text.split(['\n', ';']).flat_map(|s| s.split("&&")) {
        let words: Vec<String> = super::shell::words(segment.trim());
        match words.first().map(String::as_str) {
            Some("echo") => {
                lines.push(words[1..].join(" "));
                printed_after.push(elapsed);
            }
            Some("printf") => {
                lines.push(words[1..].join(" ").replace("\\n", ""));
                printed_after.push(elapsed);
            }
            Some("sleep") => match words
                .get(1)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| s.is_finite())
            {
                Some(secs) => elapsed += Duration::from_secs_f64(secs.clamp(0.0, 1e9)),
                None => {
                    return Behaviour {
                        lines,
                        printed_after,
                        exit: None,
                    };
                }
            },
            Some("exit") => {
                let code = words.get(1).and_then(|c| c.parse().ok()).unwrap_or(0);
                return Behaviour {
                    lines,
                    printed_after,
                    exit: Some((code, elapsed)),
                };
            }
            Some("while" | "tail" | "exec") => {
                return Behaviour {
                    lines,
                    printed_after,
                    exit: None,
                };
            }
            _ => {}
        }
    }
    Behaviour {
        lines,
        printed_after,
        exit: Some((0, elapsed)),
    }
}

/// Group timeline settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// Time in `Pending`.
    pub pending: Duration,
    /// Time in `Creating`.
    pub creating: Duration,
    /// Time a deleted group stays `Deleting` (0: gone at once).
    pub deleting: Duration,
}

/// One stored container group.
#[derive(Clone, Debug)]
pub struct GroupRecord {
    /// The group as last PUT (secrets included; stripped on output).
    pub spec: ContainerGroup,
    /// When the current timeline began (create or update).
    pub started: Instant,
    /// Whether provisioning is set to fail.
    pub fail_provisioning: bool,
    /// When a DELETE began, if one did.
    pub deleting_since: Option<Instant>,
    /// The IP given to it.
    pub ip: String,
    /// Set when its containers were stopped (a `stop` action or a Spot eviction).
    pub stopped: Option<Stopped>,
}

/// When and why a group's containers were stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// When.
    pub at: Instant,
    /// Whether Azure evicted the (Spot) group, rather than a `stop` call.
    pub evicted: bool,
}

/// The group event the emulator shows on an evicted Spot group. ACI's reference does not
/// spell an eviction out; the translation recognises any group event naming an eviction on
/// a Spot group (`vk_translate::status`), this is one such.
pub const EVICTION_EVENT: &str = "SpotContainerGroupEvicted";

/// What a container is doing at an instant.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerNow {
    /// Whether it runs.
    pub running: bool,
    /// Start of the current (or last) run.
    pub run_started: Instant,
    /// Restarts so far.
    pub restart_count: i32,
    /// Exit code of the last run if it ended.
    pub exit_code: Option<i32>,
    /// End of the last run if it ended.
    pub finished: Option<Instant>,
    /// The previous run, for restarted containers: (start, finish, code).
    pub previous: Option<(Instant, Instant, i32)>,
}

/// The phase of a group at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, nothing started.
    Pending,
    /// Pulling images.
    Creating,
    /// Provisioned; containers started at the given instant.
    Provisioned(Instant),
    /// Provisioning failed.
    Failed,
    /// Being deleted.
    Deleting,
}

// === impl Stopped ===

impl Stopped {
    /// Show `group` stopped: every container terminated (killed: 137) at the stop, the
    /// group `Stopped`, and an eviction event when Azure evicted it.
    fn apply(self, group: &mut ContainerGroup, wall: &WallClock) {
        let detail = if self.evicted { "Evicted" } else { "Stopped" };
        // What a killed process exits with (SIGKILL).
        let exit_code = 137;
        for c in &mut group.properties.containers {
            let Some(view) = c.properties.instance_view.as_mut() else {
                continue;
            };
            let start_time = view
                .current_state
                .as_ref()
                .and_then(|s| s.start_time.clone());
            let ended = view
                .current_state
                .as_ref()
                .is_some_and(|s| s.state == Some(InstanceState::Terminated));
            if !ended {
                view.current_state = Some(ContainerState {
                    state: Some(InstanceState::Terminated),
                    start_time,
                    exit_code: Some(exit_code),
                    finish_time: Some(wall.at(self.at)),
                    detail_status: Some(detail.into()),
                });
            }
        }
        let view = group
            .properties
            .instance_view
            .get_or_insert_with(ContainerGroupPropertiesInstanceView::default);
        view.state = Some(InstanceState::Stopped);
        if self.evicted {
            view.events.push(event(
                wall.at(self.at),
                EVICTION_EVENT,
                "The Spot container group was evicted: Azure reclaimed the capacity",
                EventType::Warning,
            ));
        }
    }
}

// === impl GroupRecord ===

impl GroupRecord {
    /// The phase at `now`.
    #[must_use]
    pub fn phase(&self, now: Instant, timeline: &Timeline) -> Phase {
        if self.deleting_since.is_some() {
            return Phase::Deleting;
        }
        let provisioned = self.started + timeline.pending + timeline.creating;
        if now < self.started + timeline.pending {
            Phase::Pending
        } else if now < provisioned {
            Phase::Creating
        } else if self.fail_provisioning {
            Phase::Failed
        } else {
            Phase::Provisioned(provisioned)
        }
    }

    /// Whether the DELETE has run its course.
    #[must_use]
    pub fn is_gone(&self, now: Instant, timeline: &Timeline) -> bool {
        self.deleting_since
            .is_some_and(|since| now >= since + timeline.deleting)
    }

    fn restart_policy(&self) -> RestartPolicy {
        self.spec
            .properties
            .restart_policy
            .clone()
            .unwrap_or(RestartPolicy::Always)
    }

    /// Whether a container that exits with `code` is started again.
    fn restarts_after(&self, code: i32) -> bool {
        match self.restart_policy() {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => code != 0,
            _ => true,
        }
    }

    /// A container's state at `now`, given the instant containers started.
    #[must_use]
    pub fn container_now(
        &self,
        container: &Container,
        started: Instant,
        now: Instant,
    ) -> ContainerNow {
        let behaviour = Behaviour::of(container);
        let elapsed = now.saturating_duration_since(started);
        let Some((code, run)) = behaviour.exit else {
            return ContainerNow {
                running: true,
                run_started: started,
                restart_count: 0,
                exit_code: None,
                finished: None,
                previous: None,
            };
        };
        if !self.restarts_after(code) {
            return if elapsed < run {
                ContainerNow {
                    running: true,
                    run_started: started,
                    restart_count: 0,
                    exit_code: None,
                    finished: None,
                    previous: None,
                }
            } else {
                ContainerNow {
                    running: false,
                    run_started: started,
                    restart_count: 0,
                    exit_code: Some(code),
                    finished: Some(started + run),
                    previous: None,
                }
            };
        }
        // Restarted right away; a cycle lasts at least a second so instant exits do not
        // spin.
        let cycle = run.max(Duration::from_secs(1));
        let k = u32::try_from(elapsed.as_nanos() / cycle.as_nanos()).unwrap_or(u32::MAX);
        let run_started = started + cycle * k;
        let previous = (k > 0).then(|| {
            let prev = started + cycle * (k - 1);
            (prev, prev + run, code)
        });
        ContainerNow {
            running: true,
            run_started,
            restart_count: i32::try_from(k).unwrap_or(i32::MAX),
            exit_code: None,
            finished: None,
            previous,
        }
    }

    /// When `container` runs, as [`Self::container_now`] reports it: from the instant the
    /// group's containers start until it exits for good (`None`: for as long as the group
    /// lives; a container that restarts counts as running throughout, as its instance view
    /// shows). `None` when it never runs (failed provisioning, an instant exit).
    #[must_use]
    pub fn run_span(
        &self,
        container: &Container,
        timeline: &Timeline,
    ) -> Option<(Instant, Option<Instant>)> {
        if self.fail_provisioning {
            return None;
        }
        let started = self.started + timeline.pending + timeline.creating;
        let gone = self.deleting_since.map(|since| since + timeline.deleting);
        let end = match Behaviour::of(container).exit {
            None => gone,
            Some((code, run)) => {
                if self.restarts_after(code) {
                    gone
                } else {
                    let exit = started + run;
                    Some(gone.map_or(exit, |g| g.min(exit)))
                }
            }
        };
        match end {
            Some(end) if end <= started => None,
            end => Some((started, end)),
        }
    }

    /// The group as GET shows it at `now`: provisioning state, instance views, IP;
    /// secrets stripped.
    #[must_use]
    pub fn view(&self, now: Instant, timeline: &Timeline, wall: &WallClock) -> ContainerGroup {
        let mut group = strip_secrets(self.spec.clone());
        let phase = self.phase(now, timeline);
        let props = &mut group.properties;
        if let Some(ip) = props.ip_address.as_mut() {
            ip.ip = Some(self.ip.clone());
        }
        let (provisioning, state) = match phase {
            Phase::Pending => (ProvisioningState::Pending, InstanceState::Pending),
            Phase::Creating => (ProvisioningState::Creating, InstanceState::Pending),
            Phase::Failed => (ProvisioningState::Failed, InstanceState::Failed),
            Phase::Deleting => (ProvisioningState::Deleting, InstanceState::Running),
            Phase::Provisioned(_) => (ProvisioningState::Succeeded, InstanceState::Running),
        };
        props.provisioning_state = Some(provisioning);
        props.is_created_from_standby_pool = Some(false);
        let mut all_ended = true;
        let mut any_failed = false;
        let containers = self.spec.properties.containers.clone();
        for (out, spec) in props.containers.iter_mut().zip(&containers) {
            let view = match phase {
                Phase::Pending => ContainerPropertiesInstanceView {
                    restart_count: Some(0),
                    ..Default::default()
                },
                Phase::Creating => ContainerPropertiesInstanceView {
                    restart_count: Some(0),
                    current_state: Some(ContainerState {
                        state: Some(InstanceState::Waiting),
                        detail_status: Some("Pulling".into()),
                        ..Default::default()
                    }),
                    events: vec![event(
                        wall.at(self.started + timeline.pending),
                        "Pulling",
                        &format!(
                            "pulling image \"{}\"",
                            spec.properties.image.as_deref().unwrap_or_default()
                        ),
                        EventType::Normal,
                    )],
                    ..Default::default()
                },
                Phase::Failed => {
                    any_failed = true;
                    ContainerPropertiesInstanceView {
                        restart_count: Some(0),
                        current_state: Some(ContainerState {
                            state: Some(InstanceState::Waiting),
                            detail_status: Some("ProvisioningFailed".into()),
                            ..Default::default()
                        }),
                        events: vec![event(
                            wall.at(self.started + timeline.pending + timeline.creating),
                            "Failed",
                            "the emulator was told to fail provisioning",
                            EventType::Warning,
                        )],
                        ..Default::default()
                    }
                }
                Phase::Provisioned(_) | Phase::Deleting => {
                    let started = self.started + timeline.pending + timeline.creating;
                    let c = self.container_now(spec, started, now);
                    if c.running {
                        all_ended = false;
                    }
                    if c.exit_code.is_some_and(|code| code != 0) {
                        any_failed = true;
                    }
                    let current = if c.running {
                        ContainerState {
                            state: Some(InstanceState::Running),
                            start_time: Some(wall.at(c.run_started)),
                            detail_status: Some(String::new()),
                            ..Default::default()
                        }
                    } else {
                        ContainerState {
                            state: Some(InstanceState::Terminated),
                            start_time: Some(wall.at(c.run_started)),
                            exit_code: c.exit_code,
                            finish_time: c.finished.map(|f| wall.at(f)),
                            detail_status: Some("Completed".into()),
                        }
                    };
                    let previous = c.previous.map(|(s, f, code)| ContainerState {
                        state: Some(InstanceState::Terminated),
                        start_time: Some(wall.at(s)),
                        exit_code: Some(code),
                        finish_time: Some(wall.at(f)),
                        detail_status: Some("Completed".into()),
                    });
                    let image = spec.properties.image.as_deref().unwrap_or_default();
                    ContainerPropertiesInstanceView {
                        restart_count: Some(c.restart_count),
                        current_state: Some(current),
                        previous_state: previous,
                        events: vec![
                            event(
                                wall.at(self.started + timeline.pending),
                                "Pulling",
                                &format!("pulling image \"{image}\""),
                                EventType::Normal,
                            ),
                            event(
                                wall.at(started),
                                "Pulled",
                                &format!("Successfully pulled image \"{image}\""),
                                EventType::Normal,
                            ),
                            event(
                                wall.at(started),
                                "Started",
                                "Started container",
                                EventType::Normal,
                            ),
                        ],
                    }
                }
            };
            out.properties.instance_view = Some(view);
        }
        let group_state = match phase {
            Phase::Provisioned(_) if all_ended && !containers.is_empty() => {
                if any_failed {
                    InstanceState::Failed
                } else {
                    InstanceState::Succeeded
                }
            }
            _ => state,
        };
        props.instance_view = Some(ContainerGroupPropertiesInstanceView {
            events: Vec::new(),
            state: Some(group_state),
        });
        if let (Some(stopped), Phase::Provisioned(_)) = (self.stopped, phase) {
            stopped.apply(&mut group, wall);
        }
        group
    }

    /// A container's log at `now`: the current run's lines (ACI shows the running instance).
    #[must_use]
    pub fn logs(
        &self,
        container: &Container,
        now: Instant,
        timeline: &Timeline,
        wall: &WallClock,
        timestamps: bool,
    ) -> String {
        let Phase::Provisioned(started) = self.phase(now, timeline) else {
            return String::new();
        };
        let c = self.container_now(container, started, now);
        let ran = now.saturating_duration_since(c.run_started);
        let behaviour = Behaviour::of(container);
        let after = |i: usize| {
            behaviour
                .printed_after
                .get(i)
                .copied()
                .unwrap_or(Duration::ZERO)
        };
        behaviour
            .lines
            .iter()
            .enumerate()
            .filter(|(i, _)| after(*i) <= ran)
            .map(|(i, line)| {
                if timestamps {
                    let stamp = wall.at(c.run_started + after(i));
                    format!("{stamp} {line}\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect()
    }
}

fn event(at: String, name: &str, message: &str, kind: EventType) -> Event {
    Event {
        count: Some(1),
        first_timestamp: Some(at.clone()),
        last_timestamp: Some(at),
        name: Some(name.into()),
        message: Some(message.into()),
        type_: Some(kind),
    }
}

/// Remove what ARM never returns: secure env values, registry passwords, volume secrets.
#[must_use]
pub fn strip_secrets(mut group: ContainerGroup) -> ContainerGroup {
    let props = &mut group.properties;
    for c in &mut props.containers {
        for e in &mut c.properties.environment_variables {
            e.secure_value = None;
        }
    }
    for c in &mut props.init_containers {
        for e in &mut c.properties.environment_variables {
            e.secure_value = None;
        }
    }
    for r in &mut props.image_registry_credentials {
        r.password = None;
    }
    for v in &mut props.volumes {
        v.secret = None;
        if let Some(f) = v.azure_file.as_mut() {
            f.storage_account_key = None;
        }
        v.git_repo = v.git_repo.take();
    }
    if let Some(d) = props.diagnostics.as_mut()
        && let Some(l) = d.log_analytics.as_mut()
    {
        l.workspace_key = None;
    }
    // ARM never returns extensions' protected settings (the spec's
    // ContainerGroupExtensions example answers without them).
    for e in &mut props.extensions {
        if let Some(p) = e.properties.as_mut() {
            p.protected_settings = None;
        }
    }
    group
}

/// The list view: no instance views.
#[must_use]
pub fn list_view(mut group: ContainerGroup) -> ContainerGroup {
    group.properties.instance_view = None;
    for c in &mut group.properties.containers {
        c.properties.instance_view = None;
    }
    group
}

/// Wall-clock time for tokio instants: one reading of the injected clock at start, then
/// the tokio clock's progress, so a paused test clock moves timestamps too.
#[derive(Clone, Debug)]
pub struct WallClock {
    base_wall: Timestamp,
    base: Instant,
}

impl WallClock {
    /// Anchor `wall` at `now`.
    #[must_use]
    pub fn new(wall: Timestamp, now: Instant) -> Self {
        Self {
            base_wall: wall,
            base: now,
        }
    }

    /// The RFC 3339 wall time of `at`.
    #[must_use]
    pub fn at(&self, at: Instant) -> String {
        self.timestamp(at).to_string()
    }

    /// The wall time of `at`.
    #[must_use]
    pub fn timestamp(&self, at: Instant) -> Timestamp {
        let offset = if at >= self.base {
            SignedDuration::try_from(at - self.base).unwrap_or(SignedDuration::ZERO)
        } else {
            -SignedDuration::try_from(self.base - at).unwrap_or(SignedDuration::ZERO)
        };
        self.base_wall.checked_add(offset).unwrap_or(self.base_wall)
    }
}

/// Groups by lower-cased `subscription/resourceGroup/name` (ARM names are case-insensitive).
pub type Groups = HashMap<String, GroupRecord>;

/// The key of a group.
#[must_use]
pub fn group_key(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("{subscription}/{resource_group}/{name}").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
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
}
