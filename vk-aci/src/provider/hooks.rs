//! Container lifecycle hooks, run by the provider since ACI runs none.
//!
//! - `postStart` `exec`: once ARM shows the container running, the command runs through
//!   ACI's exec API with the [`exec`] shell driver (so its exit status is
//!   known). Until it succeeds the container is held: the pod status shows it waiting
//!   (`ContainerCreating`), not started, not ready (`post_start_hold`), as a kubelet shows a
//!   container whose hook is still running. A hook that fails or runs longer than
//!   [`POST_START_TIMEOUT`] gives the kubelet's `FailedPostStartHook` Warning event and the
//!   kubelet's outcome: the container is killed and the restart policy decides. ACI can
//!   only kill a container by acting on its whole group (`restart` and `stop` are group
//!   actions; there is no per-container one), so: `Never` -> the group is stopped (the pod
//!   ends `Failed`); `Always`/`OnFailure` -> the group is restarted in place and the hook
//!   runs again once the container runs, after a back-off like CrashLoopBackOff's.
//! - `preStop` `exec` and `sleep`: run in `delete_pod` before the group's DELETE, all
//!   containers at once, bounded by the pod's grace period (`deletionGracePeriodSeconds`,
//!   else `terminationGracePeriodSeconds`, else 30 s): the hooks' time counts against it
//!   as on a kubelet. A failure gives `FailedPreStopHook` and the deletion goes on. A pod
//!   without `preStop` hooks costs nothing more: the spec is read locally.
//!
//! The hooks of one pod are read from the translation's plan (`postStart`) or the pod spec
//! (`preStop`, which needs no translation, so a delete never reads Secrets).
use std::collections::HashSet;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use k8s_openapi::api::core::v1::Pod;
use tokio::io::AsyncWrite;
use tokio::time::{self, Duration, Instant};
use vk_core::provider::{ExecIo, PodKey, PodNotifier, ProviderError, ProviderEvent};
use vk_translate::HookAction;
use vk_translate::container_group::{ContainerGroup, InstanceState, RestartPolicy};

use super::exec;
use super::tracker::Tracker;
use crate::arm::{ArmClient, GroupAction, Priority};

/// The kubelet's event reason for a failed `postStart` hook.
pub const FAILED_POST_START_HOOK: &str = "FailedPostStartHook";
/// The kubelet's event reason for a failed `preStop` hook.
pub const FAILED_PRE_STOP_HOOK: &str = "FailedPreStopHook";

/// Longest a `postStart` hook may run. The kubelet sets none (a hook that hangs holds the
/// container forever); a provider call must end, so ours is 2 min, far beyond what a hook
/// that prepares a container takes.
pub const POST_START_TIMEOUT: Duration = Duration::from_secs(120);

/// The grace period of a pod without one (the API server's default
/// `terminationGracePeriodSeconds`).
const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// Longest hook output quoted in an event.
const MAX_OUTPUT: usize = 1024;

/// First and longest wait before a restarted group's hook runs again (the kubelet's
/// CrashLoopBackOff: 10 s doubling to 5 min).
const BACKOFF: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(300));

// === Hooks ===

/// What the provider's hook tasks share: where events go, and which pods' `preStop` hooks
/// already ran (a delete retried after a failed DELETE does not run them twice).
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    notifier: Mutex<Option<PodNotifier>>,
    pre_stopped: Mutex<HashSet<String>>,
}

impl Hooks {
    /// Send events through `notifier` from now on.
    pub(crate) fn set_notifier(&self, notifier: PodNotifier) {
        *self
            .notifier
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(notifier);
    }

    fn warn(&self, key: &PodKey, reason: &str, message: String) {
        tracing::info!(pod = %key, reason, %message, "lifecycle hook failed");
        if let Some(n) = self
            .notifier
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            n.event(ProviderEvent::warning(key.clone(), reason, message));
        }
    }

    fn pre_stopped(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.pre_stopped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forget that `uid`'s `preStop` hooks ran (its group is deleted).
    pub(crate) fn deleted(&self, uid: &str) {
        self.pre_stopped().remove(uid);
    }
}

// === Running one hook command ===

/// Collects what a hook printed (up to [`MAX_OUTPUT`] bytes).
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<u8>>>);

impl Output {
    fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).trim().to_owned()
    }
}

