//! The containers and init containers of the group: image, command, environment, ports,
//! probes, security context and mounts, each from its own module.

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{
    Container, ContainerProperties, GpuSku, InitContainerDefinition,
    InitContainerPropertiesDefinition, SecurityContextDefinition, Volume,
};
use crate::error::Findings;
use crate::images::ResolvedImages;
use crate::pod_context::PodContext;
use crate::unsupported::check_container_features;
use crate::{env, ports, probes, security, volumes};

/// A regular (or sidecar) container (its lifecycle hooks are planned by [`crate::hooks`]).
pub(crate) fn container(
    ctx: &PodContext<'_>,
    c: &k8s::Container,
    field: &str,
    volumes: &[Volume],
    windows: bool,
    gpu_sku: &GpuSku,
    findings: &mut Findings,
) -> Container {
    let spec = ctx.spec;
    let env = env::container_environment(ctx, c, field, findings);
    let command = command(c, ctx.images, &env, field, findings);
    let ports = ports::container_ports(c, field, findings);
    let (liveness_probe, readiness_probe) = probes::container_probes(c, field, findings);
    let security_context = security::container_security(spec, c, field, findings);
    check_container_features(c, field, findings);
    let granted = ctx.granted.get(&c.name).copied().unwrap_or_default();
    Container {
        name: c.name.clone(),
        properties: ContainerProperties {
            image: Some(image(c, field, findings)),
            command,
            ports,
            environment_variables: env.to_aci(),
            resources: Some(granted.to_requirements(gpu_sku)),
            volume_mounts: volumes::volume_mounts(ctx, c, volumes, field, findings),
            liveness_probe,
            readiness_probe,
            security_context: windows_security(security_context, windows, field, findings),
            ..ContainerProperties::default()
        },
    }
}

/// An init container: what ACI init containers lack (ports, resources, probes) is warned
/// about.
pub(crate) fn init_container(
    ctx: &PodContext<'_>,
    c: &k8s::Container,
    field: &str,
    volumes: &[Volume],
    windows: bool,
    findings: &mut Findings,
) -> InitContainerDefinition {
    let spec = ctx.spec;
    let env = env::container_environment(ctx, c, field, findings);
    let command = command(c, ctx.images, &env, field, findings);
    if c.ports.as_ref().is_some_and(|p| !p.is_empty()) {
        findings.warn(
            format!("{field}.ports"),
            "ACI init containers expose no ports: ignored",
        );
    }
    if c.resources.as_ref().is_some_and(|r| {
        r.requests.as_ref().is_some_and(|m| !m.is_empty())
            || r.limits.as_ref().is_some_and(|m| !m.is_empty())
    }) {
        findings.warn(
            format!("{field}.resources"),
            "ACI init containers run within the group's resources: their own are not applied",
        );
    }
    for (probe, name) in [
        (&c.liveness_probe, "livenessProbe"),
        (&c.readiness_probe, "readinessProbe"),
        (&c.startup_probe, "startupProbe"),
    ] {
        if probe.is_some() {
            findings.warn(
                format!("{field}.{name}"),
                "ACI init containers have no probes: dropped",
            );
        }
    }
    let security_context = security::container_security(spec, c, field, findings);
    check_container_features(c, field, findings);
    InitContainerDefinition {
        name: c.name.clone(),
        properties: InitContainerPropertiesDefinition {
            image: Some(image(c, field, findings)),
            command,
            environment_variables: env.to_aci(),
            volume_mounts: volumes::volume_mounts(ctx, c, volumes, field, findings),
            security_context: windows_security(security_context, windows, field, findings),
            ..InitContainerPropertiesDefinition::default()
        },
    }
}

fn image(c: &k8s::Container, field: &str, findings: &mut Findings) -> String {
    match c.image.as_deref().map(str::trim) {
        Some(image) if !image.is_empty() => image.to_owned(),
        _ => {
            findings.invalid(format!("{field}.image"), "the container has no image");
            String::new()
        }
    }
}

/// `command` + `args`, `$(VAR)` expanded, as ACI's exec-form command. Without a `command`,
/// the image's ENTRYPOINT (and CMD when there are no args) from `images` comes first, not
/// expanded, as on a kubelet.
fn command(
    c: &k8s::Container,
    images: &ResolvedImages,
    env: &env::Environment,
    field: &str,
    findings: &mut Findings,
) -> Vec<String> {
    let command = c.command.clone().unwrap_or_default();
    let args = c.args.clone().unwrap_or_default();
    let image = c
        .image
        .as_deref()
        .map(str::trim)
        .and_then(|i| images.get(i));
    let mut out = Vec::new();
    if command.is_empty() {
        match image {
            Some(config) => {
                out.extend(config.entrypoint.iter().cloned());
                if args.is_empty() {
                    out.extend(config.cmd.iter().cloned());
                }
            }
            None if !args.is_empty() => findings.warn(
                format!("{field}.args"),
                "ACI has no args: without a command the args run as the command, and the image's ENTRYPOINT is not applied (its registry was not read)",
            ),
            None => {}
        }
    }
    for (part, values) in [("command", command), ("args", args)] {
        for (i, value) in values.into_iter().enumerate() {
            let secrets = env.secret_references(&value);
            if !secrets.is_empty() {
                // Secrets stay in secureValue: ACI shows the command in the group's properties.
                findings.warn(
                    format!("{field}.{part}[{i}]"),
                    format!(
                        "references secret variable {}: left unexpanded (ACI shows the command in the group's properties); read the variable in the process instead",
                        secrets.join(", ")
                    ),
                );
            }
            out.push(env.expand_public(&value));
        }
    }
    out
}

fn windows_security(
    ctx: Option<SecurityContextDefinition>,
    windows: bool,
    field: &str,
    findings: &mut Findings,
) -> Option<SecurityContextDefinition> {
    if windows && ctx.is_some() {
        findings.warn(
            format!("{field}.securityContext"),
            "ACI applies security contexts to Linux containers only: ignored",
        );
        return None;
    }
    ctx
}
