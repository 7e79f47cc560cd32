//! The metrics pipeline of the fake cluster: metrics-server scraping a MockProvider
//! node's kubelet, `kubectl top` on `metrics.k8s.io`, and the HorizontalPodAutoscaler
//! controller scaling a Deployment on that node.

// A fake API server with its controllers, and a whole node: runtime, MockProvider,
// kubelet HTTPS API.
pub(crate) mod harness;
// `kubectl top pod` and `kubectl top node` (1.33 and 1.27).
mod top;
// An HPA scaling a Deployment out and back in as the MockProvider's usage changes.
mod hpa;
