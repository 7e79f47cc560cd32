/*! The main entry point into the `vk-aci` binary: parse the command line, run the
subcommand, map its error to an exit status (2 for bad input, 1 for runtime failures). */
mod arm_config;
mod cli;
#[cfg(feature = "local")]
mod emulator_cmd;
mod error;
mod flag_values;
mod kubelet_api_config;
#[cfg(feature = "local")]
mod local_cmd;
mod logging;
mod monitor_config;
mod placement_config;
mod provider_config;
mod run_args;
mod run_cmd;
mod run_config;
mod translate_cmd;
mod vnet_config;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let (cli, ignored) = cli::parse();
    run(cli, &ignored).unwrap_or_else(|err| error::report(&err))
}

/// Runs one subcommand.
fn run(cli: Cli, ignored: &[String]) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Translate(args) => translate_cmd::translate(&args),
        Command::Check(args) => translate_cmd::check(&args),
        Command::Run(args) => run_cmd::run_node(&args, ignored),
        #[cfg(feature = "local")]
        Command::Local(args) => local_cmd::local(&args),
        #[cfg(feature = "local")]
        Command::Emulator(args) => emulator_cmd::emulator(&args),
        #[cfg(not(feature = "local"))]
        Command::Local(_) => Err(not_built("local")),
        #[cfg(not(feature = "local"))]
        Command::Emulator(_) => Err(not_built("emulator")),
    }
}

/// A subcommand of the `local` feature in a build without it (the production image): said
/// plainly, exit 2, rather than clap's "unrecognized subcommand".
#[cfg(not(feature = "local"))]
fn not_built(command: &str) -> anyhow::Error {
    error::BadInput(format!(
        "this build has no `{command}` command (built without the `local` feature, as the \
         production image is); a build with the default features has it (`cargo run -- {command}`)"
    ))
    .into()
}

#[cfg(all(test, not(feature = "local")))]
mod tests {
    use super::*;

    #[test]
    fn local_without_the_feature_should_be_bad_input_naming_the_feature() {
        let err = not_built("local");
        assert!(err.is::<error::BadInput>());
        assert!(
            err.to_string().starts_with(
                "this build has no `local` command (built without the `local` feature"
            ),
            "{err}"
        );
    }
}
