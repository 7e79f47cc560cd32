//! One stored container group and where it is on its timeline at an instant: its phase,
//! and each container's run, restarts and exit.
use std::collections::HashMap;

use tokio::time::{Duration, Instant};
use vk_translate::container_group::{Container, ContainerGroup, RestartPolicy};

use super::behaviour::Behaviour;

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
}

/// Groups by lower-cased `subscription/resourceGroup/name` (ARM names are case-insensitive).
pub type Groups = HashMap<String, GroupRecord>;

/// The key of a group.
#[must_use]
pub fn group_key(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("{subscription}/{resource_group}/{name}").to_ascii_lowercase()
}
