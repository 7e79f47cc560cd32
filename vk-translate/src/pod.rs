//! The entry point: a Pod plus the objects it references becomes a container group.
//!
//! [`translate_pod`] walks the whole pod and collects every problem before answering, so a
//! user sees all of them at once. It is pure: no I/O, no clock.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{
    Container, ContainerGroup, ContainerGroupDiagnostics, ContainerGroupIpAddressType,
    ContainerGroupProperties, ContainerGroupSubnetId, ContainerProperties, InitContainerDefinition,
    InitContainerPropertiesDefinition, LogAnalytics, LogAnalyticsLogType, OperatingSystemTypes,
    RestartPolicy,
};
use crate::error::{Findings, Result, TranslateError, Warning};
use crate::hooks::HookPlan;
use crate::images::ResolvedImages;
use crate::node::NodeOptions;
use crate::pod_context::PodContext;
use crate::resources::Granted;
use crate::{
    confidential, dns, env, hooks, identity, names, ports, priority, probes, registry, resources,
    security, volumes, zones,
};

pub use crate::pod_context::ReferencedObjects;

/// Most containers in one group (aci-spec README).
pub const MAX_CONTAINERS: usize = 60;

/// A pod's container group and what changed on the way.
#[derive(Clone, Debug)]
pub struct Translation {
    /// The ARM PUT body of the group (`location`, `tags`, `properties`); its name is
    /// [`Translation::name`].
    pub container_group: ContainerGroup,
    /// The group's name (it goes in the URL, not the body).
    pub name: String,
    /// What was dropped or changed, each naming the pod field.
    pub warnings: Vec<Warning>,
    /// The lifecycle hooks the provider runs itself (ACI has none).
    pub hooks: HookPlan,
}

/// Translates a pod into the container group that runs it on ACI.
///
/// # Errors
///
/// [`TranslateError::Fields`] lists every field ACI cannot run or that references a missing
/// object; [`TranslateError::MissingSpec`] when the pod has no spec.
pub fn translate_pod(
    pod: &k8s::Pod,
    objects: &ReferencedObjects,
    node: &NodeOptions,
) -> Result<Translation> {
    translate_pod_with_images(pod, objects, node, &ResolvedImages::new())
}

