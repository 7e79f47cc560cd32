//! Pod and container security contexts to ACI's container security context.

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{SecurityContextCapabilitiesDefinition, SecurityContextDefinition};
use crate::error::Findings;

/// Warns about pod-level settings ACI lacks (container-level ones are handled per container).
pub(crate) fn check_pod_security(spec: &k8s::PodSpec, findings: &mut Findings) {
    let Some(ctx) = &spec.security_context else {
        return;
    };
    let field = "spec.securityContext";
    if ctx.fs_group.is_some() {
        findings.warn(
            format!("{field}.fsGroup"),
            "ACI does not change volume ownership: ignored",
        );
    }
    if ctx
        .supplemental_groups
        .as_ref()
        .is_some_and(|g| !g.is_empty())
    {
        findings.warn(
            format!("{field}.supplementalGroups"),
            "ACI has no supplemental groups: ignored",
        );
    }
    if ctx.sysctls.as_ref().is_some_and(|s| !s.is_empty()) {
        findings.warn(
            format!("{field}.sysctls"),
            "ACI does not set sysctls: ignored",
        );
    }
    if ctx.se_linux_options.is_some() {
        findings.warn(
            format!("{field}.seLinuxOptions"),
            "ACI has no SELinux options: ignored",
        );
    }
    if ctx.app_armor_profile.is_some() {
        findings.warn(
            format!("{field}.appArmorProfile"),
            "ACI has no AppArmor profiles: ignored",
        );
    }
    if ctx.windows_options.is_some() {
        findings.warn(
            format!("{field}.windowsOptions"),
            "ACI has no Windows security options: ignored",
        );
    }
}

/// A container's security context, with the pod's user and group as defaults.
pub(crate) fn container_security(
    spec: &k8s::PodSpec,
    container: &k8s::Container,
    field: &str,
    findings: &mut Findings,
) -> Option<SecurityContextDefinition> {
    let pod = spec.security_context.as_ref();
    let own = container.security_context.as_ref();
    let field = format!("{field}.securityContext");
    let id = |value: Option<i64>, name: &str, findings: &mut Findings| {
        let value = value?;
        i32::try_from(value).ok().or_else(|| {
            findings.unsupported(
                format!("{field}.{name}"),
                format!("ACI takes 32-bit signed ids; {value} does not fit"),
            );
            None
        })
    };
    let run_as_user = id(
        own.and_then(|c| c.run_as_user)
            .or(pod.and_then(|p| p.run_as_user)),
        "runAsUser",
        findings,
    );
    let run_as_group = id(
        own.and_then(|c| c.run_as_group)
            .or(pod.and_then(|p| p.run_as_group)),
        "runAsGroup",
        findings,
    );
    let run_as_non_root = own
        .and_then(|c| c.run_as_non_root)
        .or(pod.and_then(|p| p.run_as_non_root));
    if run_as_non_root == Some(true) && run_as_user.is_none() {
        findings.warn(
            format!("{field}.runAsNonRoot"),
            "ACI cannot check the image's user before starting it: set runAsUser to enforce a non-root user",
        );
    }
    if run_as_non_root == Some(true) && run_as_user == Some(0) {
        findings.invalid(
            format!("{field}.runAsUser"),
            "runAsNonRoot is set but runAsUser is 0",
        );
    }
    let seccomp = own
        .and_then(|c| c.seccomp_profile.as_ref())
        .or(pod.and_then(|p| p.seccomp_profile.as_ref()));
    if let Some(profile) = seccomp {
        match profile.type_.as_str() {
            "RuntimeDefault" => {}
            "Unconfined" => findings.warn(
                format!("{field}.seccompProfile"),
                "ACI always applies its default seccomp profile",
            ),
            _ => findings.warn(
                format!("{field}.seccompProfile"),
                "localhost seccomp profiles live on nodes ACI does not have: the default profile applies",
            ),
        }
    }
    if let Some(c) = own {
        if c.read_only_root_filesystem == Some(true) {
            findings.warn(
                format!("{field}.readOnlyRootFilesystem"),
                "ACI has no read-only root filesystem: the root filesystem is writable",
            );
        }
        if c.se_linux_options.is_some() {
            findings.warn(
                format!("{field}.seLinuxOptions"),
                "ACI has no SELinux options: ignored",
            );
        }
        if c.app_armor_profile.is_some() {
            findings.warn(
                format!("{field}.appArmorProfile"),
                "ACI has no AppArmor profiles: ignored",
            );
        }
        if c.proc_mount.as_deref().is_some_and(|p| p != "Default") {
            findings.warn(
                format!("{field}.procMount"),
                "ACI has the default /proc mount only: ignored",
            );
        }
    }
    let capabilities = own.and_then(|c| c.capabilities.as_ref()).map(|caps| {
        SecurityContextCapabilitiesDefinition {
            add: caps.add.clone().unwrap_or_default(),
            drop: caps.drop.clone().unwrap_or_default(),
        }
    });
    let out = SecurityContextDefinition {
        privileged: own.and_then(|c| c.privileged),
        allow_privilege_escalation: own.and_then(|c| c.allow_privilege_escalation),
        capabilities: capabilities.filter(|c| !c.add.is_empty() || !c.drop.is_empty()),
        run_as_group,
        run_as_user,
        seccomp_profile: None,
    };
    (out != SecurityContextDefinition::default()).then_some(out)
}
