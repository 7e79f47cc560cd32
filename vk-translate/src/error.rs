//! What a translation reports: warnings for what changed, errors for what cannot run.

use std::fmt;

/// Something in the pod that ACI runs differently, or not at all, while the pod still runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// Path of the pod field concerned, e.g. `spec.containers[0].lifecycle`.
    pub field: String,
    /// What happens to it, in lower case.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why the pod is not runnable, for one field.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Path of the pod field concerned, e.g. `spec.volumes[1].hostPath`.
    pub field: String,
    /// What kind of problem it is.
    pub kind: FieldErrorKind,
    /// Why, in lower case.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The kind of a [`FieldError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum FieldErrorKind {
    /// ACI has no equivalent of the field's value (a hostPath volume, an SCTP port).
    Unsupported,
    /// The value is malformed or contradicts itself (a limit below its request).
    Invalid,
    /// A referenced Secret, ConfigMap, key or token was not provided.
    MissingReference,
    /// The value is above one of ACI's limits (CPU, memory, containers, volumes, ports).
    OverLimit,
    /// A referenced object exists but is not ready yet: a PersistentVolumeClaim that is not
    /// Bound. The pod should stay Pending and be translated again once the object changes;
    /// it is not a failure of the pod.
    NotReady,
}

/// Why a pod cannot become a container group.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TranslateError {
    /// One or more fields of the pod cannot be translated; every one is listed.
    #[error("{}", list(.0))]
    Fields(Vec<FieldError>),
    /// The pod has no `spec`.
    #[error("pod has no spec")]
    MissingSpec,
    /// A bug in the translator: please file an issue with the pod that caused it.
    #[error("internal error in the translator: {0} (please file a bug)")]
    Unreachable(&'static str),
}

/// The [`TranslateError::reason`] of a pod that waits for its PersistentVolumeClaims to be
/// Bound.
pub const PERSISTENT_VOLUME_CLAIM_NOT_BOUND: &str = "PersistentVolumeClaimNotBound";

/// `Result` with [`TranslateError`].
pub type Result<T, E = TranslateError> = std::result::Result<T, E>;

fn list(errors: &[FieldError]) -> String {
    let mut out = match errors.len() {
        1 => String::from("pod cannot run on ACI: "),
        n => format!("pod cannot run on ACI ({n} problems): "),
    };
    for (i, error) in errors.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.push_str(&error.to_string());
    }
    out
}

// === impl TranslateError ===

impl TranslateError {
    /// A CamelCase reason for the pod's status and events.
    ///
    /// Missing Secrets or ConfigMaps give `CreateContainerConfigError` (the kubelet's reason
    /// for the same situation); claims that are not Bound yet give
    /// [`PERSISTENT_VOLUME_CLAIM_NOT_BOUND`] (see [`TranslateError::is_waiting`]); everything
    /// else gives `ProviderFailed`.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        if self.is_waiting() {
            return PERSISTENT_VOLUME_CLAIM_NOT_BOUND;
        }
        match self {
            Self::Fields(errors)
                if !errors.is_empty()
                    && errors
                        .iter()
                        .all(|e| e.kind == FieldErrorKind::MissingReference) =>
            {
                "CreateContainerConfigError"
            }
            _ => "ProviderFailed",
        }
    }

    /// Whether the pod only waits for referenced objects to become ready (every field error
    /// is [`FieldErrorKind::NotReady`], such as a PersistentVolumeClaim not Bound yet): the
    /// runtime keeps the pod Pending with [`TranslateError::reason`] and translates it again
    /// later, instead of failing it.
    #[must_use]
    pub fn is_waiting(&self) -> bool {
        match self {
            Self::Fields(errors) => {
                !errors.is_empty() && errors.iter().all(|e| e.kind == FieldErrorKind::NotReady)
            }
            _ => false,
        }
    }

    /// Every offending field (empty for errors that are not about a field).
    #[must_use]
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Fields(errors) => errors,
            _ => &[],
        }
    }
}

/// Collects warnings and errors while a pod is walked, so that every problem is reported.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) warnings: Vec<Warning>,
    pub(crate) errors: Vec<FieldError>,
}

impl Findings {
    pub(crate) fn warn(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Warning {
            field: field.into(),
            message: message.into(),
        });
    }

    pub(crate) fn fail(
        &mut self,
        kind: FieldErrorKind,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.errors.push(FieldError {
            field: field.into(),
            kind,
            message: message.into(),
        });
    }

    pub(crate) fn unsupported(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.fail(FieldErrorKind::Unsupported, field, message);
    }

    pub(crate) fn invalid(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.fail(FieldErrorKind::Invalid, field, message);
    }

    pub(crate) fn missing(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.fail(FieldErrorKind::MissingReference, field, message);
    }

    pub(crate) fn not_ready(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.fail(FieldErrorKind::NotReady, field, message);
    }

    pub(crate) fn over_limit(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.fail(FieldErrorKind::OverLimit, field, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_should_list_every_field() {
        let error = TranslateError::Fields(vec![
            FieldError {
                field: "spec.volumes[0].hostPath".into(),
                kind: FieldErrorKind::Unsupported,
                message: "aci cannot mount host paths".into(),
            },
            FieldError {
                field: "spec.containers[0].env[1]".into(),
                kind: FieldErrorKind::MissingReference,
                message: "secret \"db\" not found".into(),
            },
        ]);
        let text = error.to_string();
        assert!(text.contains("2 problems"), "{text}");
        assert!(text.contains("spec.volumes[0].hostPath: aci cannot mount host paths"));
        assert!(text.contains("spec.containers[0].env[1]"));
        assert_eq!(error.reason(), "ProviderFailed");
    }

    #[test]
    fn only_missing_references_should_give_config_error_reason() {
        let error = TranslateError::Fields(vec![FieldError {
            field: "spec.containers[0].env[0]".into(),
            kind: FieldErrorKind::MissingReference,
            message: "secret \"db\" not found".into(),
        }]);
        assert_eq!(error.reason(), "CreateContainerConfigError");
        assert!(!error.is_waiting());
    }

    #[test]
    fn only_unbound_claims_should_wait_with_their_own_reason() {
        let unbound = FieldError {
            field: "spec.volumes[0].persistentVolumeClaim".into(),
            kind: FieldErrorKind::NotReady,
            message: "not bound".into(),
        };
        let error = TranslateError::Fields(vec![unbound.clone()]);
        assert!(error.is_waiting());
        assert_eq!(error.reason(), PERSISTENT_VOLUME_CLAIM_NOT_BOUND);
        let mixed = TranslateError::Fields(vec![
            unbound,
            FieldError {
                field: "spec.volumes[1].hostPath".into(),
                kind: FieldErrorKind::Unsupported,
                message: "no host".into(),
            },
        ]);
        assert!(!mixed.is_waiting());
        assert_eq!(mixed.reason(), "ProviderFailed");
    }
}
