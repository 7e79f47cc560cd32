/*! The main entry point into the `vk-aci` binary. */
mod cli;

use std::io::{self, Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use vk_translate::manifests::{self, Manifests, Outcome};

use crate::cli::{CheckArgs, Cli, Command, TranslateArgs};

fn main() -> ExitCode {
    match run(cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`vk-aci translate x.yaml | head`) is not a failure.
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
    }
}

/// Runs one subcommand.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Translate(args) => translate(&args),
        Command::Check(args) => check(&args),
    }
}

/// An input that cannot be read (exit status 2).
#[derive(Debug)]
struct BadInput(String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Reads and parses every file (`-` is stdin, read once).
fn read_manifests(files: &[impl AsRef<Path>]) -> anyhow::Result<Manifests> {
    let mut manifests = Manifests::default();
    let mut stdin_read = false;
    for file in files {
        let file = file.as_ref();
        let (origin, text) = if file == Path::new("-") {
            if stdin_read {
                continue;
            }
            stdin_read = true;
            let mut text = String::new();
            io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| BadInput(format!("reading stdin: {e}")))?;
            ("-".to_owned(), text)
        } else {
            let text = std::fs::read_to_string(file)
                .map_err(|e| BadInput(format!("reading {}: {e}", file.display())))?;
            (file.display().to_string(), text)
        };
        manifests.add(&origin, &text)?;
    }
    Ok(manifests)
}

/// `vk-aci translate`: one pretty JSON ARM PUT body per workload on stdout, warnings and
/// errors on stderr; exit 1 when a workload cannot be translated.
fn translate(args: &TranslateArgs) -> anyhow::Result<ExitCode> {
    let manifests = read_manifests(&args.files)?;
    let results = manifests.translate(&args.node.to_options());
    let mut stdout = io::stdout().lock();
    let mut failed = false;
    for result in results {
        let w = &result.workload;
        let what = format!(
            "{} {}/{} ({}, document {})",
            w.kind, w.namespace, w.name, w.origin.file, w.origin.document
        );
        match result.outcome {
            Outcome::Runs(translation) => {
                let mut group = translation.container_group;
                if !args.show_secrets {
                    vk_translate::redact_secrets(&mut group);
                }
                eprintln!("vk-aci: {what}: container group {}", translation.name);
                for warning in &translation.warnings {
                    eprintln!("vk-aci: {what}: warning: {warning}");
                }
                let json = serde_json::to_string_pretty(&group)
                    .context("serializing the container group")?;
                writeln!(stdout, "{json}")?;
            }
            Outcome::CannotRun(error) => {
                failed = true;
                eprintln!("vk-aci: {what}: {error}");
            }
            Outcome::NeverScheduled(reason) => {
                eprintln!("vk-aci: {what}: skipped: {reason}");
            }
        }
    }
    stdout.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `vk-aci check`: the report on stdout; exit 1 when something cannot run.
fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let manifests = read_manifests(&args.files)?;
    let results = manifests.translate(&args.node.to_options());
    let mut stdout = io::stdout().lock();
    write!(stdout, "{}", manifests::check_report(&results))?;
    stdout.flush()?;
    Ok(if manifests::any_cannot_run(&results) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
