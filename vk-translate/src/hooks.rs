//! Container lifecycle hooks: what the provider runs itself, since ACI has no hooks.
//!
//! ACI runs no `postStart` or `preStop` handler, so a translation carries a [`HookPlan`]: per
//! container, the `exec` command or `sleep` the provider runs through ACI's exec API (after
//! the container starts, before the group is deleted). `httpGet` and `tcpSocket` handlers
//! stay unrun: the provider has no general path into a group's network, so they only get a
//! warning.

use k8s_openapi::api::core::v1 as k8s;
use serde::Serialize;

use crate::error::Findings;

/// The hooks of every container that has one, in pod order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookPlan {
    /// One entry per container with at least one runnable hook.
    pub containers: Vec<ContainerHooks>,
}

/// The runnable hooks of one container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerHooks {
    /// The container's name (as in the group).
    pub container: String,
    /// Run once the container is running, before it counts as started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_start: Option<HookAction>,
    /// Run before the group is deleted, within the pod's termination grace period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_stop: Option<HookAction>,
}

/// What one hook does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum HookAction {
    /// Run this command in the container (exec form, as written in the pod: the kubelet
    /// does not expand `$(VAR)` in hook commands either).
    Exec {
        /// The command and its arguments.
        command: Vec<String>,
    },
    /// Wait this long (the `sleep` action; nothing runs in the container).
    Sleep {
        /// Seconds to wait.
        seconds: i64,
    },
}

// === impl HookPlan ===

impl HookPlan {
    /// Whether no container has a hook to run.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
    }

    /// The hooks of container `name`, if it has any.
    #[must_use]
    pub fn container(&self, name: &str) -> Option<&ContainerHooks> {
        self.containers.iter().find(|c| c.container == name)
    }

    /// Whether any container has a `preStop` hook (deletions of pods without one need not
    /// wait for anything).
    #[must_use]
    pub fn has_pre_stop(&self) -> bool {
        self.containers.iter().any(|c| c.pre_stop.is_some())
    }
}

/// The hooks of `c` (at `field`) the provider can run; warnings for the others.
pub(crate) fn container_hooks(
    c: &k8s::Container,
    field: &str,
    findings: &mut Findings,
) -> Option<ContainerHooks> {
    let lifecycle = c.lifecycle.as_ref()?;
    let post_start = lifecycle.post_start.as_ref().and_then(|h| {
        action(
            h,
            &format!("{field}.lifecycle.postStart"),
            "after the container starts",
            findings,
        )
    });
    let pre_stop = lifecycle.pre_stop.as_ref().and_then(|h| {
        action(
            h,
            &format!("{field}.lifecycle.preStop"),
            "before the group is deleted",
            findings,
        )
    });
    (post_start.is_some() || pre_stop.is_some()).then(|| ContainerHooks {
        container: c.name.clone(),
        post_start,
        pre_stop,
    })
}

fn action(
    handler: &k8s::LifecycleHandler,
    field: &str,
    when: &str,
    findings: &mut Findings,
) -> Option<HookAction> {
    if let Some(exec) = &handler.exec {
        let command = exec.command.clone().unwrap_or_default();
        if command.is_empty() || command[0].is_empty() {
            findings.invalid(format!("{field}.exec.command"), "the command is empty");
            return None;
        }
        findings.warn(
            format!("{field}.exec"),
            format!(
                "ACI has no lifecycle hooks: the virtual node runs this command through ACI's exec API {when} (it needs /bin/sh in the image)"
            ),
        );
        return Some(HookAction::Exec { command });
    }
    if let Some(sleep) = &handler.sleep {
        if sleep.seconds < 0 {
            findings.invalid(
                format!("{field}.sleep.seconds"),
                format!("{} is negative", sleep.seconds),
            );
            return None;
        }
        return Some(HookAction::Sleep {
            seconds: sleep.seconds,
        });
    }
    let (kind, what) = if handler.http_get.is_some() {
        ("httpGet", "an HTTP request into the group")
    } else if handler.tcp_socket.is_some() {
        ("tcpSocket", "a TCP connection into the group")
    } else {
        findings.invalid(field, "the hook has no action");
        return None;
    };
    findings.warn(
        format!("{field}.{kind}"),
        format!(
            "ACI has no lifecycle hooks and the virtual node has no path into the group's network for {what}: this hook does not run (use an exec hook)"
        ),
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(json: serde_json::Value) -> k8s::LifecycleHandler {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn exec_and_sleep_should_be_planned_and_http_get_warned() {
        let c = k8s::Container {
            name: "web".into(),
            lifecycle: Some(k8s::Lifecycle {
                post_start: Some(handler(
                    serde_json::json!({"exec": {"command": ["touch", "/ready"]}}),
                )),
                pre_stop: Some(handler(serde_json::json!({"sleep": {"seconds": 5}}))),
                ..k8s::Lifecycle::default()
            }),
            ..k8s::Container::default()
        };
        let mut findings = Findings::default();
        let hooks = container_hooks(&c, "spec.containers[0]", &mut findings).unwrap();
        assert_eq!(
            hooks.post_start,
            Some(HookAction::Exec {
                command: vec!["touch".into(), "/ready".into()]
            })
        );
        assert_eq!(hooks.pre_stop, Some(HookAction::Sleep { seconds: 5 }));
        assert!(findings.errors.is_empty());

        let c = k8s::Container {
            name: "web".into(),
            lifecycle: Some(k8s::Lifecycle {
                pre_stop: Some(handler(serde_json::json!({"httpGet": {"port": 80}}))),
                ..k8s::Lifecycle::default()
            }),
            ..k8s::Container::default()
        };
        let mut findings = Findings::default();
        assert!(container_hooks(&c, "spec.containers[0]", &mut findings).is_none());
        assert!(findings.warnings[0].field.ends_with("preStop.httpGet"));
    }
}
