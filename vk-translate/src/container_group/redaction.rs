//! How `Debug` output hides secret values.

/// What `Debug` prints in place of a secret value.
pub(super) const REDACTED: &str = "<redacted>";

/// `Some("<redacted>")` for a present secret, `None` for an absent one, for `Debug` output.
pub(super) fn redact<T>(secret: Option<&T>) -> Option<&'static str> {
    secret.map(|_| REDACTED)
}
