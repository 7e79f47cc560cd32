//! Tests: kubelet.
