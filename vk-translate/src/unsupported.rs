//! Pod and container fields ACI has no form for: each is warned about (dropped, or applied
//! differently) or refused, naming the field.

use k8s_openapi::api::core::v1 as k8s;

use crate::error::Findings;

/// Pod-level fields ACI has no form for.
pub(crate) fn check_pod_features(spec: &k8s::PodSpec, findings: &mut Findings) {
    if spec.host_aliases.as_ref().is_some_and(|a| !a.is_empty()) {
        findings.warn(
            "spec.hostAliases",
            "ACI does not let /etc/hosts be edited: the aliases are not added",
        );
    }
    for (flag, name, what) in [
        (spec.host_network, "hostNetwork", "network"),
        (spec.host_pid, "hostPID", "process namespace"),
        (spec.host_ipc, "hostIPC", "IPC namespace"),
    ] {
        if flag == Some(true) {
            findings.warn(
                format!("spec.{name}"),
                format!("a container group has no host: it gets its own {what}"),
            );
        }
    }
    if spec.host_users == Some(false) {
        findings.warn("spec.hostUsers", "ACI has no user namespaces: ignored");
    }
    if spec.share_process_namespace == Some(true) {
        findings.warn(
            "spec.shareProcessNamespace",
            "ACI does not share the process namespace between containers",
        );
    }
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        findings.warn(
            "spec.ephemeralContainers",
            "ACI cannot add containers to a running group: ephemeral containers are not run",
        );
    }
    if spec.readiness_gates.as_ref().is_some_and(|g| !g.is_empty()) {
        findings.warn(
            "spec.readinessGates",
            "readiness gates are set by other controllers; the virtual node reports container readiness only",
        );
    }
    if spec.resource_claims.as_ref().is_some_and(|c| !c.is_empty()) {
        findings.unsupported(
            "spec.resourceClaims",
            "ACI has no dynamic resource allocation",
        );
    }
    if spec
        .runtime_class_name
        .as_deref()
        .is_some_and(|r| !r.is_empty())
    {
        findings.warn(
            "spec.runtimeClassName",
            "ACI chooses the container runtime: ignored",
        );
    }
    if spec.hostname.is_some()
        || spec.subdomain.is_some()
        || spec.set_hostname_as_fqdn == Some(true)
    {
        findings.warn(
            "spec.hostname",
            "ACI sets the containers' host name itself: hostname and subdomain are ignored",
        );
    }
    if spec.active_deadline_seconds.is_some() {
        findings.warn(
            "spec.activeDeadlineSeconds",
            "ACI does not enforce a deadline: the group runs until it ends or the pod is deleted",
        );
    }
}

/// Container fields ACI has no form for.
pub(crate) fn check_container_features(c: &k8s::Container, field: &str, findings: &mut Findings) {
    // postStart and preStop are planned (or warned about) by `hooks`.
    if c.lifecycle
        .as_ref()
        .is_some_and(|l| l.stop_signal.is_some())
    {
        findings.warn(
            format!("{field}.lifecycle.stopSignal"),
            "ACI chooses the stop signal: ignored",
        );
    }
    if c.working_dir.as_deref().is_some_and(|w| !w.is_empty()) {
        findings.warn(
            format!("{field}.workingDir"),
            "ACI has no working directory setting: the image's WORKDIR applies",
        );
    }
    if c.stdin == Some(true) || c.tty == Some(true) {
        findings.warn(
            format!("{field}.stdin"),
            "ACI containers have no attached stdin or TTY; kubectl exec still works",
        );
    }
    if c.restart_policy_rules
        .as_ref()
        .is_some_and(|r| !r.is_empty())
    {
        findings.warn(
            format!("{field}.restartPolicyRules"),
            "ACI restarts by the group's policy only: rules ignored",
        );
    }
}
