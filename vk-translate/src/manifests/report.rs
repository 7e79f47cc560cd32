//! The human-readable `check` report.

use std::fmt::Write as _;

use super::workloads::{Outcome, WorkloadResult};
use crate::error::FieldErrorKind;

/// Whether any workload cannot run (one that only waits for its claims to be Bound can).
#[must_use]
pub fn any_cannot_run(results: &[WorkloadResult]) -> bool {
    results
        .iter()
        .any(|r| matches!(&r.outcome, Outcome::CannotRun(e) if !e.is_waiting()))
}

/// The human-readable `check` report: per workload `runs as is`, `runs with changes` or
/// `cannot run` with every reason, then a summary line.
#[must_use]
pub fn check_report(results: &[WorkloadResult]) -> String {
    let mut out = String::new();
    let (mut as_is, mut changed, mut cannot, mut never, mut waiting) = (0, 0, 0, 0, 0);
    for result in results {
        let w = &result.workload;
        let _ = write!(
            out,
            "{} {}/{} ({}, document {}): ",
            w.kind, w.namespace, w.name, w.origin.file, w.origin.document
        );
        match &result.outcome {
            Outcome::Runs(t) if t.warnings.is_empty() => {
                as_is += 1;
                let _ = writeln!(out, "runs as is (container group {})", t.name);
            }
            Outcome::Runs(t) => {
                changed += 1;
                let _ = writeln!(out, "runs with changes (container group {})", t.name);
                for warning in &t.warnings {
                    let _ = writeln!(out, "  - {warning}");
                }
            }
            Outcome::CannotRun(e) if e.is_waiting() => {
                waiting += 1;
                let _ = writeln!(out, "waits (stays Pending until its claims are Bound)");
                for error in e.field_errors() {
                    let _ = writeln!(out, "  - {error}");
                }
            }
            Outcome::CannotRun(e) => {
                cannot += 1;
                let _ = writeln!(out, "cannot run");
                if e.field_errors().is_empty() {
                    let _ = writeln!(out, "  - {e}");
                }
                for error in e.field_errors() {
                    let _ = writeln!(out, "  - {error}");
                }
            }
            Outcome::NeverScheduled(reason) => {
                never += 1;
                let _ = writeln!(out, "never scheduled to a virtual node");
                let _ = writeln!(out, "  - {reason}");
            }
        }
    }
    let missing = results.iter().any(|r| {
        matches!(&r.outcome, Outcome::CannotRun(e)
            if e.field_errors().iter().any(|f| f.kind == FieldErrorKind::MissingReference))
    });
    if missing || waiting > 0 {
        let _ = writeln!(
            out,
            "\nnote: Secrets, ConfigMaps, PersistentVolumeClaims and PersistentVolumes are looked up in the given files only (same namespace; a claim is Bound when the files pair it with a volume); service account tokens come from the cluster"
        );
    }
    let waits = if waiting > 0 {
        format!(
            ", {waiting} wait{} for volumes",
            if waiting == 1 { "s" } else { "" }
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "\n{} workload{}: {as_is} run{} as is, {changed} run{} with changes, {cannot} cannot run{waits}, {never} never scheduled",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        if as_is == 1 { "s" } else { "" },
        if changed == 1 { "s" } else { "" },
    );
    out
}
