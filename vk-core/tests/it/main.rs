//! vk-core integration tests: one binary, one module per area.

// The fake API server held to a real API server's behaviour (kube-rs and kubectl).
mod fake_api;
// The node, its Lease and the pod controller against the fake API server + MockProvider.
mod runtime;
// The kubelet HTTPS API and the streaming protocols, with real kubectl.
mod kubelet;
// One node, one actor: the coordination Lease election.
mod leader;
// The kubelet serving certificate from kubelet-serving CertificateSigningRequests.
mod serving_csr;
// metrics-server, `kubectl top` and the HPA controller against a MockProvider node.
mod metrics;
