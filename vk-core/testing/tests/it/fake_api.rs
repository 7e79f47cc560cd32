//! The fake API server held to a real API server's behaviour where kube-rs and kubectl
//! depend on it.

// Create, get, replace, patch, delete and their errors.
mod crud;
// list and watch: resourceVersion resumption, 410, bookmarks, selectors.
mod watch;
// Server-side apply with two field managers.
mod apply;
// TokenRequest, TokenReview, SubjectAccessReview and authentication.
mod auth;
// Fault injection and counters.
mod knobs;
// Real kubectl against the fake, including logs through the kubelet proxy.
pub(crate) mod kubectl;
// A tiny HTTPS kubelet for the proxy tests.
mod kubelet_stub;
// The kubelet proxy: upgrades spliced through, node proxy, errors.
mod proxy;
// HTTPS with the fake cluster CA.
mod tls;
// The optional Deployment/ReplicaSet controllers and scheduler.
mod controllers;
// Every kubectl verb of the seed walkthrough, kubectl 1.33 and 1.27, as a table.
mod verbs;
// Kubernetes protobuf bodies in and out, checked with k8s-pb's messages.
mod protobuf;
// Services with EndpointSlices, Jobs with their controller.
mod workloads;
// Events through kube's recorder, leases, the standalone binary.
mod misc;
