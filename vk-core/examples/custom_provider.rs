//! A custom provider for a trivial backend: pods "run" as entries in a map.
//!
//! This is the whole of what a backend has to write to become a node of a cluster with
//! `vk-core`: the five lifecycle calls, optionally pushed status, and node capacity.
//! Everything else (Node, Lease, watching pods, resolving Secrets, status writes, deletion,
//! adoption after restarts, orphan clean-up) is the runtime's.
//!
//! Run it against the cluster of your current kubeconfig context:
//!
//! ```text
//! cargo run -p vk-core --example custom_provider
//! kubectl get node map-node
//! ```
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Node, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use vk_core::provider::{PodKey, PodNotifier, PodResources, ProviderPod, Result};
use vk_core::{NodeConfig, Provider, ProviderError, Runtime};

/// The "backend": pods by key, each with the UID it was created for.
#[derive(Default)]
struct MapProvider {
    pods: Mutex<HashMap<PodKey, String>>,
    notifier: Mutex<Option<PodNotifier>>,
}

impl MapProvider {
    fn running() -> PodStatus {
        PodStatus {
            phase: Some("Running".to_owned()),
            ..PodStatus::default()
        }
    }

    /// Tell the runtime about a status change, if it asked to be told.
    fn push(&self, key: PodKey, status: Option<PodStatus>) {
        if let Some(n) = self.notifier.lock().expect("not poisoned").as_ref() {
            n.notify(key, status);
        }
    }
}

#[async_trait]
impl Provider for MapProvider {
    fn name(&self) -> &str {
        "map"
    }

    async fn create_pod(&self, pod: &Pod, _resources: &PodResources) -> Result<()> {
        // Refuse what the backend cannot do: the pod is marked Failed with this message.
        let spec = pod
            .spec
            .as_ref()
            .ok_or_else(|| ProviderError::unsupported("no spec"))?;
        if spec.host_network == Some(true) {
            return Err(ProviderError::unsupported(
                "hostNetwork pods cannot run here",
            ));
        }
        let key = PodKey::of(pod);
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.pods
            .lock()
            .expect("not poisoned")
            .insert(key.clone(), uid);
        self.push(key, Some(Self::running()));
        Ok(())
    }

    async fn update_pod(&self, _pod: &Pod, _resources: &PodResources) -> Result<()> {
        // Nothing to change in place for this backend.
        Ok(())
    }

    async fn delete_pod(&self, pod: &Pod) -> Result<()> {
        let key = PodKey::of(pod);
        match self.pods.lock().expect("not poisoned").remove(&key) {
            Some(_) => Ok(()),
            None => Err(ProviderError::not_found(&key)),
        }
    }

    async fn pod_status(&self, key: &PodKey) -> Result<Option<PodStatus>> {
        let has = self.pods.lock().expect("not poisoned").contains_key(key);
        Ok(has.then(Self::running))
    }

    async fn list_pods(&self) -> Result<Vec<ProviderPod>> {
        let pods = self.pods.lock().expect("not poisoned");
        Ok(pods
            .iter()
            .map(|(key, uid)| ProviderPod {
                key: key.clone(),
                uid: Some(uid.clone()),
                created: None,
            })
            .collect())
    }

    fn notify_pods(&self, notifier: PodNotifier) -> bool {
        *self.notifier.lock().expect("not poisoned") = Some(notifier);
        true
    }

    fn configure_node(&self, node: &mut Node) {
        let capacity = BTreeMap::from([
            ("cpu".to_owned(), Quantity("100".to_owned())),
            ("memory".to_owned(), Quantity("400Gi".to_owned())),
            ("pods".to_owned(), Quantity("1000".to_owned())),
        ]);
        let status = node.status.get_or_insert_with(Default::default);
        status.allocatable = Some(capacity.clone());
        status.capacity = Some(capacity);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = kube::Client::try_default().await?;
    let runtime = Runtime::builder(
        client,
        Arc::new(MapProvider::default()),
        NodeConfig::named("map-node"),
    )
    .build();
    runtime
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
