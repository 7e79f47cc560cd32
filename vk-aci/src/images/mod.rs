//! Image configs from registries: the ENTRYPOINT and CMD that a container with `args` and no
//! `command` needs (ACI's `command` replaces the ENTRYPOINT and ACI has no `args`).
//!
//! [`ImageResolver`] reads an image's config with the OCI distribution API (`oci-client`):
//! the pod's pull credentials or anonymous, the Bearer token exchange registries such as ACR
//! ask for, the linux/amd64 (or windows/amd64) entry of a multi-arch index. Results are cached
//! ([`cache`]): digests for good, tags for a TTL, failures briefly; concurrent pods of one
//! image share one registry round trip. A registry that is slow or down is a
//! `ProviderError::Transient`: the pod stays Pending with the message and is retried.

pub mod cache;
pub mod resolver;

pub use resolver::{ImageError, ImageResolver, ImageResolverConfig};