impl AsyncWrite for Output {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut out = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let room = MAX_OUTPUT.saturating_sub(out.len());
        out.extend_from_slice(&buf[..buf.len().min(room)]);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The shell hook commands run in: the pod's [`exec::EXEC_SHELL_ANNOTATION`], else
/// [`exec::DEFAULT_SHELL`].
pub(crate) fn shell_of(pod: &Pod) -> String {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(exec::EXEC_SHELL_ANNOTATION))
        .filter(|s| !s.trim().is_empty() && !s.contains(char::is_whitespace))
        .cloned()
        .unwrap_or_else(|| exec::DEFAULT_SHELL.to_owned())
}

/// Run `command` in `container` through the shell driver within `limit`; `Err` says why it
/// failed, in the kubelet's words where it has some.
async fn run_command(
    arm: &ArmClient,
    group: &str,
    container: &str,
    command: &[String],
    shell: &str,
    limit: Duration,
) -> Result<(), String> {
    let quoted = command
        .iter()
        .map(|w| exec::quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let run = async {
        let session = arm
            .exec(
                group,
                container,
                shell,
                exec::DEFAULT_SIZE.height,
                exec::DEFAULT_SIZE.width,
            )
            .await
            .map_err(|e| {
                vk_core::error_chain(&super::errors::from_arm(
                    e,
                    &format!("exec in {group}/{container}"),
                ))
            })?;
        let output = Output::default();
        let io = ExecIo {
            stdin: None,
            stdout: Some(Box::pin(output.clone())),
            stderr: None,
            tty: false,
            resize: None,
        };
        match exec::run(session, io, Some((command, exec::marker_id())), shell).await {
            Ok(0) => Ok(()),
            Ok(code) => Err(format!(
                "command '{quoted}' exited with {code}: {}",
                output.text()
            )),
            Err(ProviderError::Unsupported { message, .. }) => Err(message),
            Err(e) => Err(vk_core::error_chain(&e)),
        }
    };
    match time::timeout(limit, run).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "command '{quoted}' did not finish within {}s",
            limit.as_secs()
        )),
    }
}

// === postStart ===

/// What a `postStart` task needs.
pub(crate) struct PostStart {
    pub arm: ArmClient,
    pub tracker: Arc<Tracker>,
    pub hooks: Arc<Hooks>,
    pub key: PodKey,
    pub uid: Option<String>,
    pub group: String,
    pub shell: String,
    pub restart_policy: RestartPolicy,
    /// How often to read the group while waiting for the container.
    pub poll: Duration,
}

/// What [`wait_running`] found.
enum Running {
    /// The container runs, with this restart count.
    Yes,
    /// The pod or its group is gone (or the container ended): nothing to run.
    Gone,
}

impl PostStart {
    /// Whether the tracker still has this pod.
    fn tracked(&self) -> bool {
        self.tracker
            .lock()
            .get(&self.key)
            .is_some_and(|t| t.uid() == self.uid)
    }

    /// Stop holding `container`'s status (and read the group soon to show it).
    fn release(&self, container: &str) {
        if let Some(entry) = self.tracker.lock().get_mut(&self.key)
            && entry.uid() == self.uid
        {
            entry.held.retain(|c| c != container);
            entry.next_check = Instant::now();
        }
    }

    async fn wait_running(&self, container: &str) -> Running {
        loop {
            if !self.tracked() {
                return Running::Gone;
            }
            match self
                .arm
                .get::<ContainerGroup>(&self.group, Priority::Background)
                .await
            {
                Ok(group) => {
                    let state = group
                        .properties
                        .containers
                        .iter()
                        .find(|c| c.name == container)
                        .and_then(|c| c.properties.instance_view.as_ref())
                        .and_then(|v| v.current_state.as_ref())
                        .and_then(|s| s.state.clone());
                    match state {
                        Some(InstanceState::Running) => return Running::Yes,
                        Some(InstanceState::Terminated | InstanceState::Stopped) => {
                            return Running::Gone;
                        }
                        _ => {}
                    }
                }
                Err(e) if e.is_not_found() => return Running::Gone,
                Err(e) => {
                    tracing::debug!(pod = %self.key, error = %e, "reading the group for a hook failed")
                }
            }
            time::sleep(self.poll).await;
        }
    }