/// [`translate_pod`] with the configs of the pod's images, read by the caller from their
/// registries: a container with `args` and no `command` then runs its image's ENTRYPOINT
/// followed by the args, as on a kubelet. Images missing from `images` are translated as by
/// [`translate_pod`] (the args alone, with a warning).
///
/// # Errors
///
/// As [`translate_pod`].
pub fn translate_pod_with_images(
    pod: &k8s::Pod,
    objects: &ReferencedObjects,
    node: &NodeOptions,
    images: &ResolvedImages,
) -> Result<Translation> {
    let spec = pod.spec.as_ref().ok_or(TranslateError::MissingSpec)?;
    let mut findings = Findings::default();

    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    if pod_name.is_empty() {
        findings.invalid("metadata.name", "the pod has no name");
    }

    // Sidecars (init containers with restartPolicy Always) run beside the containers.
    let mut regular: Vec<(&k8s::Container, String)> = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| (c, format!("spec.containers[{i}]")))
        .collect();
    let mut init: Vec<(&k8s::Container, String)> = Vec::new();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let field = format!("spec.initContainers[{i}]");
        if c.restart_policy.as_deref() == Some("Always") {
            findings.warn(
                format!("{field}.restartPolicy"),
                "ACI has no sidecar containers: this one runs as a regular container, started with the others rather than before them",
            );
            regular.push((c, field));
        } else {
            init.push((c, field));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (c, field) in regular.iter().chain(&init) {
        if !names::is_valid_container_group_name(&c.name) {
            findings.invalid(
                format!("{field}.name"),
                format!(
                    "{:?} is not a valid container name (1-63 of a-z, 0-9 and -)",
                    c.name
                ),
            );
        } else if !seen.insert(c.name.as_str()) {
            findings.invalid(
                format!("{field}.name"),
                format!("container name {:?} is used twice", c.name),
            );
        }
    }
    if regular.is_empty() {
        findings.invalid("spec.containers", "the pod has no containers");
    }
    if regular.len() > MAX_CONTAINERS {
        findings.over_limit(
            "spec.containers",
            format!(
                "the pod has {} containers; an ACI group has at most {MAX_CONTAINERS}",
                regular.len()
            ),
        );
    }

    let mut grants: Vec<Granted> = regular
        .iter()
        .map(|(c, field)| {
            resources::container_resources(c.resources.as_ref(), field, node, &mut findings)
        })
        .collect();
    resources::clamp_limits_to_group(
        &mut regular
            .iter()
            .map(|(_, field)| field.as_str())
            .zip(grants.iter_mut())
            .collect::<Vec<_>>(),
        &mut findings,
    );
    let granted: BTreeMap<String, Granted> = regular
        .iter()
        .map(|(c, _)| c.name.clone())
        .zip(grants)
        .collect();
    resources::check_group_totals(
        &granted.values().copied().collect::<Vec<_>>(),
        &mut findings,
    );
    let uses_gpu = granted.values().any(|g| g.gpu > 0);
    let gpu_sku = resources::gpu_sku(pod, uses_gpu, &mut findings);
    if spec.resources.is_some() {
        findings.warn(
            "spec.resources",
            "ACI sizes containers one by one: pod-level resources are not applied",
        );
    }

    let ctx = PodContext {
        pod,
        spec,
        objects,
        node,
        images,
        granted,
    };

    let os_type = operating_system(spec, node, &mut findings);
    let windows = os_type == OperatingSystemTypes::Windows;
    security::check_pod_security(spec, &mut findings);
    check_pod_features(spec, &mut findings);

    let volumes = volumes::volumes(&ctx, &mut findings);

    let mut containers = Vec::with_capacity(regular.len());
    let mut container_ports = Vec::with_capacity(regular.len());
    let mut hook_plan = HookPlan::default();
    for (c, field) in &regular {
        hook_plan
            .containers
            .extend(hooks::container_hooks(c, field, &mut findings));
        let env = env::container_environment(&ctx, c, field, &mut findings);
        let command = command(c, ctx.images, &env, field, &mut findings);
        let ports = ports::container_ports(c, field, &mut findings);
        let (liveness_probe, readiness_probe) = probes::container_probes(c, field, &mut findings);
        let security_context = security::container_security(spec, c, field, &mut findings);
        check_container_features(c, field, &mut findings);
        let granted = ctx.granted.get(&c.name).copied().unwrap_or_default();
        container_ports.push(ports.clone());
        containers.push(Container {
            name: c.name.clone(),
            properties: ContainerProperties {
                image: Some(image(c, field, &mut findings)),
                command,
                ports,
                environment_variables: env.to_aci(),
                resources: Some(granted.to_requirements(&gpu_sku)),
                volume_mounts: volumes::volume_mounts(&ctx, c, &volumes, field, &mut findings),
                liveness_probe,
                readiness_probe,
                security_context: windows_security(security_context, windows, field, &mut findings),
                ..ContainerProperties::default()
            },
        });
    }

    let mut init_containers = Vec::with_capacity(init.len());
    for (c, field) in &init {
        let env = env::container_environment(&ctx, c, field, &mut findings);
        let command = command(c, ctx.images, &env, field, &mut findings);
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
        let security_context = security::container_security(spec, c, field, &mut findings);
        check_container_features(c, field, &mut findings);
        init_containers.push(InitContainerDefinition {
            name: c.name.clone(),
            properties: InitContainerPropertiesDefinition {
                image: Some(image(c, field, &mut findings)),
                command,
                environment_variables: env.to_aci(),
                volume_mounts: volumes::volume_mounts(&ctx, c, &volumes, field, &mut findings),
                security_context: windows_security(security_context, windows, field, &mut findings),
                ..InitContainerPropertiesDefinition::default()
            },
        });
    }
    if windows && !init_containers.is_empty() {
        findings.unsupported(
            "spec.initContainers",
            "ACI runs init containers in Linux groups only",
        );
    }

    let ip_type = node.ip_address_type();
    let ip_address = ports::ip_address(pod, &container_ports, ip_type.clone(), &mut findings);
    let subnet_ids = if ip_type == Some(ContainerGroupIpAddressType::Private) {
        if windows {
            findings.unsupported(
                "spec.os",
                "ACI does not deploy Windows groups into virtual networks (the node uses private IPs)",
            );
        }
        if node.subnet_ids.is_empty() {
            findings.invalid(
                "node.subnetIds",
                "the node uses private IP addresses but has no subnet (virtual node misconfiguration)",
            );
        }
        node.subnet_ids
            .iter()
            .map(|id| ContainerGroupSubnetId {
                id: id.clone(),
                name: None,
            })
            .collect()
    } else {
        Vec::new()
    };

    let extensions = node.extensions(&os_type);
    let mut image_registry_credentials =
        registry::image_registry_credentials(spec, objects, &mut findings);
    let acr_pull =
        identity::acr_pull_credentials(spec, node, &mut image_registry_credentials, &mut findings);
    let group_identity = identity::group_identity(
        pod,
        node.acr_pull_identity.as_deref().filter(|_| acr_pull),
        &mut findings,
    );
    let (sku, confidential_compute_properties) = confidential::sku(pod, &mut findings);
    let group_zones = zones::zones(spec, node, &mut findings);
    let mut properties = ContainerGroupProperties {
        containers,
        init_containers,
        image_registry_credentials,
        restart_policy: restart_policy(spec, &mut findings),
        ip_address,
        os_type: Some(os_type),
        volumes,
        diagnostics: diagnostics(pod, node),
        subnet_ids,
        dns_config: dns::dns_config(spec, ctx.namespace(), node, &mut findings),
        extensions,
        sku,
        confidential_compute_properties,
        ..ContainerGroupProperties::default()
    };
    confidential::check(&mut properties, &mut findings);
    if let Some(field) = priority::spot_request(pod, &mut findings) {
        priority::make_spot(&mut properties, node, &field, &mut findings);
    }

    if !findings.errors.is_empty() {
        return Err(TranslateError::Fields(findings.errors));
    }
    let namespace = ctx.namespace().to_owned();
    let name = node.group_name(&namespace, &pod_name);
    if !names::is_valid_container_group_name(&name) {
        return Err(TranslateError::Unreachable(
            "group name invalid after cleaning",
        ));
    }
    Ok(Translation {
        container_group: ContainerGroup {
            location: Some(node.region.clone()),
            tags: tags(pod, &namespace, &pod_name, &ctx),
            zones: group_zones,
            identity: group_identity,
            properties,
            ..ContainerGroup::default()
        },
        name,
        warnings: findings.warnings,
        hooks: hook_plan,
    })
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
    ctx: Option<crate::container_group::SecurityContextDefinition>,
    windows: bool,
    field: &str,
    findings: &mut Findings,
) -> Option<crate::container_group::SecurityContextDefinition> {
    if windows && ctx.is_some() {
        findings.warn(
            format!("{field}.securityContext"),
            "ACI applies security contexts to Linux containers only: ignored",
        );
        return None;
    }
    ctx
}

