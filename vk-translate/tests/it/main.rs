//! vk-translate integration tests: one binary, one module per area.

// The ARM model against the spec's own examples.
mod arm_examples;

// Pod -> ContainerGroup on the shared examples and realistic pods (insta snapshots).
mod translate_snapshots;

// Properties over generated pods (proptest).
mod translate_properties;

// Targeted translation cases: runtime-provided tokens, count limits, tags, redaction.
mod translate_cases;
