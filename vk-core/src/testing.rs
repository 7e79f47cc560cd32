//! Test kit: an in-process fake Kubernetes API server and a MockProvider.
