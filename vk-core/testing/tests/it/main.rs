//! vk-testing integration tests: one binary, one module per area.

// The fake API server held to a real API server's behaviour (kube-rs and kubectl).
mod fake_api;
// metrics-server, `kubectl top` and the HPA controller against a MockProvider node.
mod metrics;
// The provider-author example of the README.
mod readme;
