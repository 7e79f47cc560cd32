//! What ARM shows of a stored group: the instance view at an instant (provisioning state,
//! container states, events), container logs, and the list and secret-free views.
use tokio::time::{Duration, Instant};
use vk_translate::container_group::{
    Container, ContainerGroup, ContainerGroupPropertiesInstanceView,
    ContainerPropertiesInstanceView, ContainerState, Event, EventType, InstanceState,
    ProvisioningState,
};

use super::behaviour::Behaviour;
use super::group::{ContainerNow, EVICTION_EVENT, GroupRecord, Phase, Stopped, Timeline};
use super::wall_clock::WallClock;

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
                    let (view, c) = self.started_container_view(spec, now, timeline, wall);
                    if c.running {
                        all_ended = false;
                    }
                    if c.exit_code.is_some_and(|code| code != 0) {
                        any_failed = true;
                    }
                    view
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

    /// A started container's view: its current and previous run and the pull and start
    /// events; with what it is doing now.
    fn started_container_view(
        &self,
        spec: &Container,
        now: Instant,
        timeline: &Timeline,
        wall: &WallClock,
    ) -> (ContainerPropertiesInstanceView, ContainerNow) {
        let started = self.started + timeline.pending + timeline.creating;
        let c = self.container_now(spec, started, now);
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
        let view = ContainerPropertiesInstanceView {
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
        };
        (view, c)
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
