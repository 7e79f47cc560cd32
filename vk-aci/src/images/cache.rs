//! A bounded, single-flight cache of fetched values with per-entry expiry.
//!
//! Every caller of one key waits on the same slot: the first fetches while the others wait,
//! then all read the stored answer, so N concurrent lookups of a key cost one fetch. Failures
//! are stored too (for a short time) so that waiters do not each retry a registry that is down.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::time::{Duration, Instant};

/// The cache.
#[derive(Debug)]
pub struct Cache<V> {
    slots: Mutex<HashMap<String, Arc<Slot<V>>>>,
    capacity: usize,
}

#[derive(Debug)]
struct Slot<V> {
    created: Instant,
    value: tokio::sync::Mutex<Option<Stored<V>>>,
}

#[derive(Debug)]
struct Stored<V> {
    value: V,
    /// `None`: never expires (content-addressed).
    expires: Option<Instant>,
}

impl<V> Stored<V> {
    fn fresh(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| now < e)
    }
}

// === impl Cache ===

impl<V: Clone> Cache<V> {
    /// A cache of at most `capacity` keys (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Number of keys held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no key is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `key`, fetched by `fetch` when absent or expired; `fetch` returns the
    /// value and how long it stays valid (`None`: for good).
    pub async fn get_or_fetch<F, Fut>(&self, key: &str, fetch: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (V, Option<Duration>)>,
    {
        let slot = self.slot(key);
        let mut stored = slot.value.lock().await;
        if let Some(s) = stored.as_ref()
            && s.fresh(Instant::now())
        {
            return s.value.clone();
        }
        let (value, ttl) = fetch().await;
        *stored = Some(Stored {
            value: value.clone(),
            expires: ttl.map(|ttl| Instant::now() + ttl),
        });
        value
    }

    fn slot(&self, key: &str) -> Arc<Slot<V>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(key) {
            return Arc::clone(slot);
        }
        if slots.len() >= self.capacity {
            Self::evict(&mut slots, self.capacity);
        }
        let slot = Arc::new(Slot {
            created: Instant::now(),
            value: tokio::sync::Mutex::new(None),
        });
        slots.insert(key.to_owned(), Arc::clone(&slot));
        slot
    }

    /// Drops expired entries, else the oldest one. A slot being fetched is never expired;
    /// dropping it only means its result is not kept.
    fn evict(slots: &mut HashMap<String, Arc<Slot<V>>>, capacity: usize) {
        let now = Instant::now();
        slots.retain(|_, slot| {
            slot.value
                .try_lock()
                .map_or(true, |s| s.as_ref().is_none_or(|s| s.fresh(now)))
        });
        if slots.len() < capacity {
            return;
        }
        let oldest = slots
            .iter()
            .min_by_key(|(_, slot)| slot.created)
            .map(|(key, _)| key.clone());
        if let Some(key) = oldest {
            slots.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn concurrent_lookups_should_share_one_fetch() {
        let cache = Arc::new(Cache::<u32>::new(8));
        let fetches = Arc::new(AtomicUsize::new(0));
        let lookups = (0..50).map(|_| {
            let cache = Arc::clone(&cache);
            let fetches = Arc::clone(&fetches);
            tokio::spawn(async move {
                cache
                    .get_or_fetch("k", || async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        (7, Some(Duration::from_secs(60)))
                    })
                    .await
            })
        });
        for lookup in futures::future::join_all(lookups).await {
            assert_eq!(lookup.unwrap(), 7);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_values_should_be_fetched_again() {
        let cache = Cache::<u32>::new(8);
        assert_eq!(
            cache
                .get_or_fetch("k", || async { (1, Some(Duration::from_secs(10))) })
                .await,
            1
        );
        assert_eq!(cache.get_or_fetch("k", || async { (2, None) }).await, 1);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(cache.get_or_fetch("k", || async { (3, None) }).await, 3);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(cache.get_or_fetch("k", || async { (4, None) }).await, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_should_stay_within_its_capacity() {
        let cache = Cache::<usize>::new(3);
        for i in 0..10 {
            tokio::time::advance(Duration::from_millis(1)).await;
            cache
                .get_or_fetch(&i.to_string(), || async move { (i, None) })
                .await;
            assert!(cache.len() <= 3);
        }
        // The newest stay.
        assert_eq!(cache.get_or_fetch("9", || async { (0, None) }).await, 9);
    }
}
