//! Why manifests could not be read.

/// Why manifests could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// A document is not valid YAML; the documents after it cannot be read either.
    #[error("{origin}: document {document}: invalid YAML")]
    Yaml {
        /// File name (or `-`).
        origin: String,
        /// 1-based document index in the file.
        document: usize,
        /// The parser's error, with line and column.
        #[source]
        source: serde_yaml::Error,
    },
    /// A document is YAML but not a valid object of its kind.
    #[error("{origin}: document {document} ({kind} {name:?}): invalid {kind}")]
    Object {
        /// File name (or `-`).
        origin: String,
        /// 1-based document index in the file.
        document: usize,
        /// The document's `kind`.
        kind: String,
        /// The document's `metadata.name`.
        name: String,
        /// What is wrong, with the field and its line and column.
        #[source]
        source: serde_yaml::Error,
    },
    /// A document has no `kind` or it is not a string.
    #[error("{origin}: document {document}: field `kind` is missing or not a string")]
    NoKind {
        /// File name (or `-`).
        origin: String,
        /// 1-based document index in the file.
        document: usize,
    },
}