/// The pod's OS: `spec.os`, else the `kubernetes.io/os` node selector, else the node's.
fn operating_system(
    spec: &k8s::PodSpec,
    node: &NodeOptions,
    findings: &mut Findings,
) -> OperatingSystemTypes {
    let selector = spec.node_selector.as_ref();
    let candidates = [
        ("spec.os.name", spec.os.as_ref().map(|o| o.name.clone())),
        (
            "spec.nodeSelector['kubernetes.io/os']",
            selector.and_then(|s| s.get("kubernetes.io/os")).cloned(),
        ),
        (
            "spec.nodeSelector['beta.kubernetes.io/os']",
            selector
                .and_then(|s| s.get("beta.kubernetes.io/os"))
                .cloned(),
        ),
    ];
    let mut chosen: Option<(&str, OperatingSystemTypes)> = None;
    for (field, value) in candidates {
        let Some(value) = value else { continue };
        let os = match value.to_ascii_lowercase().as_str() {
            "linux" => OperatingSystemTypes::Linux,
            "windows" => OperatingSystemTypes::Windows,
            other => {
                findings.unsupported(field, format!("ACI runs linux or windows, not {other:?}"));
                continue;
            }
        };
        match &chosen {
            Some((first, chosen_os)) if *chosen_os != os => {
                findings.invalid(field, format!("contradicts {first}"))
            }
            Some(_) => {}
            None => chosen = Some((field, os)),
        }
    }
    chosen.map_or_else(|| node.os_type.clone(), |(_, os)| os)
}

