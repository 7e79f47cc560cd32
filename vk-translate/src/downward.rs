//! The downward API (`fieldRef`, `resourceFieldRef`) for env and volumes.

use k8s_openapi::api::core::v1 as k8s;

use crate::pod_context::PodContext;
use crate::resources::parse_quantity;

/// Why a downward API value cannot be given.
pub(crate) enum DownwardProblem {
    /// Known only after the group is created (pod and host IPs): a warning.
    NotYetKnown(String),
    /// Malformed or not supported: an error.
    Invalid(String),
}

/// Value of a `fieldRef` path; `volume` allows the whole-map forms only volumes have.
pub(crate) fn field_value(
    ctx: &PodContext<'_>,
    path: &str,
    volume: bool,
) -> Result<String, DownwardProblem> {
    let meta = &ctx.pod.metadata;
    let map_entry = |map: Option<&std::collections::BTreeMap<String, String>>, key: &str| {
        map.and_then(|m| m.get(key)).cloned().unwrap_or_default()
    };
    match path {
        "metadata.name" => Ok(meta.name.clone().unwrap_or_default()),
        "metadata.namespace" => Ok(ctx.namespace().to_owned()),
        "metadata.uid" => Ok(meta.uid.clone().unwrap_or_default()),
        "metadata.labels" if volume => Ok(format_map(meta.labels.as_ref())),
        "metadata.annotations" if volume => Ok(format_map(meta.annotations.as_ref())),
        "spec.nodeName" => Ok(ctx.node_name().to_owned()),
        "spec.serviceAccountName" => Ok(ctx
            .spec
            .service_account_name
            .clone()
            .or_else(|| ctx.spec.service_account.clone())
            .unwrap_or_else(|| "default".to_owned())),
        "status.podIP" | "status.podIPs" | "status.hostIP" | "status.hostIPs" => {
            Err(DownwardProblem::NotYetKnown(format!(
                "{path} is known only after ACI creates the group: the value is left out"
            )))
        }
        other => {
            if let Some(key) = subscript(other, "metadata.labels") {
                Ok(map_entry(meta.labels.as_ref(), &key))
            } else if let Some(key) = subscript(other, "metadata.annotations") {
                Ok(map_entry(meta.annotations.as_ref(), &key))
            } else {
                Err(DownwardProblem::Invalid(format!(
                    "field path {other:?} is not supported by the downward API"
                )))
            }
        }
    }
}

/// `metadata.labels['key']` -> `key`.
fn subscript(path: &str, prefix: &str) -> Option<String> {
    let rest = path
        .strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')?;
    let key = rest
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')))?;
    Some(key.to_owned())
}

/// The kubelet's file format for a whole label or annotation map: sorted `key="value"` lines.
fn format_map(map: Option<&std::collections::BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Value of a `resourceFieldRef` against what ACI grants the container (limits fall back
/// to requests: ACI caps a container without limits at its request).
pub(crate) fn resource_value(
    ctx: &PodContext<'_>,
    selector: &k8s::ResourceFieldSelector,
    default_container: &str,
) -> Result<String, DownwardProblem> {
    let container = selector
        .container_name
        .as_deref()
        .filter(|c| !c.is_empty())
        .unwrap_or(default_container);
    let Some(granted) = ctx.granted.get(container) else {
        return Err(DownwardProblem::Invalid(format!(
            "container {container:?} not found in the pod"
        )));
    };
    let divisor =
        match &selector.divisor {
            None => None,
            Some(q) => Some(parse_quantity(&q.0).ok_or_else(|| {
                DownwardProblem::Invalid(format!("divisor {:?} is not valid", q.0))
            })?),
        };
    let ceil_div = |value: u128, divisor: u128| {
        if divisor == 0 {
            Err(DownwardProblem::Invalid(
                "divisor must be positive".to_owned(),
            ))
        } else {
            Ok((value.div_ceil(divisor)).to_string())
        }
    };
    match selector.resource.as_str() {
        // The kubelet: ceil(millicores / divisor in millicores), divisor 1 by default.
        r @ ("limits.cpu" | "requests.cpu") => {
            let millis = if r == "limits.cpu" {
                granted.cpu_limit_millis()
            } else {
                granted.cpu * 10
            };
            let divisor = divisor.map_or(Some(1000), |d| d.ceil_scaled(3));
            ceil_div(millis, divisor.unwrap_or(u128::MAX))
        }
        r @ ("limits.memory" | "requests.memory") => {
            let bytes = if r == "limits.memory" {
                granted.memory_limit_bytes()
            } else {
                granted.memory * 100_000_000
            };
            let divisor = divisor.map_or(Some(1), |d| d.ceil_scaled(0));
            ceil_div(bytes, divisor.unwrap_or(u128::MAX))
        }
        other => Err(DownwardProblem::Invalid(format!(
            "resource {other:?} is not available on ACI (cpu and memory are)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscripts_should_parse_quoted_keys() {
        assert_eq!(
            subscript("metadata.labels['app']", "metadata.labels").as_deref(),
            Some("app")
        );
        assert_eq!(
            subscript("metadata.annotations[\"a/b\"]", "metadata.annotations").as_deref(),
            Some("a/b")
        );
        assert!(subscript("metadata.labels[app]", "metadata.labels").is_none());
    }
}
