//! Where the tests find kubectl, in one place: vk-testing's lookup
//! (`VK_KUBECTL_X_Y`, `VK_KUBECTL`, `VK_KUBECTL_DIR`, then `/usr/lib/google-cloud-sdk/bin`).
//! The tests drive kubectl 1.33 ([`CURRENT`]) and, in the version-matrix tests, 1.27 too.
use std::path::PathBuf;

/// The kubectl version the tests use unless they name another.
pub const CURRENT: &str = "1.33";

/// The kubectl binary of `version` (`1.33`, `1.27`).
pub fn path(version: &str) -> PathBuf {
    vk_testing::kubectl::kubectl_path(version)
}
