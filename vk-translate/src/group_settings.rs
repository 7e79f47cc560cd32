//! Group-level settings taken from the pod and the node: operating system, restart policy,
//! subnets, Log Analytics diagnostics and the tags that tie the group to its pod.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{
    ContainerGroupDiagnostics, ContainerGroupSubnetId, LogAnalytics, LogAnalyticsLogType,
    OperatingSystemTypes, RestartPolicy,
};
use crate::error::Findings;
use crate::names;
use crate::node::NodeOptions;
use crate::pod_context::PodContext;

/// The pod's OS: `spec.os`, else the `kubernetes.io/os` node selector, else the node's.
pub(crate) fn operating_system(
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

pub(crate) fn restart_policy(
    spec: &k8s::PodSpec,
    findings: &mut Findings,
) -> Option<RestartPolicy> {
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

/// The subnets of a group with a private IP address (none for a public one).
pub(crate) fn subnet_ids(
    node: &NodeOptions,
    private: bool,
    windows: bool,
    findings: &mut Findings,
) -> Vec<ContainerGroupSubnetId> {
    if !private {
        return Vec::new();
    }
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
}

pub(crate) fn diagnostics(pod: &k8s::Pod, node: &NodeOptions) -> Option<ContainerGroupDiagnostics> {
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

pub(crate) fn tags(
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
