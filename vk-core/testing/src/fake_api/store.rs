//! The one generic in-memory store: JSON objects keyed by resource, namespace and name,
//! with a global resourceVersion, an event log for watch resumption and live watchers.
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::resources::{self, ResId, ids};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use vk_core::clock::SharedClock;

/// Where an object lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjKey {
    /// The resource.
    pub res: ResId,
    /// Namespace, empty for cluster-scoped objects.
    pub ns: String,
    /// Name.
    pub name: String,
}

impl ObjKey {
    /// A key.
    pub fn new(res: ResId, ns: &str, name: &str) -> Self {
        Self {
            res,
            ns: ns.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    /// Created, or started matching a watch's selectors.
    Added,
    /// Changed.
    Modified,
    /// Removed, or stopped matching a watch's selectors.
    Deleted,
}

impl EventType {
    /// The watch event `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One entry of the event log.
#[derive(Clone, Debug)]
struct LoggedEvent {
    rv: u64,
    kind: EventType,
    key: ObjKey,
    obj: Arc<Value>,
    prev: Option<Arc<Value>>,
}

/// Which objects a list or watch selects.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    /// Namespace, or all namespaces.
    pub ns: Option<String>,
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
}

impl Filter {
    fn matches(&self, key: &ObjKey, obj: &Value) -> bool {
        self.ns.as_ref().is_none_or(|ns| *ns == key.ns)
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }
}

/// What a watcher receives, in order.
#[derive(Clone, Debug)]
pub(crate) enum WatchMsg {
    /// An event for an object.
    Event(EventType, Arc<Value>),
    /// A bookmark at this resourceVersion.
    Bookmark(u64),
}

struct Watcher {
    id: u64,
    res: ResId,
    filter: Filter,
    tx: mpsc::UnboundedSender<WatchMsg>,
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchFrom {
    /// Current state as synthetic ADDED events, then changes (no resourceVersion, or "0").
    Now,
    /// Every change after this resourceVersion.
    After(u64),
}

/// A registered watch.
pub(crate) struct WatchHandle {
    /// Id for [`Store::bookmark`] and [`Store::unwatch`].
    pub id: u64,
    /// Events to send first.
    pub initial: Vec<WatchMsg>,
    /// Live events.
    pub rx: mpsc::UnboundedReceiver<WatchMsg>,
    /// The store's resourceVersion when the watch was registered.
    pub rv: u64,
}

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

struct Inner {
    rv: u64,
    objects: BTreeMap<ObjKey, Arc<Value>>,
    log: VecDeque<LoggedEvent>,
    log_capacity: usize,
    /// Events at or below this resourceVersion are gone from the log.
    compacted: u64,
    watchers: Vec<Watcher>,
    next_watcher: u64,
}

/// The store.
pub(crate) struct Store {
    inner: Mutex<Inner>,
    clock: SharedClock,
}

/// A random RFC 4122 version 4 UID.
pub(crate) fn new_uid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Five characters from the alphabet the API server uses for `generateName`.
fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn rv_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
}

/// The object's `metadata.uid`.
pub(crate) fn uid_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/uid").and_then(Value::as_str)
}

fn meta_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let map = obj
        .as_object_mut()
        .expect("invariant: made an object above");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut()
        .expect("invariant: metadata made an object above")
}

fn has_finalizers(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
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

/// What a watcher with `filter` sees of `ev`: selectors turn a change that makes an object
/// start matching into ADDED and one that makes it stop matching into DELETED.
fn transition(filter: &Filter, ev: &LoggedEvent) -> Option<WatchMsg> {
    let now = filter.matches(&ev.key, &ev.obj);
    let before = ev.prev.as_ref().is_some_and(|p| filter.matches(&ev.key, p));
    let kind = match ev.kind {
        EventType::Added => now.then_some(EventType::Added)?,
        EventType::Deleted => (now || before).then_some(EventType::Deleted)?,
        EventType::Modified => match (before, now) {
            (true, true) => EventType::Modified,
            (false, true) => EventType::Added,
            (true, false) => EventType::Deleted,
            (false, false) => return None,
        },
    };
    Some(WatchMsg::Event(kind, ev.obj.clone()))
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

impl Inner {
    fn record(
        &mut self,
        rv: u64,
        kind: EventType,
        key: ObjKey,
        obj: Arc<Value>,
        prev: Option<Arc<Value>>,
    ) {
        let ev = LoggedEvent {
            rv,
            kind,
            key,
            obj,
            prev,
        };
        self.watchers.retain(|w| {
            if w.res != ev.key.res {
                return !w.tx.is_closed();
            }
            match transition(&w.filter, &ev) {
                Some(msg) => w.tx.send(msg).is_ok(),
                None => !w.tx.is_closed(),
            }
        });
        self.log.push_back(ev);
        while self.log.len() > self.log_capacity {
            if let Some(old) = self.log.pop_front() {
                self.compacted = old.rv;
            }
        }
    }

    fn remove(&mut self, key: &ObjKey, mut last: Value) -> Value {
        self.rv += 1;
        let rv = self.rv;
        meta_mut(&mut last).insert("resourceVersion".into(), json!(rv.to_string()));
        let prev = self.objects.remove(key);
        let last = Arc::new(last);
        self.record(rv, EventType::Deleted, key.clone(), last.clone(), prev);
        (*last).clone()
    }

    fn delete(
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
    fn collect_garbage(&mut self, uid: &str, now: jiff::Timestamp) {
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
