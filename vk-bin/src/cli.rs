//! Command-line parsing and the subcommands of `vk-aci`.
use std::process::ExitCode;

pub(crate) fn main() -> ExitCode {
    eprintln!("vk-aci: no subcommands yet");
    ExitCode::from(2)
}
