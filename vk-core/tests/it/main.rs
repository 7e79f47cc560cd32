//! vk-core integration tests: one binary, one module per area.

// The node, its Lease and the pod controller against the fake API server + MockProvider.
mod runtime;
// The kubelet HTTPS API and the streaming protocols, with real kubectl.
mod kubelet;
// The streaming protocols (SPDY sessions, remotecommand, tunnels) on in-memory connections.
mod stream;
// One node, one actor: the coordination Lease election.
mod leader;
// The kubelet serving certificate from kubelet-serving CertificateSigningRequests.
mod serving_csr;
// vk_testing::harness: the whole node around a provider, on the fake API server.
mod harness;
// The examples' providers through the harness, with real kubectl.
mod examples;
