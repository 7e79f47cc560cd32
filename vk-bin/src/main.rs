/*! The main entry point into the `vk-aci` binary. */
mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
