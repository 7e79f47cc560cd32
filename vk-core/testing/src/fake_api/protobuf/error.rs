//! Why a protobuf body could not be transcoded.
/// Why a protobuf body could not be transcoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Error {
    /// The body does not start with the `k8s\0` magic.
    #[error("the body does not start with the protobuf envelope's magic")]
    Magic,
    /// The bytes are not a well-formed message of the expected type.
    #[error("the protobuf message is malformed: {0}")]
    Malformed(String),
    /// The envelope names a kind the fake has no message for.
    #[error("no protobuf message is registered for kind {kind} in {api_version}")]
    UnknownKind {
        /// `apiVersion` from the envelope or object.
        api_version: String,
        /// `kind` from the envelope or object.
        kind: String,
    },
}

/// Result of this module.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

pub(super) fn malformed(e: impl std::fmt::Display) -> Error {
    Error::Malformed(e.to_string())
}
