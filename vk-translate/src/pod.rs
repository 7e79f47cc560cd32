//! The entry point: a Pod plus the objects it references becomes a container group.
//!
//! [`translate_pod`] walks the whole pod and collects every problem before answering, so a
//! user sees all of them at once. It is pure: no I/O, no clock. This module sorts the
//! containers, grants their resources and assembles the group; one module per part does the
//! rest (`containers` for each container, `volumes`, `group_settings`, `registry`,
//! `identity`, `zones`, ... for the group's properties).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{
    ContainerGroup, ContainerGroupIpAddressType, ContainerGroupProperties, GpuSku,
    OperatingSystemTypes,
};
use crate::error::{Findings, Result, TranslateError, Warning};
use crate::group_settings::{diagnostics, operating_system, restart_policy, subnet_ids, tags};
use crate::hooks::HookPlan;
use crate::images::ResolvedImages;
use crate::node::NodeOptions;
use crate::pod_context::PodContext;
use crate::resources::Granted;
use crate::unsupported::check_pod_features;
use crate::{
    confidential, containers, dns, hooks, identity, names, ports, priority, registry, resources,
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
    let (regular, init) = sort_containers(spec, &mut findings);
    let (granted, gpu_sku) = grant_resources(pod, spec, &regular, node, &mut findings);
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
    let mut hook_plan = HookPlan::default();
    let mut regular_containers = Vec::with_capacity(regular.len());
    for (c, field) in &regular {
        hook_plan
            .containers
            .extend(hooks::container_hooks(c, field, &mut findings));
        regular_containers.push(containers::container(
            &ctx,
            c,
            field,
            &volumes,
            windows,
            &gpu_sku,
            &mut findings,
        ));
    }
    let init_containers: Vec<_> = init
        .iter()
        .map(|(c, field)| {
            containers::init_container(&ctx, c, field, &volumes, windows, &mut findings)
        })
        .collect();
    if windows && !init_containers.is_empty() {
        findings.unsupported(
            "spec.initContainers",
            "ACI runs init containers in Linux groups only",
        );
    }

    let ip_type = node.ip_address_type();
    let container_ports: Vec<_> = regular_containers
        .iter()
        .map(|c| c.properties.ports.clone())
        .collect();
    let ip_address = ports::ip_address(pod, &container_ports, ip_type.clone(), &mut findings);
    let private = ip_type == Some(ContainerGroupIpAddressType::Private);
    let subnet_ids = subnet_ids(node, private, windows, &mut findings);

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
        containers: regular_containers,
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

/// A container and the pod field it came from (`spec.containers[0]`).
type FieldContainer<'a> = (&'a k8s::Container, String);

/// The containers ACI runs side by side (regular ones and sidecars) and the init containers,
/// each with its field; names and counts are checked.
fn sort_containers<'a>(
    spec: &'a k8s::PodSpec,
    findings: &mut Findings,
) -> (Vec<FieldContainer<'a>>, Vec<FieldContainer<'a>>) {
    // Sidecars (init containers with restartPolicy Always) run beside the containers.
    let mut regular: Vec<FieldContainer<'a>> = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| (c, format!("spec.containers[{i}]")))
        .collect();
    let mut init: Vec<FieldContainer<'a>> = Vec::new();
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
    (regular, init)
}

/// The resources granted to each regular container by name, within the group's limits, and
/// the GPU SKU they use.
fn grant_resources(
    pod: &k8s::Pod,
    spec: &k8s::PodSpec,
    regular: &[FieldContainer<'_>],
    node: &NodeOptions,
    findings: &mut Findings,
) -> (BTreeMap<String, Granted>, GpuSku) {
    let mut grants: Vec<Granted> = regular
        .iter()
        .map(|(c, field)| {
            resources::container_resources(c.resources.as_ref(), field, node, findings)
        })
        .collect();
    resources::clamp_limits_to_group(
        &mut regular
            .iter()
            .map(|(_, field)| field.as_str())
            .zip(grants.iter_mut())
            .collect::<Vec<_>>(),
        findings,
    );
    let granted: BTreeMap<String, Granted> = regular
        .iter()
        .map(|(c, _)| c.name.clone())
        .zip(grants)
        .collect();
    resources::check_group_totals(&granted.values().copied().collect::<Vec<_>>(), findings);
    let uses_gpu = granted.values().any(|g| g.gpu > 0);
    let gpu_sku = resources::gpu_sku(pod, uses_gpu, findings);
    if spec.resources.is_some() {
        findings.warn(
            "spec.resources",
            "ACI sizes containers one by one: pod-level resources are not applied",
        );
    }
    (granted, gpu_sku)
}
