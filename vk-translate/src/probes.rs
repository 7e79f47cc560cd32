//! Liveness and readiness probes: `exec` and `httpGet` (ACI has nothing else).

use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::container_group::{ContainerExec, ContainerHttpGet, ContainerProbe, HttpHeader, Scheme};
use crate::error::Findings;

/// The liveness and readiness probes of a container, in ACI form.
pub(crate) fn container_probes(
    container: &k8s::Container,
    field: &str,
    findings: &mut Findings,
) -> (Option<ContainerProbe>, Option<ContainerProbe>) {
    if container.startup_probe.is_some() {
        findings.warn(
            format!("{field}.startupProbe"),
            "ACI has no startup probes: dropped (liveness probes start after their initial delay)",
        );
    }
    let liveness = container
        .liveness_probe
        .as_ref()
        .and_then(|p| probe(p, container, &format!("{field}.livenessProbe"), findings));
    let readiness = container
        .readiness_probe
        .as_ref()
        .and_then(|p| probe(p, container, &format!("{field}.readinessProbe"), findings));
    (liveness, readiness)
}

fn probe(
    probe: &k8s::Probe,
    container: &k8s::Container,
    field: &str,
    findings: &mut Findings,
) -> Option<ContainerProbe> {
    let mut out = ContainerProbe {
        initial_delay_seconds: probe.initial_delay_seconds,
        period_seconds: probe.period_seconds,
        failure_threshold: probe.failure_threshold,
        success_threshold: probe.success_threshold,
        timeout_seconds: probe.timeout_seconds,
        ..ContainerProbe::default()
    };
    if probe.termination_grace_period_seconds.is_some() {
        findings.warn(
            format!("{field}.terminationGracePeriodSeconds"),
            "ACI has no per-probe grace period: ignored",
        );
    }
    if let Some(exec) = &probe.exec {
        let command = exec.command.clone().unwrap_or_default();
        if command.is_empty() {
            findings.invalid(format!("{field}.exec.command"), "the command is empty");
            return None;
        }
        out.exec = Some(ContainerExec { command });
        return Some(out);
    }
    if let Some(get) = &probe.http_get {
        let port = match &get.port {
            IntOrString::Int(port) => Some(*port),
            IntOrString::String(name) => container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .map(|p| p.container_port)
                .or_else(|| name.parse().ok()),
        };
        let Some(port) = port.filter(|p| (1..=65535).contains(p)) else {
            findings.invalid(
                format!("{field}.httpGet.port"),
                match &get.port {
                    IntOrString::Int(port) => format!("{port} is not a port number"),
                    IntOrString::String(name) => {
                        format!("{name:?} is not a port number nor a named port of the container")
                    }
                },
            );
            return None;
        };
        let scheme = match get.scheme.as_deref() {
            None => None,
            Some(s) if s.eq_ignore_ascii_case("http") => Some(Scheme::Http),
            Some(s) if s.eq_ignore_ascii_case("https") => Some(Scheme::Https),
            Some(other) => {
                findings.invalid(
                    format!("{field}.httpGet.scheme"),
                    format!("scheme {other:?} is neither HTTP nor HTTPS"),
                );
                return None;
            }
        };
        if get.host.as_deref().is_some_and(|h| !h.is_empty()) {
            findings.warn(
                format!("{field}.httpGet.host"),
                "ACI probes the container's own address: host ignored",
            );
        }
        out.http_get = Some(ContainerHttpGet {
            path: get.path.clone(),
            port,
            scheme,
            http_headers: get
                .http_headers
                .iter()
                .flatten()
                .map(|h| HttpHeader {
                    name: Some(h.name.clone()),
                    value: Some(h.value.clone()),
                })
                .collect(),
        });
        return Some(out);
    }
    let kind = if probe.tcp_socket.is_some() {
        "tcpSocket"
    } else if probe.grpc.is_some() {
        "grpc"
    } else {
        findings.invalid(field, "the probe has no handler");
        return None;
    };
    findings.warn(
        format!("{field}.{kind}"),
        format!("ACI probes are exec or httpGet only: the {kind} probe is dropped"),
    );
    None
}
