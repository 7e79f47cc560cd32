//! PATCH bodies: JSON merge patch, strategic merge patch (list-maps merged by key for the
//! fields that matter) and JSON patch.
use serde_json::{Map, Value};

use super::status::ApiError;

/// The patch types the fake understands, by `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchType {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

impl PatchType {
    /// The type a `Content-Type` names.
    pub fn from_content_type(ct: &str) -> Result<Self, ApiError> {
        let base = ct.split(';').next().unwrap_or_default().trim();
        match base {
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/json-patch+json" => Ok(Self::Json),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(Self::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }
}

/// The key that identifies items of a list field in strategic merge patch and in
/// server-side apply, by field name (the fake does not look at the parent type).
pub(crate) fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "conditions" | "addresses" => "type",
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "containerStatuses"
        | "initContainerStatuses" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        _ => return None,
    })
}

/// Primitive lists merged as sets by strategic merge patch.
fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

/// Apply a JSON merge patch.
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// Apply a JSON patch (list of operations).
pub(crate) fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    json_patch::patch(target, &ops)
        .map_err(|e| ApiError::invalid_patch(&format!("the JSON patch does not apply: {e}")))
}

/// Apply a strategic merge patch.
pub(crate) fn strategic(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => strategic_map(t, p),
        _ => *target = strip_directives(patch),
    }
}

fn strategic_map(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = match strip_directives(&Value::Object(patch.clone())) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        return;
    }
    for (k, v) in patch {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) = (target.get_mut(field), v.as_array())
            {
                list.retain(|x| !remove.contains(x));
            }
            continue;
        }
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(pm) => {
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    target.remove(k);
                    continue;
                }
                match target.get_mut(k) {
                    Some(Value::Object(tm)) => strategic_map(tm, pm),
                    _ => {
                        target.insert(k.clone(), strip_directives(v));
                    }
                }
            }
            Value::Array(items) => {
                let merged = match (target.get_mut(k), merge_key(k)) {
                    (Some(Value::Array(existing)), Some(key)) => {
                        merge_list_by_key(existing, items, key);
                        true
                    }
                    (Some(Value::Array(existing)), None) if is_set_list(k) => {
                        for i in items {
                            if !existing.contains(i) {
                                existing.push(i.clone());
                            }
                        }
                        true
                    }
                    _ => false,
                };
                if !merged {
                    let items: Vec<Value> = items
                        .iter()
                        .filter(|i| i.get("$patch").is_none())
                        .map(strip_directives)
                        .collect();
                    target.insert(k.clone(), Value::Array(items));
                }
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

fn merge_list_by_key(existing: &mut Vec<Value>, items: &[Value], key: &str) {
    for item in items {
        let Some(id) = item.get(key) else {
            continue;
        };
        let pos = existing.iter().position(|e| e.get(key) == Some(id));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(p) = pos {
                existing.remove(p);
            }
            continue;
        }
        match (pos, item.as_object()) {
            (Some(p), Some(pm)) => match existing[p].as_object_mut() {
                Some(em) => strategic_map(em, pm),
                None => existing[p] = strip_directives(item),
            },
            _ => existing.push(strip_directives(item)),
        }
    }
}

/// The patch without `$`-directives, as an object to store.
fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_patch_merges_conditions_by_type() {
        let mut node = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False"},
            {"type": "MemoryPressure", "status": "False"},
        ]}});
        strategic(
            &mut node,
            &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "PIDPressure", "status": "False"}]}}),
        );
        assert_eq!(
            node,
            json!({"status": {"conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "MemoryPressure", "status": "False"},
                {"type": "PIDPressure", "status": "False"},
            ]}})
        );
    }

    #[test]
    fn strategic_patch_handles_delete_directives_and_replaces_plain_lists() {
        let mut pod = json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"containers": [
            {"name": "a", "image": "x"}, {"name": "b", "image": "y"}
        ], "tolerations": [{"key": "k"}]}});
        strategic(
            &mut pod,
            &json!({
                "$setElementOrder/containers": [{"name": "a"}],
                "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
                "spec": {"containers": [{"name": "b", "$patch": "delete"}, {"name": "a", "image": "z"}],
                         "tolerations": [{"key": "j"}]}
            }),
        );
        assert_eq!(
            pod,
            json!({"metadata": {"finalizers": ["b"]}, "spec": {"containers": [{"name": "a", "image": "z"}], "tolerations": [{"key": "j"}]}})
        );
    }

    #[test]
    fn merge_patch_null_removes_a_field() {
        let mut v = json!({"a": 1, "b": {"c": 2}});
        merge(&mut v, &json!({"b": {"c": null}, "d": [1]}));
        assert_eq!(v, json!({"a": 1, "b": {}, "d": [1]}));
    }
}
