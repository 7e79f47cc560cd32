//! What the translation knows of an image: its config's ENTRYPOINT and CMD, read by the
//! caller ([`crate::images`] says which images and with which logins).

use std::collections::BTreeMap;

/// The execution defaults of an image (its config's `Entrypoint` and `Cmd`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// `ENTRYPOINT`, empty when the image has none.
    pub entrypoint: Vec<String>,
    /// `CMD`, empty when the image has none.
    pub cmd: Vec<String>,
}

/// Image configs by image reference, exactly as written in the pod's `image` fields.
pub type ResolvedImages = BTreeMap<String, ImageConfig>;
