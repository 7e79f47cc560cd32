//! `dnsPolicy` and `dnsConfig` to the group's DNS configuration.

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::DnsConfiguration;
use crate::error::Findings;
use crate::node::NodeOptions;

/// Most name servers and search domains resolv.conf honours (the kubelet's limits).
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCHES: usize = 32;

/// The group's DNS configuration; `None` leaves ACI's default (Azure DNS).
pub(crate) fn dns_config(
    spec: &k8s::PodSpec,
    namespace: &str,
    node: &NodeOptions,
    findings: &mut Findings,
) -> Option<DnsConfiguration> {
    let explicit_policy = spec.dns_policy.as_deref();
    let policy = explicit_policy.unwrap_or("ClusterFirst");
    let mut nameservers: Vec<String> = Vec::new();
    let mut searches: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    match policy {
        "ClusterFirst" | "ClusterFirstWithHostNet" => match &node.cluster_dns {
            Some(server) => {
                let domain = &node.cluster_domain;
                nameservers.push(server.clone());
                searches.extend([
                    format!("{namespace}.svc.{domain}"),
                    format!("svc.{domain}"),
                    domain.clone(),
                ]);
                options.push("ndots:5".to_owned());
            }
            None => {
                // Only an explicit request is reported: every pod has this policy by default.
                if explicit_policy.is_some() {
                    findings.warn(
                        "spec.dnsPolicy",
                        format!(
                            "the node has no cluster DNS reachable from ACI: {policy} behaves like Default (Azure DNS; cluster service names do not resolve)"
                        ),
                    );
                }
            }
        },
        "Default" | "None" => {}
        other => {
            findings.invalid("spec.dnsPolicy", format!("unknown DNS policy {other:?}"));
        }
    }

    if let Some(config) = &spec.dns_config {
        for (i, server) in config.nameservers.iter().flatten().enumerate() {
            if server.contains(':') {
                findings.warn(
                    format!("spec.dnsConfig.nameservers[{i}]"),
                    "ACI groups have IPv4 only: this IPv6 name server will not be reachable",
                );
            }
            if !nameservers.contains(server) {
                nameservers.push(server.clone());
            }
        }
        for search in config.searches.iter().flatten() {
            if !searches.contains(search) {
                searches.push(search.clone());
            }
        }
        for option in config.options.iter().flatten() {
            let Some(name) = option.name.as_deref().filter(|n| !n.is_empty()) else {
                continue;
            };
            let rendered = match &option.value {
                Some(v) => format!("{name}:{v}"),
                None => name.to_owned(),
            };
            options.retain(|o| o.split(':').next() != Some(name));
            options.push(rendered);
        }
    }
    if policy == "None" && nameservers.is_empty() {
        findings.invalid(
            "spec.dnsConfig.nameservers",
            "dnsPolicy None needs at least one name server",
        );
        return None;
    }
    if nameservers.is_empty() {
        if !searches.is_empty() || !options.is_empty() {
            findings.warn(
                "spec.dnsConfig",
                "ACI takes search domains and options only with name servers: ignored",
            );
        }
        return None;
    }
    if nameservers.len() > MAX_NAMESERVERS {
        findings.warn(
            "spec.dnsConfig.nameservers",
            format!("more than {MAX_NAMESERVERS} name servers: the rest are dropped, as the kubelet does"),
        );
        nameservers.truncate(MAX_NAMESERVERS);
    }
    if searches.len() > MAX_SEARCHES {
        findings.warn(
            "spec.dnsConfig.searches",
            format!("more than {MAX_SEARCHES} search domains: the rest are dropped"),
        );
        searches.truncate(MAX_SEARCHES);
    }
    Some(DnsConfiguration {
        name_servers: nameservers,
        search_domains: (!searches.is_empty()).then(|| searches.join(" ")),
        options: (!options.is_empty()).then(|| options.join(" ")),
    })
}
