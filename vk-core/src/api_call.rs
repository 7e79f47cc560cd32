//! Every Kubernetes API call the runtime makes: bounded by [`API_CALL_TIMEOUT`], counted
//! by call and outcome, and failed with a [`RuntimeError`] naming the call.
use tokio::time::{self, Duration};

use crate::error::{Result, RuntimeError};
use crate::metrics::Metrics;

/// Every Kubernetes API call the runtime makes is bounded by this (the runtime's choice;
/// client-go sets no default, kubectl's `--request-timeout` is 0).
pub(crate) const API_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The Kubernetes API calls the runtime counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ApiCall {
    GetNode,
    ApplyNode,
    ApplyNodeStatus,
    ReadLease,
    WriteLease,
    PatchPodStatus,
    DeletePod,
    ReadReference,
    TokenRequest,
    PublishEvent,
}

impl ApiCall {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::GetNode => "get_node",
            Self::ApplyNode => "apply_node",
            Self::ApplyNodeStatus => "apply_node_status",
            Self::ReadLease => "read_lease",
            Self::WriteLease => "write_lease",
            Self::PatchPodStatus => "patch_pod_status",
            Self::DeletePod => "delete_pod",
            Self::ReadReference => "read_reference",
            Self::TokenRequest => "token_request",
            Self::PublishEvent => "publish_event",
        }
    }
}

/// Run a Kubernetes API call with the runtime's timeout, counting it.
pub(crate) async fn api_call<T>(
    metrics: &Metrics,
    call: ApiCall,
    fut: impl Future<Output = kube::Result<T>>,
) -> Result<T> {
    match time::timeout(API_CALL_TIMEOUT, fut).await {
        Ok(Ok(v)) => {
            metrics.api_call(call.name(), "ok");
            Ok(v)
        }
        Ok(Err(source)) => {
            metrics.api_call(call.name(), "error");
            Err(RuntimeError::Api {
                call: call.name(),
                source,
            })
        }
        Err(_) => {
            metrics.api_call(call.name(), "timeout");
            Err(RuntimeError::ApiTimeout(call.name()))
        }
    }
}
