//! One line for an error and its causes, for logs, events and messages that must say why.

/// `error` and each of its [`source`](std::error::Error::source)s, joined with `: `.
///
/// A log line, event or pod message shows one string; this keeps the causes that the
/// outer error's `Display` leaves out (e.g. the API server's 403 under "cannot create CSR").
///
/// ```
/// #[derive(Debug)]
/// struct CreateCsr(std::io::Error);
///
/// impl std::fmt::Display for CreateCsr {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("cannot create CSR")
///     }
/// }
///
/// impl std::error::Error for CreateCsr {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let error = CreateCsr(std::io::Error::other("forbidden"));
/// assert_eq!(vk_core::error_chain(&error), "cannot create CSR: forbidden");
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
