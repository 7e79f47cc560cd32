//! Integration tests of vk-aci: the ARM client against the emulator over real HTTP, the
//! emulator against the spec's examples, the provider, and exec end to end.

// Shared helpers: emulator setups, clients, container groups.
mod common;

// The ARM client: every operation, LROs, 429/5xx retries, timeouts, credentials.
mod arm_client;

// The emulator's answers held to the spec's examples and limits.
mod emulator_spec;

// The emulator's Azure Monitor metrics: batch and per-resource calls, the usage model.
mod emulator_metrics;

// The emulator as strict as ARM: deleting groups, updates ACI refuses, lost answers.
mod emulator_strictness;

// AciProvider: lifecycle, status push, quota, update, logs, node.
mod provider;

// AciProvider::stats: Azure Monitor usage, batching, fallback, budget.
mod provider_stats;

// Issue 15: deletes keyed by UID, calls that are not repeated.
mod hardening;

// exec end to end: shell driver, markers, exit status, stdin.
mod exec;

// Image entrypoints read from a real registry (Debian's docker-registry on loopback).
mod images;

// End to end with vk-core's runtime and the fake API server.
mod runtime;

// VNet mode: the delegated subnet at startup, group extensions.
mod vnet;

// No secret in any log line.
mod secrets;

// Issue 14 at runtime: claims that bind late, lifecycle hooks, Spot evictions, confidential.
mod pod_features;
