//! A work queue of pod keys: deduplicated, and never handing out a key that is in progress.
//!
//! The same contract as client-go's workqueue: a key added while queued is queued once; a
//! key added while a worker holds it is queued again when the worker is done with it.
//!
//! Two lanes: urgent keys (a status the provider pushed, a deletion) are handed out before
//! the others, and [`WorkQueue::next_urgent`] lets a few workers serve only them, so status
//! writes and deletions never wait behind a burst of creates stuck on the backend's rate
//! limit (the Go virtual-kubelet keeps separate status and deletion queues for the same
//! reason).
use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;
use tokio::time::{self, Duration};

use crate::provider::PodKey;

#[derive(Default)]
struct State {
    /// The normal lane. Entries whose key is no longer in `queued` (handed out through the
    /// urgent lane) are skipped.
    ready: VecDeque<PodKey>,
    /// The urgent lane, handed out first; same skipping rule.
    urgent: VecDeque<PodKey>,
    queued: HashSet<PodKey>,
    active: HashSet<PodKey>,
    /// Added while active: requeued on `done`.
    dirty: HashSet<PodKey>,
    /// Added urgently while active: requeued urgently on `done`.
    dirty_urgent: HashSet<PodKey>,
}

impl State {
    /// Pop the first live key of the urgent lane, then (unless `urgent_only`) of the normal one.
    fn pop(&mut self, urgent_only: bool) -> Option<PodKey> {
        while let Some(key) = self.urgent.pop_front() {
            if self.queued.remove(&key) {
                return Some(key);
            }
        }
        if urgent_only {
            return None;
        }
        while let Some(key) = self.ready.pop_front() {
            if self.queued.remove(&key) {
                return Some(key);
            }
        }
        None
    }
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
            self.wake.notify_waiters();
        }
    }

    /// Queue `key` in the urgent lane (moving it there if it waits in the normal one).
    pub(crate) fn add_urgent(&self, key: PodKey) {
        let mut s = self.lock();
        if s.active.contains(&key) {
            s.dirty_urgent.insert(key);
            return;
        }
        // A key waiting in the normal lane gets a second, urgent entry; the first one to
        // come out hands it over and the other is skipped.
        s.queued.insert(key.clone());
        s.urgent.push_back(key);
        drop(s);
        self.wake.notify_waiters();
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

    /// Queue `key` in the urgent lane after `delay`.
    pub(crate) fn add_urgent_after(&self, key: PodKey, delay: Duration) {
        if delay.is_zero() {
            self.add_urgent(key);
            return;
        }
        let queue = self.clone();
        tokio::spawn(async move {
            time::sleep(delay).await;
            queue.add_urgent(key);
        });
    }

    /// The next key to work on, urgent ones first; the caller must call
    /// [`WorkQueue::done`] with it.
    pub(crate) async fn next(&self) -> PodKey {
        self.next_from(false).await
    }

    /// The next urgent key (for workers kept free of slow creates); the caller must call
    /// [`WorkQueue::done`] with it.
    pub(crate) async fn next_urgent(&self) -> PodKey {
        self.next_from(true).await
    }

    async fn next_from(&self, urgent_only: bool) -> PodKey {
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            // Register before looking, so an add between the look and the wait wakes us.
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if let Some(key) = s.pop(urgent_only) {
                    s.active.insert(key.clone());
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
        let urgent = s.dirty_urgent.remove(key);
        let dirty = s.dirty.remove(key);
        drop(s);
        if urgent {
            self.add_urgent(key.clone());
        } else if dirty {
            self.add(key.clone());
        }
    }

    /// Whether an urgent key waits (tests).
    #[cfg(test)]
    fn urgent_waiting(&self) -> bool {
        let s = self.lock();
        s.urgent.iter().any(|k| s.queued.contains(k))
    }

    /// How many keys wait or are in progress.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let s = self.lock();
        s.queued.len() + s.active.len()
    }
}

/// Jittered exponential backoff: `base * 2^attempt`, capped at `max`, then scaled by a
/// random factor in [0.8, 1.2) so retries of many pods spread out.
pub(crate) fn backoff(base: Duration, max: Duration, attempt: u32, key: &PodKey) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(20)).min(max);
    // A per-process random hasher gives the jitter without a random-number dependency.
    let r = RandomState::new().hash_one((key, attempt));
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

    #[tokio::test(start_paused = true)]
    async fn urgent_keys_should_be_handed_out_before_normal_ones() {
        let q = WorkQueue::default();
        q.add(k("create-1"));
        q.add(k("create-2"));
        q.add(k("status"));
        q.add_urgent(k("status"));
        q.add_urgent(k("deleted"));
        assert!(q.urgent_waiting());
        assert_eq!(q.next().await, k("status"));
        assert_eq!(q.next().await, k("deleted"));
        assert_eq!(q.next().await, k("create-1"));
        assert_eq!(q.next().await, k("create-2"));
        // The stale normal entry of "status" is skipped, not handed out twice.
        let none = time::timeout(Duration::from_secs(1), q.next()).await;
        assert!(none.is_err(), "every key was handed out once");
        assert_eq!(q.len(), 4, "four keys in progress");
    }

    #[tokio::test(start_paused = true)]
    async fn urgent_workers_should_leave_normal_keys_alone() {
        let q = WorkQueue::default();
        q.add(k("create"));
        let waiting = time::timeout(Duration::from_secs(1), q.next_urgent()).await;
        assert!(waiting.is_err(), "no urgent key yet");
        let q2 = q.clone();
        let urgent = tokio::spawn(async move { q2.next_urgent().await });
        tokio::task::yield_now().await;
        q.add_urgent(k("status"));
        assert_eq!(urgent.await.unwrap(), k("status"));
        assert_eq!(q.next().await, k("create"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_urgent_add_while_in_progress_should_requeue_urgently() {
        let q = WorkQueue::default();
        q.add(k("a"));
        let a = q.next().await;
        q.add(k("b"));
        q.add_urgent(k("a"));
        q.done(&a);
        assert_eq!(q.next().await, k("a"), "ahead of b");
        assert_eq!(q.next().await, k("b"));
    }
}
