//! Where the tests find kubectl, in one place. The tests drive kubectl 1.33 ([`CURRENT`])
//! and, in the version-matrix tests, 1.27 too. For version `X.Y` the first of these wins:
//!
//! - `VK_KUBECTL_X_Y` (`VK_KUBECTL_1_27`): that version's binary;
//! - `VK_KUBECTL`: one binary for every version (as vk-testing's `kubectl_path`);
//! - `kubectl.X.Y` in `VK_KUBECTL_DIR`, by default `/usr/lib/google-cloud-sdk/bin` (where
//!   the Google Cloud SDK puts its versioned builds).
use std::path::PathBuf;

/// The kubectl version the tests use unless they name another.
pub const CURRENT: &str = "1.33";

/// The directory searched when `VK_KUBECTL_DIR` is not set.
const DEFAULT_DIR: &str = "/usr/lib/google-cloud-sdk/bin";

/// The kubectl binary of `version` (`1.33`, `1.27`); see the module doc.
pub fn path(version: &str) -> PathBuf {
    let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(path) = set(&format!("VK_KUBECTL_{}", version.replace('.', "_"))) {
        return path.into();
    }
    if let Some(path) = set("VK_KUBECTL") {
        return path.into();
    }
    set("VK_KUBECTL_DIR")
        .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
        .join(format!("kubectl.{version}"))
}
