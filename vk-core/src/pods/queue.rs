//! A work queue of pod keys: deduplicated, and never handing out a key that is in progress.
//!
//! The same contract as client-go's workqueue: a key added while queued is queued once; a
//! key added while a worker holds it is queued again when the worker is done with it.
use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;
use tokio::time::{self, Duration};

use crate::provider::PodKey;

#[derive(Default)]
struct State {
    ready: VecDeque<PodKey>,
    queued: HashSet<PodKey>,
    active: HashSet<PodKey>,
    /// Added while active: requeued on `done`.
    dirty: HashSet<PodKey>,
}

/// The queue; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct WorkQueue {
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
}

impl WorkQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue `key` for a worker.
    pub(crate) fn add(&self, key: PodKey) {
        let mut s = self.lock();
        if s.active.contains(&key) {
            s.dirty.insert(key);
            return;
        }
        if s.queued.insert(key.clone()) {
            s.ready.push_back(key);
            drop(s);
            self.wake.notify_one();
        }
    }

    /// Queue `key` after `delay`.
    pub(crate) fn add_after(&self, key: PodKey, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let queue = self.clone();
        tokio::spawn(async move {
            time::sleep(delay).await;
            queue.add(key);
        });
    }

    /// The next key to work on; the caller must call [`WorkQueue::done`] with it.
    pub(crate) async fn next(&self) -> PodKey {
        loop {
            let notified = self.wake.notified();
            {
                let mut s = self.lock();
                if let Some(key) = s.ready.pop_front() {
                    s.queued.remove(&key);
                    s.active.insert(key.clone());
                    let more = !s.ready.is_empty();
                    drop(s);
                    if more {
                        // Let another idle worker pick up the rest.
                        self.wake.notify_one();
                    }
                    return key;
                }
            }
            notified.await;
        }
    }

    /// The worker is done with `key`.
    pub(crate) fn done(&self, key: &PodKey) {
        let mut s = self.lock();
        s.active.remove(key);
        if s.dirty.remove(key) {
            drop(s);
            self.add(key.clone());
        }
    }

    /// How many keys wait or are in progress.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let s = self.lock();
        s.ready.len() + s.active.len()
    }
}

/// Jittered exponential backoff: `base * 2^attempt`, capped at `max`, then scaled by a
/// random factor in [0.8, 1.2) so retries of many pods spread out.
pub(crate) fn backoff(base: Duration, max: Duration, attempt: u32, key: &PodKey) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(20)).min(max);
    // A per-process random hasher gives the jitter without a random-number dependency.
    let r = RandomState::new().hash_one((key, attempt));
    #[allow(clippy::cast_precision_loss)] // a 16-bit fraction
    let factor = 0.8 + 0.4 * ((r & 0xffff) as f64 / 65536.0);
    exp.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: &str) -> PodKey {
        PodKey::new("ns", n)
    }

    #[tokio::test]
    async fn a_key_added_twice_is_handed_out_once() {
        let q = WorkQueue::default();
        q.add(k("a"));
        q.add(k("a"));
        q.add(k("b"));
        assert_eq!(q.next().await, k("a"));
        assert_eq!(q.next().await, k("b"));
        assert_eq!(q.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_in_progress_is_not_handed_out_until_done() {
        let q = WorkQueue::default();
        q.add(k("a"));
        let a = q.next().await;
        q.add(k("a"));
        let second = time::timeout(Duration::from_secs(1), q.next()).await;
        assert!(second.is_err(), "the key must wait for done");
        q.done(&a);
        let again = time::timeout(Duration::from_secs(1), q.next())
            .await
            .expect("the dirty key is requeued on done");
        assert_eq!(again, k("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn add_after_queues_the_key_once_the_delay_passed() {
        let q = WorkQueue::default();
        q.add_after(k("a"), Duration::from_secs(5));
        tokio::task::yield_now().await;
        time::advance(Duration::from_secs(4)).await;
        assert_eq!(q.len(), 0);
        time::advance(Duration::from_secs(2)).await;
        tokio::task::yield_now().await;
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn backoff_grows_and_stays_within_jitter_of_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(10);
        let first = backoff(base, max, 0, &k("a"));
        assert!(first >= Duration::from_millis(80) && first < Duration::from_millis(120));
        let fourth = backoff(base, max, 3, &k("a"));
        assert!(fourth >= Duration::from_millis(640) && fourth < Duration::from_millis(960));
        let capped = backoff(base, max, 30, &k("a"));
        assert!(capped >= Duration::from_secs(8) && capped < Duration::from_secs(12));
    }
}
