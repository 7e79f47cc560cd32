//! FieldsV1, the set of field paths a `managedFields` entry owns (`f:<field>`,
//! `k:<key json>` for list-map items, `.` for the item itself), and the object paths it
//! names.
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::super::patch::merge_key;

/// A FieldsV1 set: `f:<field>`, `k:<key json>` and `.` (the item itself) elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Fields(pub(super) BTreeMap<String, Fields>);

pub(super) type Path = Vec<String>;

impl Fields {
    pub(super) fn from_json(v: &Value) -> Self {
        let mut out = BTreeMap::new();
        if let Some(m) = v.as_object() {
            for (k, c) in m {
                out.insert(k.clone(), Self::from_json(c));
            }
        }
        Self(out)
    }

    pub(super) fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect::<Map<String, Value>>(),
        )
    }

    pub(super) fn leaves(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for (k, c) in &self.0 {
            prefix.push(k.clone());
            if c.0.is_empty() {
                out.push(prefix.clone());
            } else {
                c.leaves(prefix, out);
            }
            prefix.pop();
        }
    }

    pub(super) fn leaf_paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.leaves(&mut Vec::new(), &mut out);
        out
    }

    /// Whether this set owns `path`: the path is a leaf here, or lies under one.
    pub(super) fn owns(&self, path: &[String]) -> bool {
        let mut node = self;
        for (i, el) in path.iter().enumerate() {
            match node.0.get(el) {
                Some(c) if c.0.is_empty() => return true,
                Some(c) => node = c,
                None => {
                    // Owning the item marker "." owns the item, not its fields.
                    let _ = i;
                    return false;
                }
            }
        }
        false
    }

    /// Whether any leaf of this set lies under `prefix`.
    pub(super) fn touches(&self, prefix: &[String]) -> bool {
        let mut node = self;
        for el in prefix {
            match node.0.get(el) {
                Some(c) if c.0.is_empty() => return true,
                Some(c) => node = c,
                None => return false,
            }
        }
        true
    }

    pub(super) fn remove(&mut self, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            self.0.remove(first);
            return;
        }
        if let Some(c) = self.0.get_mut(first) {
            c.remove(rest);
            if c.0.is_empty() {
                self.0.remove(first);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn insert(&mut self, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let child = self.0.entry(first.clone()).or_default();
        child.insert(rest);
    }
}

/// The fields set in `v` (an applied configuration or part of it).
pub(super) fn fields_of(v: &Value) -> Fields {
    let mut out = BTreeMap::new();
    if let Some(m) = v.as_object() {
        for (k, c) in m {
            out.insert(format!("f:{k}"), field_node(k, c));
        }
    }
    Fields(out)
}

pub(super) fn field_node(name: &str, v: &Value) -> Fields {
    match v {
        Value::Object(m) if !m.is_empty() => fields_of(v),
        Value::Array(items) => match merge_key(name) {
            Some(key) if items.iter().all(|i| i.get(key).is_some()) && !items.is_empty() => {
                let mut out = BTreeMap::new();
                for item in items {
                    let mut node = fields_of(item);
                    node.0.insert(".".into(), Fields::default());
                    out.insert(item_key(key, &item[key]), node);
                }
                Fields(out)
            }
            _ => Fields::default(),
        },
        _ => Fields::default(),
    }
}

pub(super) fn item_key(key: &str, value: &Value) -> String {
    format!("k:{}", json!({ key: value }))
}

/// The value at a FieldsV1 path, if present.
pub(super) fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(v);
    };
    if first == "." {
        return Some(v);
    }
    if let Some(f) = first.strip_prefix("f:") {
        return get_path(v.get(f)?, rest);
    }
    if let Some(k) = first.strip_prefix("k:") {
        let want: Map<String, Value> = serde_json::from_str(k).ok()?;
        let item = v
            .as_array()?
            .iter()
            .find(|i| want.iter().all(|(wk, wv)| i.get(wk) == Some(wv)))?;
        return get_path(item, rest);
    }
    None
}

/// Remove the value at a FieldsV1 path (a `.` path removes the list item).
pub(super) fn remove_path(v: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if let Some(f) = first.strip_prefix("f:") {
        if rest.is_empty() {
            if let Some(m) = v.as_object_mut() {
                m.remove(f);
            }
        } else if let Some(c) = v.get_mut(f) {
            remove_path(c, rest);
        }
        return;
    }
    if let Some(k) = first.strip_prefix("k:") {
        let Ok(want) = serde_json::from_str::<Map<String, Value>>(k) else {
            return;
        };
        let Some(items) = v.as_array_mut() else {
            return;
        };
        let Some(pos) = items
            .iter()
            .position(|i| want.iter().all(|(wk, wv)| i.get(wk) == Some(wv)))
        else {
            return;
        };
        if rest.first().map(String::as_str) == Some(".") {
            items.remove(pos);
        } else {
            remove_path(&mut items[pos], rest);
        }
    }
}

/// Whether `path` is a key field of a list item (`k:{"type":"Ready"}` then `f:type`):
/// those go with the item, never on their own.
pub(super) fn is_item_key(path: &[String]) -> bool {
    let [.., item, field] = path else {
        return false;
    };
    let (Some(k), Some(f)) = (item.strip_prefix("k:"), field.strip_prefix("f:")) else {
        return false;
    };
    serde_json::from_str::<Map<String, Value>>(k).is_ok_and(|m| m.contains_key(f))
}

pub(super) fn path_display(path: &[String]) -> String {
    let mut out = String::new();
    for el in path {
        if let Some(f) = el.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let inner = serde_json::from_str::<Map<String, Value>>(k)
                .map(|m| {
                    m.iter()
                        .map(|(a, b)| format!("{a}={b}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            out.push_str(&format!("[{inner}]"));
        }
    }
    out
}

/// One `managedFields` entry.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub(super) raw: Value,
    pub(super) manager: String,
    pub(super) operation: String,
    pub(super) subresource: String,
    pub(super) fields: Fields,
}

pub(super) fn entries_of(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|e| Entry {
                    raw: e.clone(),
                    manager: e["manager"].as_str().unwrap_or_default().to_owned(),
                    operation: e["operation"].as_str().unwrap_or_default().to_owned(),
                    subresource: e["subresource"].as_str().unwrap_or_default().to_owned(),
                    fields: Fields::from_json(&e["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}
