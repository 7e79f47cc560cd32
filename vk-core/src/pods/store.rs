//! The pods bound to the node as the watch last saw them, kept compact.
//!
//! A typed `Pod` costs about 7 KiB of memory (k8s-openapi structs are wide: every optional
//! field takes its room), so a node with 10,000 pods would hold 70 MiB of mostly empty
//! fields. The store keeps each pod as its JSON document instead (2-3 KiB, managedFields
//! dropped) next to the few fields read often (UID, phase), and decodes a pod when it is
//! asked for: once per reconcile, or when the kubelet API serves it.
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;
use tokio::sync::watch;

use crate::provider::PodKey;

/// One pod: its JSON document and the fields read without decoding it.
struct Entry {
    uid: Option<Box<str>>,
    /// The pod has a deletionTimestamp.
    deleting: bool,
    phase: Option<Box<str>>,
    json: Box<[u8]>,
}

impl Entry {
    fn of(pod: &Pod) -> Option<Self> {
        let json = match serde_json::to_vec(pod) {
            Ok(j) => j.into_boxed_slice(),
            Err(e) => {
                // Serializing a typed object never fails in practice; skip it if it does.
                tracing::warn!(pod = %PodKey::of(pod), error = %e, "encoding a pod failed");
                return None;
            }
        };
        Some(Self {
            uid: pod.metadata.uid.as_deref().map(Box::from),
            deleting: pod.metadata.deletion_timestamp.is_some(),
            phase: pod
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .map(Box::from),
            json,
        })
    }

    fn decode(&self) -> Option<Arc<Pod>> {
        match serde_json::from_slice(&self.json) {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                tracing::warn!(error = %e, "decoding a stored pod failed");
                None
            }
        }
    }
}

type Map = HashMap<PodKey, Entry>;

/// The pods bound to the node, as last seen by the runtime's watch (filled while the
/// runtime runs). Cheap to clone; clones share the pods.
///
/// Pods are stored encoded: [`PodStore::get`] and [`PodStore::list`] decode them (a few
/// microseconds each), while [`PodStore::keys`], [`PodStore::len`] and
/// [`PodStore::count_phase`] do not.
#[derive(Clone)]
pub struct PodStore {
    pods: Arc<RwLock<Map>>,
    ready: watch::Receiver<bool>,
}

impl std::fmt::Debug for PodStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodStore")
            .field("pods", &self.len())
            .finish_non_exhaustive()
    }
}

impl PodStore {
    /// An empty store and the writer that fills it from a watch.
    pub(crate) fn new() -> (Self, PodStoreWriter) {
        let (ready_tx, ready) = watch::channel(false);
        let pods = Arc::new(RwLock::new(Map::new()));
        let writer = PodStoreWriter {
            pods: Arc::clone(&pods),
            buffer: None,
            ready: ready_tx,
        };
        (Self { pods, ready }, writer)
    }

    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.pods
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The pod `key`, if it is bound to the node.
    #[must_use]
    pub fn get(&self, key: &PodKey) -> Option<Arc<Pod>> {
        self.read().get(key).and_then(Entry::decode)
    }

    /// Every pod bound to the node (each decoded: costs a few microseconds per pod).
    #[must_use]
    pub fn list(&self) -> Vec<Arc<Pod>> {
        self.read().values().filter_map(Entry::decode).collect()
    }

    /// The keys of the pods bound to the node.
    #[must_use]
    pub fn keys(&self) -> Vec<PodKey> {
        self.read().keys().cloned().collect()
    }

    /// The UID of pod `key`: `None` if the store has no such pod, `Some(None)` if it has
    /// one without a UID.
    #[must_use]
    pub(crate) fn uid(&self, key: &PodKey) -> Option<Option<String>> {
        self.read()
            .get(key)
            .map(|e| e.uid.as_deref().map(str::to_owned))
    }

    /// Whether pod `key` is being deleted (has a deletionTimestamp).
    pub(crate) fn is_deleting(&self, key: &PodKey) -> bool {
        self.read().get(key).is_some_and(|e| e.deleting)
    }

    /// How many pods are bound to the node.
    #[must_use]
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no pod is bound to the node.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// How many pods are in `phase` (`Pending`, `Running`, ...); a pod without a phase
    /// counts as `Pending`, as the API shows it.
    #[must_use]
    pub fn count_phase(&self, phase: &str) -> usize {
        self.read()
            .values()
            .filter(|e| e.phase.as_deref().unwrap_or("Pending") == phase)
            .count()
    }

