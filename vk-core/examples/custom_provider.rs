//! A custom provider for a trivial backend: pods "run" as entries in a map.
//!
//! This is the whole of what a backend has to write to become a node of a cluster with
//! `vk-core`: the five lifecycle calls, optionally pushed status, node capacity, and the
//! streaming calls it supports (here `kubectl logs`, a fixed line, and `kubectl exec`, which
//! echoes its arguments). Everything else (Node, Lease, watching pods, resolving Secrets,
//! status writes, deletion, adoption after restarts, orphan clean-up, the kubelet HTTPS API
//! with its authentication) is [`VirtualKubelet`]'s.
//!
//! Run it against the cluster of your current kubeconfig context, with the address the API
//! server reaches this machine's port 10250 at:
//!
//! ```text
//! VKUBELET_POD_IP=10.0.0.4 cargo run -p vk-core --example custom_provider
//! kubectl get node map-node
//! ```
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use k8s_openapi::api::core::v1::{Node, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tokio::io::AsyncWriteExt as _;
use vk_core::provider::{ExecIo, LogOptions, LogStream, PodKey, PodNotifier, PodResources};
use vk_core::provider::{ProviderPod, Result};
use vk_core::{NodeConfig, Provider, ProviderError, VirtualKubelet};

/// The "backend": pods by key, each with the UID it was created for.
#[derive(Default)]
pub(crate) struct MapProvider {
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

    async fn logs(&self, key: &PodKey, container: &str, _opts: &LogOptions) -> Result<LogStream> {
        self.pod_status(key)
            .await?
            .ok_or_else(|| ProviderError::not_found(key))?;
        let line = Bytes::from(format!("{key}/{container} lives in a map\n"));
        Ok(Box::pin(futures::stream::once(async { Ok(line) })))
    }

    async fn exec(&self, key: &PodKey, _: &str, command: &[String], io: ExecIo) -> Result<i32> {
        self.pod_status(key)
            .await?
            .ok_or_else(|| ProviderError::not_found(key))?;
        if let Some(mut stdout) = io.stdout {
            let line = format!("{}\n", command.get(1..).unwrap_or_default().join(" "));
            let written = stdout.write_all(line.as_bytes()).await;
            written.map_err(|e| ProviderError::Other(e.into()))?;
        }
        Ok(0)
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
    let mut node = NodeConfig::named("map-node");
    // Where the API server sends `kubectl logs` and `exec` (the Go virtual-kubelet's variable).
    node.internal_ip = std::env::var("VKUBELET_POD_IP")
        .ok()
        .and_then(|ip| ip.parse().ok());
    // The kubelet API on 0.0.0.0:10250 with a self-signed certificate, checking callers
    // with TokenReview and SubjectAccessReview.
    VirtualKubelet::builder(client, Arc::new(MapProvider::default()), node)
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
