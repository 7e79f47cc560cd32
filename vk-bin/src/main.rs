/*! The main entry point into the `vk-aci` binary: parse the command line, run the
subcommand, map its error to an exit status (2 for bad input, 1 for runtime failures). */
mod arm_config;
mod cli;
mod emulator_cmd;
mod error;
mod flag_values;
mod kubelet_api_config;
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
        Command::Local(args) => local_cmd::local(&args),
        Command::Emulator(args) => emulator_cmd::emulator(&args),
    }
}
