//! Availability zones: a pod's zone node selector or required node affinity to the group's
//! `zones`.
//!
//! ACI places a container group in at most one zone, given as the zone number (`"1"`).
//! Kubernetes zone labels are `<region>-<number>` on AKS (`westus2-1`), or the bare number;
//! both are read. A pod allowed in several zones cannot be placed by ACI (it would pick none
//! of them deliberately), so it is an error, as is a zone the node does not offer
//! ([`NodeOptions::zones`]) or one in another region.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1 as k8s;

use crate::error::Findings;
use crate::node::NodeOptions;

/// The well-known zone label.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The deprecated zone label, still read.
pub const LEGACY_ZONE_LABEL: &str = "failure-domain.beta.kubernetes.io/zone";

/// Zones allowed by one constraint, with the field that set it.
struct Allowed {
    field: String,
    zones: BTreeSet<String>,
}

/// The group's `zones`: empty when the pod does not constrain its zone.
pub(crate) fn zones(
    spec: &k8s::PodSpec,
    node: &NodeOptions,
    findings: &mut Findings,
) -> Vec<String> {
    let mut constraints: Vec<Allowed> = Vec::new();
    for label in [ZONE_LABEL, LEGACY_ZONE_LABEL] {
        if let Some(value) = spec.node_selector.as_ref().and_then(|s| s.get(label)) {
            let field = format!("spec.nodeSelector['{label}']");
            if let Some(zone) = zone_number(value, node, &field, findings) {
                constraints.push(Allowed {
                    field,
                    zones: BTreeSet::from([zone]),
                });
            }
        }
    }
    if let Some(required) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
    {
        affinity_zones(required, node, findings, &mut constraints);
    }
    let Some(first) = constraints.first() else {
        return Vec::new();
    };
    let mut allowed = first.zones.clone();
    for c in &constraints[1..] {
        allowed = allowed.intersection(&c.zones).cloned().collect();
    }
    let field = first.field.clone();
    if allowed.is_empty() {
        findings.invalid(field, "the pod's zone constraints allow no zone together");
        return Vec::new();
    }
    if !node.zones.is_empty() {
        let outside: Vec<&String> = allowed.iter().filter(|z| !node.zones.contains(z)).collect();
        if !outside.is_empty() {
            findings.unsupported(
                &*field,
                format!(
                    "zone {} is not one of the node's zones in {} ({})",
                    outside
                        .iter()
                        .map(|z| z.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    node.region,
                    node.zones.join(", ")
                ),
            );
            return Vec::new();
        }
    }
    if allowed.len() > 1 {
        findings.unsupported(
            field,
            format!(
                "ACI places a group in one zone, but the pod allows {}: require one zone",
                allowed.into_iter().collect::<Vec<_>>().join(", ")
            ),
        );
        return Vec::new();
    }
    allowed.into_iter().collect()
}

/// Reads the required node affinity: terms are ORed, so it constrains the zone only when
/// every term does (with `In`); the allowed zones are then the union over the terms.
fn affinity_zones(
    required: &k8s::NodeSelector,
    node: &NodeOptions,
    findings: &mut Findings,
    constraints: &mut Vec<Allowed>,
) {
    let base = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";
    let mut union = BTreeSet::new();
    let mut every_term = !required.node_selector_terms.is_empty();
    for (t, term) in required.node_selector_terms.iter().enumerate() {
        let mut term_zones: Option<BTreeSet<String>> = None;
        for (e, expr) in term.match_expressions.iter().flatten().enumerate() {
            if expr.key != ZONE_LABEL && expr.key != LEGACY_ZONE_LABEL {
                continue;
            }
            let field = format!("{base}.nodeSelectorTerms[{t}].matchExpressions[{e}]");
            match expr.operator.as_str() {
                "In" => {
                    let zones: BTreeSet<String> = expr
                        .values
                        .iter()
                        .flatten()
                        .filter_map(|v| zone_number(v, node, &field, findings))
                        .collect();
                    term_zones = Some(match term_zones {
                        Some(z) => z.intersection(&zones).cloned().collect(),
                        None => zones,
                    });
                }
                "Exists" => {}
                other => findings.unsupported(
                    format!("{field}.operator"),
                    format!(
                        "ACI places a group in one zone named in advance: use In with one zone, not {other}"
                    ),
                ),
            }
        }
        match term_zones {
            Some(z) => union.extend(z),
            None => every_term = false,
        }
    }
    if every_term {
        constraints.push(Allowed {
            field: format!("{base}.nodeSelectorTerms"),
            zones: union,
        });
    }
}

/// `westus2-1` or `1` -> `1`; a zone of another region is an error.
fn zone_number(
    value: &str,
    node: &NodeOptions,
    field: &str,
    findings: &mut Findings,
) -> Option<String> {
    let value = value.trim();
    let (region, number) = match value.rsplit_once('-') {
        Some((region, number)) => (Some(region), number),
        None => (None, value),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        findings.invalid(
            field,
            format!("{value:?} is not an availability zone (<region>-<number> or <number>)"),
        );
        return None;
    }
    let node_region = node.region.to_ascii_lowercase().replace(' ', "");
    if let Some(region) = region
        && region.to_ascii_lowercase() != node_region
    {
        findings.unsupported(
            field,
            format!(
                "zone {value:?} is in region {region}; the node runs groups in {}",
                node.region
            ),
        );
        return None;
    }
    Some(number.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_values_should_map_to_numbers() {
        let node = NodeOptions::default().region("westus2");
        let mut findings = Findings::default();
        assert_eq!(
            zone_number("westus2-1", &node, "f", &mut findings).as_deref(),
            Some("1")
        );
        assert_eq!(
            zone_number("3", &node, "f", &mut findings).as_deref(),
            Some("3")
        );
        assert!(findings.errors.is_empty());
        assert_eq!(zone_number("eastus-1", &node, "f", &mut findings), None);
        assert_eq!(zone_number("westus2-a", &node, "f", &mut findings), None);
        assert_eq!(findings.errors.len(), 2);
    }
}
