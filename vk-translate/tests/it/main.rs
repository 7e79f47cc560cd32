//! vk-translate integration tests: one binary, one module per area.

// The ARM model against the spec's own examples.
mod arm_examples;
