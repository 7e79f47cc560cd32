//! How `vk-aci` fails: [`BadInput`] (exit 2) versus runtime failures (exit 1), and the
//! exit status of an error chain.

use std::io;
use std::process::ExitCode;

use vk_translate::manifests;

/// An input or configuration that cannot be used (exit status 2).
#[derive(Debug)]
pub(crate) struct BadInput(pub(crate) String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Prints `err` to stderr and picks the exit status: 0 for a closed pipe
/// (`vk-aci translate x.yaml | head`), 2 for bad input, else 1.
pub(crate) fn report(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    }) {
        return ExitCode::SUCCESS;
    }
    eprintln!("vk-aci: {err:#}");
    if err
        .chain()
        .any(|e| e.is::<BadInput>() || e.is::<manifests::ManifestError>())
    {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}
