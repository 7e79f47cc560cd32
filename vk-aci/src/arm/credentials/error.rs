//! Why no ARM token could be had.
use std::path::PathBuf;

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The settings do not name a usable credential.
    #[error("no usable azure credential: {0}")]
    NotConfigured(String),
    /// A credential file could not be read or parsed.
    #[error("cannot read credential file {path}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong (never the file's content).
        #[source]
        source: std::io::Error,
    },
    /// The cloud name in `azure.json` is not one we know.
    #[error(
        "unknown azure cloud {0:?} (expected AzurePublicCloud, AzureUSGovernmentCloud or AzureChinaCloud)"
    )]
    UnknownCloud(String),
    /// The identity library or token endpoint refused.
    #[error("token request failed: {0}")]
    Token(String),
}
