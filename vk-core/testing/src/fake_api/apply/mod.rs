//! Server-side apply: field managers, ownership recorded as `managedFields` (FieldsV1),
//! conflicts between managers, and removal of fields a manager stops applying.
//!
//! Lists whose field name has a merge key ([`super::patch::merge_key`]: `conditions` and
//! `addresses` by `type`, `containers` by `name`, ...) are list-maps: each item is owned on
//! its own, so two managers applying different node conditions do not clobber each other.
//! Other lists are atomic.
mod fields_v1;

use serde_json::{Map, Value, json};

use super::patch::merge_key;
use super::resources::Resource;
use super::status::ApiError;
use fields_v1::{
    Entry, Path, entries_of, fields_of, get_path, is_item_key, path_display, remove_path,
};

/// Merge an applied configuration into an object: maps recurse, list-maps merge by key,
/// everything else is replaced.
fn merge_applied(target: &mut Value, applied: &Value) {
    let (Some(t), Some(a)) = (target.as_object_mut(), applied.as_object()) else {
        *target = applied.clone();
        return;
    };
    for (k, v) in a {
        match (t.get_mut(k), v) {
            (Some(tv @ Value::Object(_)), Value::Object(_)) => merge_applied(tv, v),
            (Some(Value::Array(existing)), Value::Array(items)) if merge_key(k).is_some() => {
                let key = merge_key(k).expect("invariant: checked is_some");
                for item in items {
                    let Some(id) = item.get(key) else {
                        continue;
                    };
                    match existing.iter_mut().find(|e| e.get(key) == Some(id)) {
                        Some(e) => merge_applied(e, item),
                        None => existing.push(item.clone()),
                    }
                }
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A server-side apply request.
pub(crate) struct ApplyRequest<'a> {
    /// The applied configuration.
    pub applied: &'a Value,
    /// `fieldManager`.
    pub manager: &'a str,
    /// `force=true`.
    pub force: bool,
    /// `status` when applied to the status subresource.
    pub subresource: Option<&'a str>,
    /// The resource.
    pub resource: &'a Resource,
    /// Object name from the path.
    pub name: &'a str,
    /// Timestamp for the managedFields entry.
    pub now: &'a str,
}

/// Apply to `current` (empty object when creating) and return the new object.
pub(crate) fn apply(current: Option<&Value>, req: &ApplyRequest<'_>) -> Result<Value, ApiError> {
    let res = req.resource;
    if req.applied.get("kind").and_then(Value::as_str) != Some(res.kind)
        || req.applied.get("apiVersion").and_then(Value::as_str) != Some(res.api_version().as_str())
    {
        return Err(ApiError::bad_request(format!(
            "the applied object must have apiVersion {} and kind {}",
            res.api_version(),
            res.kind
        )));
    }
    if let Some(n) = req
        .applied
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        && n != req.name
    {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    // The part of the applied configuration this request may set.
    let scoped = scope(req.applied, req.subresource, res);
    let new_fields = fields_of(&scoped);
    let sub = req.subresource.unwrap_or_default();
    let mut entries = current.map(entries_of).unwrap_or_default();
    let me = |e: &Entry| e.manager == req.manager && e.subresource == sub && e.operation == "Apply";
    let mine_before = entries
        .iter()
        .find(|e| me(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();

    // Conflicts: fields another manager owns whose value this apply would change.
    let empty = json!({});
    let cur = current.unwrap_or(&empty);
    let mut conflicts: Vec<(String, Path)> = Vec::new();
    for path in new_fields.leaf_paths() {
        if path.last().map(String::as_str) == Some(".") {
            continue;
        }
        for e in entries.iter().filter(|e| !me(e)) {
            if e.fields.owns(&path) && get_path(cur, &path) != get_path(&scoped, &path) {
                conflicts.push((e.manager.clone(), path.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !req.force {
            return Err(conflict_error(res, req.name, &conflicts));
        }
        for (m, p) in &conflicts {
            for e in entries.iter_mut().filter(|e| &e.manager == m) {
                e.fields.remove(p);
            }
        }
    }

    let mut obj = cur.clone();
    merge_applied(&mut obj, &scoped);

    // Fields this manager applied before and no longer applies, owned by nobody else.
    let now_leaves = new_fields.leaf_paths();
    for path in mine_before.leaf_paths() {
        if now_leaves.contains(&path) || is_item_key(&path) {
            continue;
        }
        let others_own = entries.iter().filter(|e| !me(e)).any(|e| {
            if path.last().map(String::as_str) == Some(".") {
                e.fields.touches(&path[..path.len() - 1])
            } else {
                e.fields.owns(&path)
            }
        });
        if !others_own {
            remove_path(&mut obj, &path);
        }
    }

    // Record ownership.
    entries.retain(|e| !me(e) && !e.fields.is_empty());
    let mut managed: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut raw = e.raw.clone();
            raw["fieldsV1"] = e.fields.to_json();
            raw
        })
        .collect();
    let mut entry = json!({
        "manager": req.manager,
        "operation": "Apply",
        "apiVersion": res.api_version(),
        "time": req.now,
        "fieldsType": "FieldsV1",
        "fieldsV1": new_fields.to_json(),
    });
    if !sub.is_empty() {
        entry["subresource"] = json!(sub);
    }
    managed.push(entry);
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("managedFields".into(), Value::Array(managed));
    } else if let Some(m) = obj.as_object_mut() {
        m.insert("metadata".into(), json!({ "managedFields": managed }));
    }
    if let Some(m) = obj.as_object_mut() {
        m.insert("kind".into(), json!(res.kind));
        m.insert("apiVersion".into(), json!(res.api_version()));
    }
    Ok(obj)
}

/// The 409 of an apply that would change fields other managers own, worded as the API
/// server words it.
fn conflict_error(res: &Resource, name: &str, conflicts: &[(String, Path)]) -> ApiError {
    let list: Vec<String> = conflicts
        .iter()
        .map(|(m, p)| format!("conflict with \"{m}\": {}", path_display(p)))
        .collect();
    let mut err = ApiError::conflict(
        res,
        name,
        &format!(
            "Apply failed with {} conflict{}: {}",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            list.join("; ")
        ),
    );
    err.message = format!(
        "Apply failed with {} conflict(s): {}",
        conflicts.len(),
        list.join("; ")
    );
    err
}

/// The part of an applied object a request may set: `status` only on the status
/// subresource, everything but `status` on the main resource when status is a subresource.
/// Identity and system metadata are never owned.
fn scope(applied: &Value, subresource: Option<&str>, res: &Resource) -> Value {
    let mut out = Map::new();
    let Some(m) = applied.as_object() else {
        return Value::Object(out);
    };
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "status" if subresource != Some("status") && res.has_subresource("status") => {}
            "metadata" => {
                if subresource == Some("status") {
                    continue;
                }
                let mut meta = Map::new();
                if let Some(mm) = v.as_object() {
                    for (mk, mv) in mm {
                        if !matches!(
                            mk.as_str(),
                            "name"
                                | "namespace"
                                | "uid"
                                | "resourceVersion"
                                | "managedFields"
                                | "creationTimestamp"
                                | "generation"
                                | "deletionTimestamp"
                                | "deletionGracePeriodSeconds"
                                | "generateName"
                        ) {
                            meta.insert(mk.clone(), mv.clone());
                        }
                    }
                }
                if !meta.is_empty() {
                    out.insert("metadata".into(), Value::Object(meta));
                }
            }
            _ if subresource == Some("status") && k != "status" => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// Record a non-apply write (create, update, patch) by `manager`: it takes ownership of
/// every field it changed, as the API server records an `Update` operation.
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    resource: &Resource,
    now: &str,
) {
    let empty = json!({});
    let before = scope(old.unwrap_or(&empty), subresource, resource);
    let after = scope(new, subresource, resource);
    let changed: Vec<Path> = fields_of(&after)
        .leaf_paths()
        .into_iter()
        .filter(|p| p.last().map(String::as_str) != Some("."))
        .filter(|p| get_path(&before, p) != get_path(&after, p))
        .collect();
    if changed.is_empty() {
        return;
    }
    let sub = subresource.unwrap_or_default();
    let mut entries = entries_of(new);
    let mine = |e: &Entry| e.manager == manager && e.subresource == sub && e.operation == "Update";
    for e in entries.iter_mut().filter(|e| !mine(e)) {
        for p in &changed {
            e.fields.remove(p);
        }
    }
    let mut fields = entries
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    for p in &changed {
        fields.insert(p);
    }
    entries.retain(|e| !mine(e) && !e.fields.is_empty());
    let mut managed: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut raw = e.raw.clone();
            raw["fieldsV1"] = e.fields.to_json();
            raw
        })
        .collect();
    let mut entry = json!({
        "manager": manager,
        "operation": "Update",
        "apiVersion": resource.api_version(),
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields.to_json(),
    });
    if !sub.is_empty() {
        entry["subresource"] = json!(sub);
    }
    managed.push(entry);
    if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("managedFields".into(), Value::Array(managed));
    }
}

#[cfg(test)]
mod tests {
    use super::super::resources::{self, ids};
    use super::*;

    fn node_status(conds: &[(&str, &str)]) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
            "status": {"conditions": conds.iter().map(|(t, s)| json!({"type": t, "status": s})).collect::<Vec<_>>()}
        })
    }

    fn req<'a>(applied: &'a Value, manager: &'a str, force: bool) -> ApplyRequest<'a> {
        ApplyRequest {
            applied,
            manager,
            force,
            subresource: Some("status"),
            resource: resources::get(ids::nodes()),
            name: "n",
            now: "2025-01-01T00:00:00Z",
        }
    }

    fn conditions(obj: &Value) -> Vec<(String, String)> {
        obj["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["type"].as_str().unwrap().to_owned(),
                    c["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn two_managers_keep_each_others_conditions() {
        let base = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}});
        let a1 = node_status(&[("Ready", "True")]);
        let obj = apply(Some(&base), &req(&a1, "vk", false)).unwrap();
        let b1 = node_status(&[("NetworkUnavailable", "False")]);
        let obj = apply(Some(&obj), &req(&b1, "other", false)).unwrap();
        let a2 = node_status(&[("Ready", "False")]);
        let obj = apply(Some(&obj), &req(&a2, "vk", false)).unwrap();
        assert_eq!(
            conditions(&obj),
            vec![
                ("Ready".into(), "False".into()),
                ("NetworkUnavailable".into(), "False".into())
            ]
        );
    }

    #[test]
    fn a_field_another_manager_updated_survives_when_the_applier_drops_it() {
        let base = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}});
        let a1 = node_status(&[("Ready", "True"), ("MemoryPressure", "False")]);
        let obj = apply(Some(&base), &req(&a1, "vk", false)).unwrap();
        let mut patched = obj.clone();
        patched["status"]["conditions"][1]["status"] = json!("True");
        record_update(
            Some(&obj),
            &mut patched,
            "kubectl",
            Some("status"),
            resources::get(ids::nodes()),
            "2025-01-01T00:00:00Z",
        );
        let a2 = node_status(&[("Ready", "True")]);
        let obj = apply(Some(&patched), &req(&a2, "vk", false)).unwrap();
        assert_eq!(
            conditions(&obj),
            vec![
                ("Ready".into(), "True".into()),
                ("MemoryPressure".into(), "True".into())
            ]
        );
    }

    #[test]
    fn a_field_a_manager_stops_applying_is_removed() {
        let base = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}});
        let a1 = node_status(&[("Ready", "True"), ("MemoryPressure", "False")]);
        let obj = apply(Some(&base), &req(&a1, "vk", false)).unwrap();
        let a2 = node_status(&[("Ready", "True")]);
        let obj = apply(Some(&obj), &req(&a2, "vk", false)).unwrap();
        assert_eq!(conditions(&obj), vec![("Ready".into(), "True".into())]);
    }

    #[test]
    fn changing_another_managers_field_conflicts_unless_forced() {
        let base = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}});
        let a1 = node_status(&[("Ready", "True")]);
        let obj = apply(Some(&base), &req(&a1, "vk", false)).unwrap();
        let b1 = node_status(&[("Ready", "False")]);
        let err = apply(Some(&obj), &req(&b1, "other", false)).unwrap_err();
        assert_eq!(err.code, 409);
        assert!(
            err.message.contains("conflict with \"vk\""),
            "{}",
            err.message
        );
        let obj = apply(Some(&obj), &req(&b1, "other", true)).unwrap();
        assert_eq!(conditions(&obj), vec![("Ready".into(), "False".into())]);
        // Same value from a second manager is shared ownership, not a conflict.
        let obj = apply(Some(&obj), &req(&b1, "vk", false)).unwrap();
        assert_eq!(conditions(&obj), vec![("Ready".into(), "False".into())]);
    }
}
