//! Adoption of the provider's pods on start, periodic resync and orphan clean-up.
//!
//! On start the provider's pods are listed before anything is created, so a restarted
//! runtime creates nothing twice and deletes nothing healthy. Every resync period each
//! known pod is reconciled again and the provider's list is compared with the API's:
//! a provider pod without an API pod (same name, and same UID where the provider knows
//! it) for longer than the grace period is deleted.
use std::collections::HashMap;
use std::sync::Arc;

use tokio::time::{self, Instant};
use tokio_util::sync::CancellationToken;

use super::state::{Inner, lock};
use crate::provider::PodKey;

/// List the provider's pods (retrying with backoff until it answers) and remember them as
/// adopted.
pub(crate) async fn adopt(inner: &Inner) {
    let mut attempt = 0;
    loop {
        match inner
            .provider_call("list_pods", inner.provider.list_pods())
            .await
        {
            Ok(pods) => {
                tracing::info!(
                    count = pods.len(),
                    "listed the provider's pods for adoption"
                );
                let mut adopted = lock(&inner.adopted);
                for p in pods {
                    adopted.insert(p.key.clone(), p);
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = ?e, "listing the provider's pods failed; retrying");
                let key = PodKey::default();
                time::sleep(inner.backoff(&key, attempt)).await;
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// Every resync period: queue every known pod, and look for orphans.
pub(crate) async fn resync(inner: Arc<Inner>, token: CancellationToken) {
    // When each orphan candidate was first seen.
    let mut seen: HashMap<PodKey, Instant> = HashMap::new();
    tokio::select! {
        () = token.cancelled() => return,
        ready = inner.store.wait_until_ready() => if !ready { return },
    }
    let mut tick = time::interval(inner.settings.resync);
    tick.set_missed_tick_behavior(time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        for key in inner.store.keys() {
            inner.queue.add(key);
        }
        let known: Vec<PodKey> = lock(&inner.states).keys().cloned().collect();
        for key in known {
            inner.queue.add(key);
        }
        find_orphans(&inner, &mut seen).await;
    }
}

/// Compare the provider's pods with the API's and queue those orphaned for longer than the
/// grace period.
async fn find_orphans(inner: &Inner, seen: &mut HashMap<PodKey, Instant>) {
    let listed = match inner
        .provider_call("list_pods", inner.provider.list_pods())
        .await
    {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = ?e, "listing the provider's pods failed");
            return;
        }
    };
    let now = Instant::now();
    let mut still = HashMap::new();
    for p in listed {
        let has_api_pod = inner
            .store
            .uid(&p.key)
            .is_some_and(|uid| p.uid.is_none() || p.uid == uid);
        if has_api_pod {
            continue;
        }
        let first = seen.get(&p.key).copied().unwrap_or(now);
        still.insert(p.key.clone(), first);
        if now.duration_since(first) >= inner.settings.orphan_grace {
            tracing::info!(pod = %p.key, "provider pod has no API pod; deleting it");
            let key = p.key.clone();
            lock(&inner.orphans).insert(key.clone(), p);
            inner.queue.add(key);
        }
    }
    *seen = still;
}
