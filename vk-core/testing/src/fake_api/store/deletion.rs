//! Deletion: graceful deletion (`deletionTimestamp`, then removal once the grace period
//! and the finalizers allow it), preconditions, and the garbage collector's background
//! deletion of dependents.
use std::sync::Arc;

use serde_json::{Value, json};

use super::super::resources::{self, ids};
use super::super::status::ApiError;
use super::key::ObjKey;
use super::objects::{Inner, has_finalizers, meta_mut, rv_of, uid_of};
use super::watch::EventType;

/// Options of a delete.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeleteOpts {
    /// `gracePeriodSeconds`.
    pub grace: Option<i64>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub rv: Option<String>,
    /// `propagationPolicy: Orphan` keeps dependents.
    pub orphan: bool,
}

impl Inner {
    pub(super) fn delete(
        &mut self,
        key: &ObjKey,
        opts: &DeleteOpts,
        now: jiff::Timestamp,
    ) -> Result<Value, ApiError> {
        let r = resources::get(key.res);
        let current = self
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(r, &key.name))?;
        if let Some(uid) = &opts.uid {
            let have = uid_of(&current).unwrap_or_default();
            if uid != have {
                return Err(ApiError::conflict(
                    r,
                    &key.name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
                    ),
                ));
            }
        }
        if let Some(rv) = &opts.rv {
            let have = rv_of(&current).unwrap_or_default();
            if rv != have {
                return Err(ApiError::conflict(
                    r,
                    &key.name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}"
                    ),
                ));
            }
        }
        let stamp = |secs: i64| {
            let t = now
                .saturating_add(jiff::SignedDuration::from_secs(secs))
                .unwrap_or(now);
            t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
        };
        let mut obj = (*current).clone();
        let grace = if key.res == ids::pods() {
            let bound = current
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            let finished = matches!(
                current.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
            let default = current
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .or_else(|| {
                    current
                        .pointer("/spec/terminationGracePeriodSeconds")
                        .and_then(Value::as_i64)
                })
                .unwrap_or(30);
            let g = opts.grace.unwrap_or(default).max(0);
            if !bound || finished { 0 } else { g }
        } else {
            0
        };
        if grace > 0 || has_finalizers(&current) {
            let existing = current
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64);
            if current.pointer("/metadata/deletionTimestamp").is_some()
                && existing.is_some_and(|e| e <= grace)
            {
                // Already terminating with a shorter or equal grace: nothing changes.
                return Ok((*current).clone());
            }
            let meta = meta_mut(&mut obj);
            meta.insert("deletionTimestamp".into(), json!(stamp(grace)));
            meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            self.rv += 1;
            let rv = self.rv;
            meta.insert("resourceVersion".into(), json!(rv.to_string()));
            let obj = Arc::new(obj);
            self.objects.insert(key.clone(), obj.clone());
            self.record(
                rv,
                EventType::Modified,
                key.clone(),
                obj.clone(),
                Some(current),
            );
            return Ok((*obj).clone());
        }
        if current.pointer("/metadata/deletionTimestamp").is_none() {
            let meta = meta_mut(&mut obj);
            meta.insert("deletionTimestamp".into(), json!(stamp(0)));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        let uid = uid_of(&current).unwrap_or_default().to_owned();
        let last = self.remove(key, obj);
        if key.res == ids::namespaces() {
            let inside: Vec<ObjKey> = self
                .objects
                .keys()
                .filter(|k| k.ns == key.name && resources::get(k.res).namespaced)
                .cloned()
                .collect();
            for k in inside {
                if let Some(o) = self.objects.get(&k).cloned() {
                    let mut o = (*o).clone();
                    meta_mut(&mut o).insert("deletionTimestamp".into(), json!(stamp(0)));
                    self.remove(&k, o);
                }
            }
        }
        if !opts.orphan {
            self.collect_garbage(&uid, now);
        }
        Ok(last)
    }

    /// Delete (gracefully, like the garbage collector's background deletion) every object
    /// owned by `uid`.
    pub(super) fn collect_garbage(&mut self, uid: &str, now: jiff::Timestamp) {
        if uid.is_empty() {
            return;
        }
        let owned: Vec<ObjKey> = self
            .objects
            .iter()
            .filter(|(_, o)| {
                o.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| {
                        refs.iter()
                            .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                    })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in owned {
            let _ = self.delete(&k, &DeleteOpts::default(), now);
        }
    }
}
