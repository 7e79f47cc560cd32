//! Container ports and the group's IP address (public, or private in the node's subnets).

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{
    ContainerGroupIpAddressType, ContainerGroupNetworkProtocol, ContainerNetworkProtocol,
    ContainerPort, IpAddress, Port,
};
use crate::error::Findings;

/// Most ports ACI exposes on one IP address (aci-spec README).
pub const MAX_PORTS_PER_IP: usize = 5;

/// Pod annotation setting a public IP's DNS name label (upstream provider's).
pub const DNS_NAME_LABEL_ANNOTATION: &str = "virtualkubelet.io/dnsnamelabel";

/// The ports of one container.
pub(crate) fn container_ports(
    container: &k8s::Container,
    field: &str,
    findings: &mut Findings,
) -> Vec<ContainerPort> {
    let mut out: Vec<ContainerPort> = Vec::new();
    for (i, port) in container.ports.iter().flatten().enumerate() {
        let field = format!("{field}.ports[{i}]");
        if !(1..=65535).contains(&port.container_port) {
            findings.invalid(
                format!("{field}.containerPort"),
                format!("{} is not a port number", port.container_port),
            );
            continue;
        }
        let protocol = match port.protocol.as_deref().unwrap_or("TCP") {
            "TCP" => ContainerNetworkProtocol::Tcp,
            "UDP" => ContainerNetworkProtocol::Udp,
            other => {
                findings.unsupported(
                    format!("{field}.protocol"),
                    format!("ACI ports are TCP or UDP, not {other}"),
                );
                continue;
            }
        };
        if port.host_port.is_some_and(|p| p != 0) {
            findings.warn(
                format!("{field}.hostPort"),
                "a container group has no host: the host port is dropped (the container port is exposed on the group's IP)",
            );
        }
        if port.host_ip.as_deref().is_some_and(|h| !h.is_empty()) {
            findings.warn(
                format!("{field}.hostIP"),
                "a container group has no host: ignored",
            );
        }
        let entry = ContainerPort {
            protocol: Some(protocol),
            port: port.container_port,
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// The group's IP address carrying the union of the containers' ports, `None` without ports
/// or without an address type.
pub(crate) fn ip_address(
    pod: &k8s::Pod,
    containers: &[Vec<ContainerPort>],
    type_: Option<ContainerGroupIpAddressType>,
    findings: &mut Findings,
) -> Option<IpAddress> {
    let mut ports: Vec<Port> = Vec::new();
    for port in containers.iter().flatten() {
        let protocol = match port.protocol {
            Some(ContainerNetworkProtocol::Udp) => ContainerGroupNetworkProtocol::Udp,
            _ => ContainerGroupNetworkProtocol::Tcp,
        };
        let entry = Port {
            protocol: Some(protocol),
            port: port.port,
        };
        if !ports.contains(&entry) {
            ports.push(entry);
        }
    }
    let label = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DNS_NAME_LABEL_ANNOTATION))
        .cloned();
    let type_ = type_?;
    if ports.is_empty() {
        if label.is_some() {
            findings.warn(
                format!("metadata.annotations['{DNS_NAME_LABEL_ANNOTATION}']"),
                "the pod exposes no ports, so the group has no IP address to label: ignored",
            );
        }
        return None;
    }
    if ports.len() > MAX_PORTS_PER_IP {
        findings.over_limit(
            "spec.containers[*].ports",
            format!(
                "the containers expose {} distinct ports; ACI exposes at most {MAX_PORTS_PER_IP} per IP address",
                ports.len()
            ),
        );
    }
    let dns_name_label = match (&type_, label) {
        (ContainerGroupIpAddressType::Public, label) => label,
        (_, Some(_)) => {
            findings.warn(
                format!("metadata.annotations['{DNS_NAME_LABEL_ANNOTATION}']"),
                "DNS name labels exist for public IP addresses only: ignored",
            );
            None
        }
        (_, None) => None,
    };
    Some(IpAddress {
        ports,
        type_,
        ip: None,
        dns_name_label,
        auto_generated_domain_name_label_scope: None,
        fqdn: None,
    })
}
