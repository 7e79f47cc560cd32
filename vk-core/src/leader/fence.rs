//! A provider fenced by a Lease: runtime calls never complete and kubelet API calls fail
//! once the Lease is lost.
use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, Pod};
use tokio_util::sync::CancellationToken;

use crate::provider::{
    DuplexIo, ExecIo, LogOptions, LogStream, PodKey, PodNotifier, PodResources, PodStats, Provider,
    ProviderError, ProviderPod, Result as ProviderResult, SharedProvider,
};

/// A provider that acts only while a Lease is held (see [`super::Leadership::fence`]).
pub(super) struct Fenced {
    inner: SharedProvider,
    lost: CancellationToken,
}

impl Fenced {
    /// `inner`, acting only until `lost` is cancelled.
    pub(super) fn new(inner: SharedProvider, lost: CancellationToken) -> Self {
        Self { inner, lost }
    }

    /// Run a runtime call; once the Lease is lost it is dropped and never completes.
    async fn held<T>(&self, call: impl Future<Output = ProviderResult<T>>) -> ProviderResult<T> {
        if self.lost.is_cancelled() {
            return std::future::pending().await;
        }
        tokio::select! {
            biased;
            () = self.lost.cancelled() => std::future::pending().await,
            out = call => out,
        }
    }

    /// Run a kubelet API call; once the Lease is lost it fails with `LeaseLost`.
    async fn serving<T>(&self, call: impl Future<Output = ProviderResult<T>>) -> ProviderResult<T> {
        if self.lost.is_cancelled() {
            return Err(lease_lost());
        }
        tokio::select! {
            biased;
            () = self.lost.cancelled() => Err(lease_lost()),
            out = call => out,
        }
    }
}

fn lease_lost() -> ProviderError {
    ProviderError::transient(
        "LeaseLost",
        "this virtual kubelet lost the node's lease; another process acts on the node now",
    )
}

#[async_trait]
impl Provider for Fenced {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn supports_port_forward(&self) -> bool {
        self.inner.supports_port_forward()
    }

    async fn create_pod(&self, pod: &Pod, resources: &PodResources) -> ProviderResult<()> {
        self.held(self.inner.create_pod(pod, resources)).await
    }

    async fn update_pod(&self, pod: &Pod, resources: &PodResources) -> ProviderResult<()> {
        self.held(self.inner.update_pod(pod, resources)).await
    }

    async fn delete_pod(&self, pod: &Pod) -> ProviderResult<()> {
        self.held(self.inner.delete_pod(pod)).await
    }

    async fn pod_status(
        &self,
        key: &PodKey,
    ) -> ProviderResult<Option<k8s_openapi::api::core::v1::PodStatus>> {
        self.held(self.inner.pod_status(key)).await
    }

    async fn list_pods(&self) -> ProviderResult<Vec<ProviderPod>> {
        self.held(self.inner.list_pods()).await
    }

    fn notify_pods(&self, notifier: PodNotifier) -> bool {
        self.inner.notify_pods(notifier)
    }

    fn volume_secrets(&self, pv: &PersistentVolume, namespace: &str) -> Vec<(String, String)> {
        self.inner.volume_secrets(pv, namespace)
    }

    fn configure_node(&self, node: &mut Node) {
        self.inner.configure_node(node);
    }

    async fn ping(&self) -> ProviderResult<()> {
        // Fails at once rather than hanging: the node's status loop would otherwise hold
        // the runtime's shutdown for a whole provider timeout.
        self.serving(self.inner.ping()).await
    }

    async fn logs(
        &self,
        key: &PodKey,
        container: &str,
        opts: &LogOptions,
    ) -> ProviderResult<LogStream> {
        let stream = self.serving(self.inner.logs(key, container, opts)).await?;
        let lost = self.lost.clone().cancelled_owned();
        let fenced: LogStream = Box::pin(stream.take_until(lost));
        Ok(fenced)
    }

    async fn exec(
        &self,
        key: &PodKey,
        container: &str,
        command: &[String],
        io: ExecIo,
    ) -> ProviderResult<i32> {
        self.serving(self.inner.exec(key, container, command, io))
            .await
    }

    async fn attach(&self, key: &PodKey, container: &str, io: ExecIo) -> ProviderResult<i32> {
        self.serving(self.inner.attach(key, container, io)).await
    }

    async fn port_forward(
        &self,
        key: &PodKey,
        port: u16,
        stream: Box<dyn DuplexIo>,
    ) -> ProviderResult<()> {
        self.serving(self.inner.port_forward(key, port, stream))
            .await
    }

    async fn stats(&self) -> ProviderResult<Vec<PodStats>> {
        self.serving(self.inner.stats()).await
    }
}
