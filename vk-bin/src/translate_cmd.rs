//! `vk-aci translate` and `vk-aci check`: manifests in, ARM bodies or a report out, with
//! images' ENTRYPOINTs read from registries on request.
//!
//! Secrets, ConfigMaps, PersistentVolumeClaims and PersistentVolumes (and the Secrets
//! holding the volumes' storage keys) are resolved from the same files
//! ([`Manifests::objects_in`]); `translate` also lists the lifecycle hooks the node runs
//! itself, and says which workloads wait for their claims to be Bound.

use std::io::{self, Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use vk_aci::images::{ImageResolver, ImageResolverConfig};
use vk_translate::images::ResolvedImages;
use vk_translate::manifests::{self, Manifests, Outcome};
use vk_translate::{HookAction, HookPlan};

use crate::cli::{CheckArgs, ImageArgs, TranslateArgs};
use crate::error::BadInput;

/// Reads and parses every file (`-` is stdin, read once), and gives the workloads' pods the
/// API server's defaults.
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
    // Judge the pods the node would receive: with the API server's defaults.
    for w in &mut manifests.workloads {
        vk_translate::defaults::apply_api_server_defaults(&mut w.pod);
    }
    Ok(manifests)
}

/// `vk-aci translate`: one pretty JSON ARM PUT body per workload on stdout, warnings and
/// errors on stderr; exit 1 when a workload cannot be translated.
pub(crate) fn translate(args: &TranslateArgs) -> anyhow::Result<ExitCode> {
    let manifests = read_manifests(&args.files)?;
    let results = translate_manifests(&manifests, &args.node.to_options(), &args.images)?;
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
                for hook in hook_lines(&translation.hooks) {
                    eprintln!("vk-aci: {what}: hook: {hook}");
                }
                let json = serde_json::to_string_pretty(&group)
                    .context("serializing the container group")?;
                writeln!(stdout, "{json}")?;
            }
            Outcome::CannotRun(error) if error.is_waiting() => {
                failed = true;
                eprintln!("vk-aci: {what}: waits ({}): {error}", error.reason());
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

/// One line per lifecycle hook the provider runs itself, e.g.
/// `container web: postStart runs ["touch", "/ready"] through ACI's exec API`.
fn hook_lines(plan: &HookPlan) -> Vec<String> {
    let describe = |action: &HookAction| match action {
        HookAction::Exec { command } => format!("runs {command:?} through ACI's exec API"),
        HookAction::Sleep { seconds } => format!("sleeps {seconds}s"),
        other => format!("{other:?}"),
    };
    let mut lines = Vec::new();
    for hooks in &plan.containers {
        for (when, action) in [
            ("postStart", &hooks.post_start),
            ("preStop", &hooks.pre_stop),
        ] {
            if let Some(action) = action {
                lines.push(format!(
                    "container {}: {when} {}",
                    hooks.container,
                    describe(action)
                ));
            }
        }
    }
    lines
}

/// Translates every workload; with `--resolve-images`, first reads the configs of the images
/// whose ENTRYPOINT the translation needs. An image that cannot be read is reported on
/// stderr and its workload translated offline (args alone, with a warning).
fn translate_manifests(
    manifests: &Manifests,
    node: &vk_translate::NodeOptions,
    images: &ImageArgs,
) -> anyhow::Result<Vec<manifests::WorkloadResult>> {
    if !images.resolve_images {
        return Ok(manifests.translate(node));
    }
    let resolver = ImageResolver::new(ImageResolverConfig {
        insecure_registries: images.insecure_registries.clone(),
        os_type: node.os_type.clone(),
        ..ImageResolverConfig::default()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let resolved = runtime.block_on(async {
        let mut resolved = Vec::with_capacity(manifests.workloads.len());
        for w in &manifests.workloads {
            let objects = manifests.objects_in(&w.namespace);
            match resolver.resolve_pod(&w.pod, &objects).await {
                Ok(images) => resolved.push(images),
                Err(err) => {
                    eprintln!(
                        "vk-aci: {} {}/{} ({}, document {}): image config not read: {err}",
                        w.kind, w.namespace, w.name, w.origin.file, w.origin.document
                    );
                    resolved.push(ResolvedImages::new());
                }
            }
        }
        resolved
    });
    Ok(manifests.translate_with_images(node, &resolved))
}

/// `vk-aci check`: the report on stdout; exit 1 when something cannot run.
pub(crate) fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let manifests = read_manifests(&args.files)?;
    let results = translate_manifests(&manifests, &args.node.to_options(), &args.images)?;
    let mut stdout = io::stdout().lock();
    write!(stdout, "{}", manifests::check_report(&results))?;
    stdout.flush()?;
    Ok(if manifests::any_cannot_run(&results) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