    /// Run `command` once `container` runs; on failure kill it and let the restart policy
    /// decide.
    pub(crate) async fn run(self: Arc<Self>, container: String, command: Vec<String>) {
        let mut backoff = BACKOFF.0;
        loop {
            if let Running::Gone = self.wait_running(&container).await {
                self.release(&container);
                return;
            }
            let outcome = run_command(
                &self.arm,
                &self.group,
                &container,
                &command,
                &self.shell,
                POST_START_TIMEOUT,
            )
            .await;
            let Err(why) = outcome else {
                tracing::debug!(pod = %self.key, %container, "postStart hook succeeded");
                self.release(&container);
                return;
            };
            if !self.tracked() {
                return;
            }
            self.hooks.warn(
                &self.key,
                FAILED_POST_START_HOOK,
                format!(
                    "PostStartHookError: exec lifecycle hook ({command:?}) for container \
                     \"{container}\" in pod \"{}\" failed - {why}",
                    self.key
                ),
            );
            let action = if self.restart_policy == RestartPolicy::Never {
                GroupAction::Stop
            } else {
                GroupAction::Restart
            };
            if let Err(e) = self.arm.group_action(&self.group, action).await {
                tracing::warn!(pod = %self.key, error = %e, ?action, "killing the container after its postStart hook failed did not work");
            }
            if action == GroupAction::Stop {
                // Stopped for good: the terminated state shows as ARM reports it.
                self.release(&container);
                return;
            }
            time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF.1);
        }
    }
}

/// The `postStart` exec hooks of a translated pod, by container.
pub(crate) fn post_start_commands(
    translation: &vk_translate::Translation,
) -> Vec<(String, Vec<String>)> {
    translation
        .hooks
        .containers
        .iter()
        .filter_map(|c| match &c.post_start {
            Some(vk_translate::HookAction::Exec { command }) => {
                Some((c.container.clone(), command.clone()))
            }
            _ => None,
        })
        .collect()
}

// === preStop ===

/// The `preStop` hooks in `pod`'s spec the provider runs (`exec` and `sleep`), by
/// container.
pub(crate) fn pre_stop_hooks(pod: &Pod) -> Vec<(String, HookAction)> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .filter_map(|c| {
            let handler = c.lifecycle.as_ref()?.pre_stop.as_ref()?;
            let action = if let Some(e) = &handler.exec {
                let command = e.command.clone().unwrap_or_default();
                if command.first().is_none_or(String::is_empty) {
                    return None;
                }
                HookAction::Exec { command }
            } else {
                HookAction::Sleep {
                    seconds: handler.sleep.as_ref()?.seconds,
                }
            };
            Some((c.name.clone(), action))
        })
        .collect()
}

/// The time a pod's deletion may take.
fn grace(pod: &Pod) -> Duration {
    pod.metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .and_then(|s| u64::try_from(s).ok())
        .map_or(DEFAULT_GRACE, Duration::from_secs)
}

/// Whether `container` runs in `group` as ARM last showed it (`None`: not read, assumed).
fn runs(group: Option<&ContainerGroup>, container: &str) -> bool {
    let Some(group) = group else {
        return true;
    };
    group
        .properties
        .containers
        .iter()
        .find(|c| c.name == container)
        .and_then(|c| c.properties.instance_view.as_ref())
        .and_then(|v| v.current_state.as_ref())
        .is_some_and(|s| s.state == Some(InstanceState::Running))
}

/// Run `pod`'s `preStop` hooks in the group `name` before it is deleted, within the grace
/// period; only in containers that run (`current`: the group as just read, if it was), as
/// the kubelet runs `preStop` only for running containers. Returns at once for pods
/// without any.
pub(crate) async fn pre_stop(
    arm: &ArmClient,
    hooks: &Hooks,
    pod: &Pod,
    group: &str,
    current: Option<&ContainerGroup>,
) {
    let mut actions = pre_stop_hooks(pod);
    actions.retain(|(container, _)| runs(current, container));
    if actions.is_empty() {
        return;
    }
    let key = PodKey::of(pod);
    if let Some(uid) = &pod.metadata.uid
        && !hooks.pre_stopped().insert(uid.clone())
    {
        return;
    }
    let deadline = Instant::now() + grace(pod);
    let shell = shell_of(pod);
    let runs = actions.into_iter().map(|(container, action)| {
        let shell = shell.clone();
        let key = key.clone();
        async move {
            let left = deadline.saturating_duration_since(Instant::now());
            let failed = match action {
                HookAction::Sleep { seconds } => {
                    let wanted = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
                    time::sleep(wanted.min(left)).await;
                    None
                }
                HookAction::Exec { command } => {
                    run_command(arm, group, &container, &command, &shell, left)
                        .await
                        .err()
                        .map(|why| (command, why))
                }
                _ => None,
            };
            if let Some((command, why)) = failed {
                hooks.warn(
                    &key,
                    FAILED_PRE_STOP_HOOK,
                    format!(
                        "PreStopHookError: exec lifecycle hook ({command:?}) for container \
                         \"{container}\" in pod \"{key}\" failed - {why}"
                    ),
                );
            }
        }
    });
    futures::future::join_all(runs).await;
}

#[cfg(test)]
mod tests;
