//! Azure Container Instances provider for vk-core over the ARM REST API.
//!
//! (Crate overview and example are written with the provider; see issue 7.)