    /// The keys of the pods in `phase` (a pod without a phase is `Pending`).
    #[must_use]
    pub fn in_phase(&self, phase: &str) -> Vec<PodKey> {
        self.read()
            .iter()
            .filter(|(_, e)| e.phase.as_deref().unwrap_or("Pending") == phase)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Wait until the watch has listed the node's pods once. Returns `false` if the runtime
    /// stopped before that.
    pub async fn wait_until_ready(&self) -> bool {
        let mut ready = self.ready.clone();
        ready.wait_for(|r| *r).await.is_ok()
    }
}

impl crate::server::PodLookup for PodStore {
    fn get(&self, key: &PodKey) -> Option<Arc<Pod>> {
        PodStore::get(self, key)
    }

    fn list(&self) -> Vec<Arc<Pod>> {
        PodStore::list(self)
    }
}

/// Fills a [`PodStore`] from the events of a pod watch.
pub(crate) struct PodStoreWriter {
    pods: Arc<RwLock<Map>>,
    /// Pods of a (re)list in progress, swapped in when it is done.
    buffer: Option<Map>,
    ready: watch::Sender<bool>,
}

impl PodStoreWriter {
    fn write(&self) -> RwLockWriteGuard<'_, Map> {
        self.pods
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Apply one watch event, as kube's reflector would: a relist replaces the whole
    /// store when it is complete, so pods deleted meanwhile disappear.
    pub(crate) fn apply(&mut self, event: &watcher::Event<Pod>) {
        match event {
            watcher::Event::Apply(pod) => {
                if let Some(entry) = Entry::of(pod) {
                    self.write().insert(PodKey::of(pod), entry);
                }
            }
            watcher::Event::Delete(pod) => {
                self.write().remove(&PodKey::of(pod));
            }
            watcher::Event::Init => self.buffer = Some(Map::new()),
            watcher::Event::InitApply(pod) => {
                if let Some(entry) = Entry::of(pod) {
                    self.buffer
                        .get_or_insert_with(Map::new)
                        .insert(PodKey::of(pod), entry);
                }
            }
            watcher::Event::InitDone => {
                let listed = self.buffer.take().unwrap_or_default();
                let old = std::mem::replace(&mut *self.write(), listed);
                // Free the old pods outside the lock.
                drop(old);
                self.ready.send_replace(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, phase: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                ..ObjectMeta::default()
            },
            status: phase.map(|p| PodStatus {
                phase: Some(p.into()),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn applied_pods_should_read_back_equal() {
        let (store, mut writer) = PodStore::new();
        let p = pod("a", Some("Running"));
        writer.apply(&watcher::Event::Apply(p.clone()));
        assert_eq!(store.get(&PodKey::new("ns", "a")).as_deref(), Some(&p));
        assert_eq!(
            store.uid(&PodKey::new("ns", "a")),
            Some(Some("uid-a".into()))
        );
        assert_eq!(store.count_phase("Running"), 1);
        writer.apply(&watcher::Event::Delete(p));
        assert!(store.is_empty());
    }

    #[test]
    fn a_relist_should_replace_the_store_when_done() {
        let (store, mut writer) = PodStore::new();
        writer.apply(&watcher::Event::Apply(pod("old", None)));
        writer.apply(&watcher::Event::Init);
        writer.apply(&watcher::Event::InitApply(pod("new", None)));
        // Until the list is complete, the store shows what it had.
        assert_eq!(store.keys(), vec![PodKey::new("ns", "old")]);
        writer.apply(&watcher::Event::InitDone);
        assert_eq!(store.keys(), vec![PodKey::new("ns", "new")]);
        assert_eq!(store.count_phase("Pending"), 1);
        assert_eq!(store.in_phase("Pending"), vec![PodKey::new("ns", "new")]);
        assert_eq!(store.list().len(), 1);
    }

    #[tokio::test]
    async fn the_store_should_be_ready_after_the_first_list() {
        let (store, mut writer) = PodStore::new();
        writer.apply(&watcher::Event::Init);
        writer.apply(&watcher::Event::InitDone);
        assert!(store.wait_until_ready().await);
        let (store, writer) = PodStore::new();
        drop(writer);
        assert!(!store.wait_until_ready().await);
    }
}
