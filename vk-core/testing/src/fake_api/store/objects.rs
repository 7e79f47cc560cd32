//! The stored objects with the resourceVersion counter, the event log and the live
//! watchers (one lock guards them all), and the metadata helpers writes share.
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rand::Rng;
use serde_json::{Value, json};

use super::key::ObjKey;
use super::watch::{EventType, LoggedEvent, Watcher, transition};

/// The store's state behind its one lock.
pub(super) struct Inner {
    pub(super) rv: u64,
    pub(super) objects: BTreeMap<ObjKey, Arc<Value>>,
    pub(super) log: VecDeque<LoggedEvent>,
    pub(super) log_capacity: usize,
    /// Events at or below this resourceVersion are gone from the log.
    pub(super) compacted: u64,
    pub(super) watchers: Vec<Watcher>,
    pub(super) next_watcher: u64,
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
pub(super) fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub(super) fn rv_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
}

/// The object's `metadata.uid`.
pub(crate) fn uid_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/uid").and_then(Value::as_str)
}

pub(super) fn meta_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
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

pub(super) fn has_finalizers(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

impl Inner {
    pub(super) fn record(
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

    pub(super) fn remove(&mut self, key: &ObjKey, mut last: Value) -> Value {
        self.rv += 1;
        let rv = self.rv;
        meta_mut(&mut last).insert("resourceVersion".into(), json!(rv.to_string()));
        let prev = self.objects.remove(key);
        let last = Arc::new(last);
        self.record(rv, EventType::Deleted, key.clone(), last.clone(), prev);
        (*last).clone()
    }
}
