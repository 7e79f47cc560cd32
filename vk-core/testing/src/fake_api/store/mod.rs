//! The one generic in-memory store: JSON objects keyed by resource, namespace and name,
//! with a global resourceVersion, an event log for watch resumption and live watchers.
mod deletion;
mod filter;
mod key;
mod objects;
mod watch;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::resources::{self, ResId, ids};
use super::status::ApiError;
use vk_core::clock::SharedClock;

pub(crate) use deletion::DeleteOpts;
pub(crate) use filter::Filter;
pub(crate) use key::ObjKey;
pub(crate) use objects::{new_uid, uid_of};
pub(crate) use watch::{EventType, WatchFrom, WatchHandle, WatchMsg};

use objects::{Inner, has_finalizers, meta_mut, name_suffix};
use watch::{Watcher, transition};

/// The store.
pub(crate) struct Store {
    inner: Mutex<Inner>,
    clock: SharedClock,
}

impl Store {
    /// An empty store keeping the last `log_capacity` events for watch resumption.
    pub fn new(clock: SharedClock, log_capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                rv: 0,
                objects: BTreeMap::new(),
                log: VecDeque::new(),
                log_capacity: log_capacity.max(1),
                compacted: 0,
                watchers: Vec::new(),
                next_watcher: 1,
            }),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A wall-clock timestamp in the API server's format (seconds).
    pub fn now_string(&self) -> String {
        let now = self.clock.now();
        now.round(jiff::Unit::Second)
            .unwrap_or(now)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    /// The current global resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// One object.
    pub fn get(&self, key: &ObjKey) -> Option<Value> {
        self.lock().objects.get(key).map(|o| (**o).clone())
    }

    /// The objects of `res` that `filter` selects, in key order, with the list's
    /// resourceVersion. `after` skips keys up to and including it (paging).
    pub fn list(
        &self,
        res: ResId,
        filter: &Filter,
        after: Option<&(String, String)>,
        limit: Option<usize>,
    ) -> (Vec<Value>, u64, Option<(String, String)>, usize) {
        let inner = self.lock();
        let start = ObjKey {
            res,
            ns: after.map(|a| a.0.clone()).unwrap_or_default(),
            name: after.map(|a| a.1.clone()).unwrap_or_default(),
        };
        let mut items = Vec::new();
        let mut next = None;
        let mut remaining = 0usize;
        for (key, obj) in inner.objects.range(start..) {
            if key.res != res {
                break;
            }
            if after.is_some_and(|a| a.0 == key.ns && a.1 == key.name) {
                continue;
            }
            if !filter.matches(key, obj) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                if next.is_none() {
                    let last: &Value = items.last().expect("invariant: limit reached so non-empty");
                    next = Some((
                        last.pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        last.pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    ));
                }
                remaining += 1;
                continue;
            }
            items.push((**obj).clone());
        }
        (items, inner.rv, next, remaining)
    }

    /// Create `obj` under `res` in `ns` (empty for cluster-scoped). Fills name from
    /// `generateName`, uid, resourceVersion, creationTimestamp and generation.
    pub fn create(&self, res: ResId, ns: &str, mut obj: Value) -> Result<Value, ApiError> {
        let r = resources::get(res);
        let now = self.now_string();
        let mut inner = self.lock();
        if r.namespaced {
            let ns_key = ObjKey::new(ids::namespaces(), "", ns);
            match inner.objects.get(&ns_key) {
                None => {
                    return Err(ApiError::not_found(resources::get(ids::namespaces()), ns));
                }
                Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => {
                    return Err(ApiError::forbidden(format!(
                        "unable to create new content in namespace {ns} because it is being terminated"
                    )));
                }
                Some(_) => {}
            }
        }
        let meta = meta_mut(&mut obj);
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if name.is_empty() {
            let prefix = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    r,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
            loop {
                name = format!("{prefix}{}", name_suffix());
                if !inner.objects.contains_key(&ObjKey::new(res, ns, &name)) {
                    break;
                }
            }
        }
        let key = ObjKey::new(res, ns, &name);
        if inner.objects.contains_key(&key) {
            return Err(ApiError::already_exists(r, &name));
        }
        inner.rv += 1;
        let rv = inner.rv;
        meta.insert("name".into(), json!(name));
        if r.namespaced {
            meta.insert("namespace".into(), json!(ns));
        } else {
            meta.remove("namespace");
        }
        // A UID chosen by admission (a Job's, which its selector names) is kept.
        let uid = meta
            .get("uid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map_or_else(new_uid, str::to_owned);
        meta.insert("uid".into(), json!(uid));
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.insert("creationTimestamp".into(), json!(now));
        meta.insert("generation".into(), json!(1));
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        meta.remove("selfLink");
        if let Some(map) = obj.as_object_mut() {
            map.insert("kind".into(), json!(r.kind));
            map.insert("apiVersion".into(), json!(r.api_version()));
        }
        let obj = Arc::new(obj);
        inner.objects.insert(key.clone(), obj.clone());
        inner.record(rv, EventType::Added, key, obj.clone(), None);
        Ok((*obj).clone())
    }

    /// Read-modify-write an existing object. `f` sees the current object and returns the
    /// new one; system metadata is kept, the resourceVersion bumped and the generation
    /// bumped when `spec` changed. A write that changes nothing bumps nothing.
    pub fn modify<F>(&self, key: &ObjKey, f: F) -> Result<Value, ApiError>
    where
        F: FnOnce(&Value) -> Result<Value, ApiError>,
    {
        let r = resources::get(key.res);
        let mut inner = self.lock();
        let current = inner
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(r, &key.name))?;
        let mut new = f(&current)?;
        carry_system_metadata(&current, &mut new, r.kind, &r.api_version());
        if new == *current {
            return Ok(new);
        }
        if current.get("spec") != new.get("spec") {
            let g = current
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        inner.rv += 1;
        let rv = inner.rv;
        meta_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
        let new = Arc::new(new);
        let gone = new.pointer("/metadata/deletionTimestamp").is_some()
            && !has_finalizers(&new)
            && (key.res != ids::pods()
                || new
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    == Some(0));
        if gone {
            inner.objects.remove(key);
            inner.record(
                rv,
                EventType::Deleted,
                key.clone(),
                new.clone(),
                Some(current),
            );
            let uid = uid_of(&new).unwrap_or_default().to_owned();
            inner.collect_garbage(&uid, self.clock.now());
        } else {
            inner.objects.insert(key.clone(), new.clone());
            inner.record(
                rv,
                EventType::Modified,
                key.clone(),
                new.clone(),
                Some(current),
            );
        }
        Ok((*new).clone())
    }

    /// Delete an object. Pods bound to a node with a grace period above zero, and objects
    /// with finalizers, get a deletionTimestamp and stay; others are removed. Returns the
    /// object as it was removed or as it now is.
    pub fn delete(&self, key: &ObjKey, opts: &DeleteOpts) -> Result<Value, ApiError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.delete(key, opts, now)
    }

    /// Register a watch of `res`.
    pub fn watch(
        &self,
        res: ResId,
        filter: Filter,
        from: WatchFrom,
    ) -> Result<WatchHandle, ApiError> {
        let mut inner = self.lock();
        let mut initial = Vec::new();
        match from {
            WatchFrom::Now => {
                for (key, obj) in &inner.objects {
                    if key.res == res && filter.matches(key, obj) {
                        initial.push(WatchMsg::Event(EventType::Added, obj.clone()));
                    }
                }
            }
            WatchFrom::After(rv) => {
                if rv < inner.compacted {
                    return Err(ApiError::expired(rv, inner.compacted + 1));
                }
                for ev in &inner.log {
                    if ev.rv > rv
                        && ev.key.res == res
                        && let Some(msg) = transition(&filter, ev)
                    {
                        initial.push(msg);
                    }
                }
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let id = inner.next_watcher;
        inner.next_watcher += 1;
        inner.watchers.push(Watcher {
            id,
            res,
            filter,
            tx,
        });
        Ok(WatchHandle {
            id,
            initial,
            rx,
            rv: inner.rv,
        })
    }

    /// Queue a bookmark at the current resourceVersion on watch `id`, after every event
    /// already sent to it.
    pub fn bookmark(&self, id: u64) {
        let inner = self.lock();
        if let Some(w) = inner.watchers.iter().find(|w| w.id == id) {
            let _ = w.tx.send(WatchMsg::Bookmark(inner.rv));
        }
    }

    /// Forget watch `id`.
    pub fn unwatch(&self, id: u64) {
        self.lock().watchers.retain(|w| w.id != id);
    }

    /// Close every open watch (their streams end).
    pub fn close_watches(&self) -> usize {
        let mut inner = self.lock();
        let n = inner.watchers.len();
        inner.watchers.clear();
        n
    }

    /// Number of open watches.
    pub fn open_watches(&self) -> usize {
        let mut inner = self.lock();
        inner.watchers.retain(|w| !w.tx.is_closed());
        inner.watchers.len()
    }

    /// Drop the whole event log: watches from any earlier resourceVersion get 410.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.log.clear();
        inner.compacted = inner.rv;
    }
}

/// Keep what clients cannot change through a write: uid, creation time, deletion marks,
/// kind and apiVersion.
fn carry_system_metadata(current: &Value, new: &mut Value, kind: &str, api_version: &str) {
    let meta = meta_mut(new);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        match current.pointer(&format!("/metadata/{field}")) {
            Some(v) => {
                meta.insert(field.into(), v.clone());
            }
            None => {
                meta.remove(field);
            }
        }
    }
    if let Some(map) = new.as_object_mut() {
        map.insert("kind".into(), json!(kind));
        map.insert("apiVersion".into(), json!(api_version));
    }
}