fn restart_policy(spec: &k8s::PodSpec, findings: &mut Findings) -> Option<RestartPolicy> {
    match spec.restart_policy.as_deref().unwrap_or("Always") {
        "Always" => Some(RestartPolicy::Always),
        "OnFailure" => Some(RestartPolicy::OnFailure),
        "Never" => Some(RestartPolicy::Never),
        other => {
            findings.invalid(
                "spec.restartPolicy",
                format!("unknown restart policy {other:?}"),
            );
            None
        }
    }
}

fn diagnostics(pod: &k8s::Pod, node: &NodeOptions) -> Option<ContainerGroupDiagnostics> {
    let workspace = node.log_analytics.as_ref()?;
    let mut log = LogAnalytics {
        workspace_id: workspace.workspace_id.clone(),
        workspace_key: Some(workspace.workspace_key.clone()),
        ..LogAnalytics::default()
    };
    // upstream: with CLUSTER_RESOURCE_ID the logs go to Container Insights with these keys.
    if let Some(cluster) = &node.cluster_resource_id {
        log.log_type = Some(LogAnalyticsLogType::ContainerInsights);
        log.metadata
            .insert("cluster-resource-id".to_owned(), cluster.clone());
        log.metadata
            .insert("node-name".to_owned(), node.node_name.clone());
        if let Some(uid) = &pod.metadata.uid {
            log.metadata.insert("pod-uuid".to_owned(), uid.clone());
        }
    }
    Some(ContainerGroupDiagnostics {
        log_analytics: Some(log),
    })
}

fn tags(
    pod: &k8s::Pod,
    namespace: &str,
    pod_name: &str,
    ctx: &PodContext<'_>,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        (names::TAG_POD_NAME.to_owned(), pod_name.to_owned()),
        (names::TAG_NAMESPACE.to_owned(), namespace.to_owned()),
        (names::TAG_NODE_NAME.to_owned(), ctx.node_name().to_owned()),
    ]);
    if let Some(uid) = &pod.metadata.uid {
        tags.insert(names::TAG_POD_UID.to_owned(), uid.clone());
    }
    if let Some(cluster) = &ctx.node.cluster_name {
        tags.insert(names::TAG_CLUSTER_NAME.to_owned(), cluster.clone());
    }
    if let Some(id) = &ctx.node.cluster_id {
        tags.insert(names::TAG_CLUSTER_ID.to_owned(), id.clone());
    }
    if let Some(created) = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| serde_json::to_value(t).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
    {
        tags.insert(names::TAG_CREATION_TIMESTAMP.to_owned(), created);
    }
    tags
}

/// Pod-level fields ACI has no form for.
fn check_pod_features(spec: &k8s::PodSpec, findings: &mut Findings) {
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
fn check_container_features(c: &k8s::Container, field: &str, findings: &mut Findings) {
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
