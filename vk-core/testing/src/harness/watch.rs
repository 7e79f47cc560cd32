//! Waiting for one object to reach a state, by watching it.
use std::fmt::Debug;
use std::pin::pin;

use futures::StreamExt as _;
use kube::Resource;
use kube::api::Api;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event, watcher};
use serde::de::DeserializeOwned;
use tokio::time::{self, Duration};

/// An object's part as YAML, for messages.
pub(super) fn yaml(value: &impl serde::Serialize) -> String {
    serde_yaml::to_string(value).unwrap_or_else(|e| format!("<unprintable: {e}>"))
}

/// Watch object `name` until `done` holds for it (`None`: absent), for at most
/// `patience`. `Ok` with the object then, or `Err` with the last one seen.
pub(super) async fn watch_until<K>(
    api: Api<K>,
    name: &str,
    patience: Duration,
    mut done: impl FnMut(Option<&K>) -> bool,
) -> Result<Option<K>, Option<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = pin!(watcher(api, config).default_backoff());
    let mut last: Option<K> = None;
    let mut listing = false;
    let watch = async {
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Init) => {
                    listing = true;
                    last = None;
                }
                Ok(Event::InitApply(obj) | Event::Apply(obj)) => last = Some(obj),
                Ok(Event::InitDone) => listing = false,
                Ok(Event::Delete(_)) => last = None,
                // The watcher retries with backoff; the patience bounds the wait.
                Err(e) => tracing::debug!(error = %e, "harness watch failed"),
            }
            if !listing && done(last.as_ref()) {
                return true;
            }
        }
        false
    };
    let finished = time::timeout(patience, watch).await;
    match finished {
        Ok(true) => Ok(last),
        _ => Err(last),
    }
}
