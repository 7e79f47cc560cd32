//! Kubernetes manifests (multi-document YAML) to workloads, their translations, and the
//! `check` report.
//!
//! Pods and the pod templates of Deployments, ReplicaSets, StatefulSets, Jobs, CronJobs,
//! DaemonSets and ReplicationControllers are workloads; Secrets, ConfigMaps,
//! PersistentVolumeClaims and PersistentVolumes in the same documents resolve their
//! references; every other kind is ignored. Pure: it takes strings.
//!
//! Manifests rarely carry a claim's status, so a claim counts as Bound when the files show
//! its volume: its `spec.volumeName` names a PersistentVolume of the files, or a
//! PersistentVolume's `claimRef` names the claim. Other claims wait for binding (a
//! [`FieldErrorKind::NotReady`](crate::FieldErrorKind) error, reported as "waits").

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::core::v1 as k8s;
use serde::de::DeserializeOwned;

use crate::error::TranslateError;
use crate::images::ResolvedImages;
use crate::node::NodeOptions;
use crate::pod::{ReferencedObjects, Translation, translate_pod_with_images};

/// Why manifests could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// A document is not valid YAML; the documents after it cannot be read either.
    #[error("{origin}: document {document}: invalid YAML")]
    Yaml {
        /// File name (or `-`).
        origin: String,
        /// 1-based document index in the file.
        document: usize,
        /// The parser's error, with line and column.
        #[source]
        source: serde_yaml::Error,
    },
    /// A document is YAML but not a valid object of its kind.
    #[error("{origin}: document {document} ({kind} {name:?}): invalid {kind}")]
    Object {
        /// File name (or `-`).
        origin: String,
        /// 1-based document index in the file.
        document: usize,
        /// The document's `kind`.
        kind: String,
        /// The document's `metadata.name`.
        name: String,
        /// What is wrong, with the field and its line and column.
        #[source]
        source: serde_yaml::Error,
    },
    /// A document has no `kind` or it is not a string.
    #[error("{origin}: document {document}: field `kind` is missing or not a string")]
    NoKind {
        /// File name (or `-`).
        origin: String,
        /// 1-based document index in the file.
        document: usize,
    },
}

/// Where a workload was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// File name (or `-`).
    pub file: String,
    /// 1-based document index in the file.
    pub document: usize,
}

/// A Pod or pod template found in the manifests.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Where it was found.
    pub origin: Origin,
    /// `Pod`, `Deployment`, ...
    pub kind: String,
    /// Namespace (`default` when unset).
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The pod it runs (for templates: named after the workload).
    pub pod: k8s::Pod,
}

/// Everything read from a set of manifests.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    /// The workloads, in file and document order.
    pub workloads: Vec<Workload>,
    secrets: BTreeMap<(String, String), k8s::Secret>,
    config_maps: BTreeMap<(String, String), k8s::ConfigMap>,
    claims: BTreeMap<(String, String), k8s::PersistentVolumeClaim>,
    volumes: BTreeMap<String, k8s::PersistentVolume>,
}

/// What happens to one workload on a virtual node.
#[derive(Debug)]
pub enum Outcome {
    /// It runs; the warnings say what changes (none: it runs as is).
    Runs(Box<Translation>),
    /// It cannot run, for the reasons given.
    CannotRun(TranslateError),
    /// It is never scheduled to a virtual node (DaemonSets).
    NeverScheduled(&'static str),
}

/// A workload and its outcome.
#[derive(Debug)]
pub struct WorkloadResult {
    /// The workload.
    pub workload: Workload,
    /// What happens to it.
    pub outcome: Outcome,
}

const DAEMONSET_REASON: &str = "virtual nodes run no DaemonSet pods: a DaemonSet runs node agents, and a virtual node has no machine for them (the upstream virtual kubelet refuses them too)";

// === impl Manifests ===

impl Manifests {
    /// Reads every document of `text` (from `origin`, a file name for messages) and adds
    /// what it holds.
    ///
    /// # Errors
    ///
    /// The first document that is not valid YAML, has no kind, or is not a valid object of
    /// a kind this reads.
    pub fn add(&mut self, origin: &str, text: &str) -> Result<(), ManifestError> {
        let mut values = Vec::new();
        for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            use serde::Deserialize as _;
            match serde_yaml::Value::deserialize(document) {
                Ok(value) => values.push(value),
                Err(source) => {
                    return Err(ManifestError::Yaml {
                        origin: origin.to_owned(),
                        document: i + 1,
                        source,
                    });
                }
            }
        }
        let mut typed: Vec<Option<serde_yaml::Deserializer<'_>>> =
            serde_yaml::Deserializer::from_str(text)
                .take(values.len())
                .map(Some)
                .collect();
        for (i, value) in values.iter().enumerate() {
            let document = i + 1;
            if value.is_null() {
                continue;
            }
            let Some(kind) = value.get("kind").and_then(serde_yaml::Value::as_str) else {
                return Err(ManifestError::NoKind {
                    origin: origin.to_owned(),
                    document,
                });
            };
            let name = value
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(serde_yaml::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let origin_of = Origin {
                file: origin.to_owned(),
                document,
            };
            let mut parse = |kind: &str| -> Result<serde_yaml::Deserializer<'_>, ManifestError> {
                typed
                    .get_mut(i)
                    .and_then(Option::take)
                    .ok_or_else(|| ManifestError::NoKind {
                        origin: format!("{origin} ({kind})"),
                        document,
                    })
            };
            let object_error = |source| ManifestError::Object {
                origin: origin.to_owned(),
                document,
                kind: kind.to_owned(),
                name: name.clone(),
                source,
            };
            match kind {
                "Secret" => {
                    let secret: k8s::Secret =
                        typed_object(parse(kind)?, value).map_err(object_error)?;
                    let ns = namespace_of(&secret.metadata);
                    self.secrets.insert((ns, name.clone()), secret);
                }
                "ConfigMap" => {
                    let map: k8s::ConfigMap =
                        typed_object(parse(kind)?, value).map_err(object_error)?;
                    let ns = namespace_of(&map.metadata);
                    self.config_maps.insert((ns, name.clone()), map);
                }
                "PersistentVolumeClaim" => {
                    let claim: k8s::PersistentVolumeClaim =
                        typed_object(parse(kind)?, value).map_err(object_error)?;
                    let ns = namespace_of(&claim.metadata);
                    self.claims.insert((ns, name.clone()), claim);
                }
                "PersistentVolume" => {
                    let volume: k8s::PersistentVolume =
                        typed_object(parse(kind)?, value).map_err(object_error)?;
                    self.volumes.insert(name.clone(), volume);
                }
                "Pod" => {
                    let pod: k8s::Pod = typed_object(parse(kind)?, value).map_err(object_error)?;
                    self.push(origin_of, kind, pod.metadata.clone(), pod);
                }
                "Deployment" => {
                    let d: apps::Deployment =
                        typed_object(parse(kind)?, value).map_err(object_error)?;
                    let template = Some(d.spec.template);
                    self.push_template(origin_of, kind, &d.metadata, template, None);
                }
                "ReplicaSet" => {
                    let r: apps::ReplicaSet =
                        typed_object(parse(kind)?, value).map_err(object_error)?;
                    let template = r.spec.template;
                    self.push_template(origin_of, kind, &r.metadata, template, None);
                }
                "StatefulSet" => {
                    let s: apps::StatefulSet =
                        typed_object(parse(kind)?, value).map_err(object_error)?;
                    let claims = s.spec.volume_claim_templates.unwrap_or_default();
                    let template = Some(s.spec.template);
                    self.push_template(origin_of, kind, &s.metadata, template, Some(claims));
                }
                "DaemonSet" => {
                    let d: apps::DaemonSet =
                        typed_object(parse(kind)?, value).map_err(object_error)?;
                    let template = Some(d.spec.template);
                    self.push_template(origin_of, kind, &d.metadata, template, None);
                }
                "Job" => {
                    let j: batch::Job = typed_object(parse(kind)?, value).map_err(object_error)?;
                    let template = j.spec.map(|s| s.template);
                    self.push_template(origin_of, kind, &j.metadata, template, None);
                }
                "CronJob" => {
                    let c: batch::CronJob =
                        typed_object(parse(kind)?, value).map_err(object_error)?;
                    let template = c.spec.job_template.spec.map(|s| s.template);
                    self.push_template(origin_of, kind, &c.metadata, template, None);
                }
                "ReplicationController" => {
                    let r: k8s::ReplicationController =
                        typed_object(parse(kind)?, value).map_err(object_error)?;
                    let template = r.spec.and_then(|s| s.template);
                    self.push_template(origin_of, kind, &r.metadata, template, None);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn push(
        &mut self,
        origin: Origin,
        kind: &str,
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        mut pod: k8s::Pod,
    ) {
        let namespace = namespace_of(&metadata);
        pod.metadata.namespace = Some(namespace.clone());
        self.workloads.push(Workload {
            origin,
            kind: kind.to_owned(),
            namespace,
            name: metadata.name.unwrap_or_default(),
            pod,
        });
    }

    fn push_template(
        &mut self,
        origin: Origin,
        kind: &str,
        metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        template: Option<k8s::PodTemplateSpec>,
        claims: Option<Vec<k8s::PersistentVolumeClaim>>,
    ) {
        let template = template.unwrap_or_default();
        let mut pod_meta = template.metadata.unwrap_or_default();
        pod_meta.name = metadata.name.clone();
        pod_meta.namespace = Some(namespace_of(metadata));
        let mut spec = template.spec;
        // A StatefulSet's controller adds one claim volume per template to each pod, using
        // the claim `<template>-<statefulset>-<ordinal>`: the first pod's is checked.
        if let (Some(spec), Some(claims)) = (spec.as_mut(), claims) {
            for claim in claims {
                let template_name = claim.metadata.name.unwrap_or_default();
                let claim_name = format!(
                    "{template_name}-{}-0",
                    metadata.name.as_deref().unwrap_or_default()
                );
                let volumes = spec.volumes.get_or_insert_with(Vec::new);
                if !volumes.iter().any(|v| v.name == template_name) {
                    volumes.push(k8s::Volume {
                        name: template_name.clone(),
                        persistent_volume_claim: Some(k8s::PersistentVolumeClaimVolumeSource {
                            claim_name,
                            read_only: None,
                        }),
                        ..k8s::Volume::default()
                    });
                }
            }
        }
        let pod = k8s::Pod {
            metadata: pod_meta,
            spec,
            status: None,
        };
        self.push(origin, kind, metadata.clone(), pod);
    }

    /// The Secrets, ConfigMaps and PersistentVolumeClaims of `namespace` by name, every
    /// PersistentVolume, and every Secret under its `"<namespace>/<name>"` for the volumes.
    /// Claims the files show bound (see the module doc) are marked `Bound`.
    #[must_use]
    pub fn objects_in(&self, namespace: &str) -> ReferencedObjects {
        let persistent_volume_claims = self
            .claims
            .iter()
            .filter(|((ns, _), _)| ns == namespace)
            .map(|((_, name), claim)| (name.clone(), self.bound(namespace, name, claim)))
            .collect();
        ReferencedObjects {
            persistent_volume_claims,
            persistent_volumes: self.volumes.clone(),
            volume_secrets: self
                .secrets
                .iter()
                .map(|((ns, name), s)| (crate::claims::volume_secret_key(ns, name), s.clone()))
                .collect(),
            secrets: self
                .secrets
                .iter()
                .filter(|((ns, _), _)| ns == namespace)
                .map(|((_, name), s)| (name.clone(), s.clone()))
                .collect(),
            config_maps: self
                .config_maps
                .iter()
                .filter(|((ns, _), _)| ns == namespace)
                .map(|((_, name), m)| (name.clone(), m.clone()))
                .collect(),
            service_account_tokens: BTreeMap::new(),
        }
    }

    /// `claim` as the cluster would show it once bound: unchanged if it has a status, else
    /// Bound to the volume the files pair it with, if any.
    fn bound(
        &self,
        namespace: &str,
        name: &str,
        claim: &k8s::PersistentVolumeClaim,
    ) -> k8s::PersistentVolumeClaim {
        let mut claim = claim.clone();
        if claim
            .status
            .as_ref()
            .and_then(|s| s.phase.as_ref())
            .is_some()
        {
            return claim;
        }
        let spec = claim.spec.get_or_insert_with(Default::default);
        let named = spec
            .volume_name
            .clone()
            .filter(|v| self.volumes.contains_key(v));
        let volume = named.or_else(|| {
            self.volumes.iter().find_map(|(pv_name, pv)| {
                let by = pv.spec.as_ref()?.claim_ref.as_ref()?;
                let by_ns = by.namespace.as_deref().unwrap_or("default");
                (by.name.as_deref() == Some(name) && by_ns == namespace).then(|| pv_name.clone())
            })
        });
        if let Some(volume) = volume {
            spec.volume_name = Some(volume);
            claim.status = Some(k8s::PersistentVolumeClaimStatus {
                phase: Some("Bound".to_owned()),
                ..Default::default()
            });
        }
        claim
    }

    /// Translates every workload, offline: a container with `args` and no `command` keeps
    /// its args as the command, with a warning (its image's ENTRYPOINT is not read).
    #[must_use]
    pub fn translate(&self, node: &NodeOptions) -> Vec<WorkloadResult> {
        self.translate_with_images(node, &[])
    }

    /// Translates every workload with the image configs read for it: `images[i]` belongs to
    /// `self.workloads[i]` (missing entries translate offline, as [`Manifests::translate`]).
    #[must_use]
    pub fn translate_with_images(
        &self,
        node: &NodeOptions,
        images: &[ResolvedImages],
    ) -> Vec<WorkloadResult> {
        let offline = ResolvedImages::new();
        self.workloads
            .iter()
            .enumerate()
            .map(|(i, workload)| {
                let outcome = if workload.kind == "DaemonSet" {
                    Outcome::NeverScheduled(DAEMONSET_REASON)
                } else {
                    let objects = self.objects_in(&workload.namespace);
                    let resolved = images.get(i).unwrap_or(&offline);
                    match translate_pod_with_images(&workload.pod, &objects, node, resolved) {
                        Ok(t) => Outcome::Runs(Box::new(t)),
                        Err(e) => Outcome::CannotRun(e),
                    }
                };
                WorkloadResult {
                    workload: workload.clone(),
                    outcome,
                }
            })
            .collect()
    }
}

fn namespace_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// Deserializes a document (errors carry line and column); when that fails only because of
/// YAML 1.1 octal file modes (`defaultMode: 0400`, which kubectl accepts and YAML 1.2 reads
/// as a string), retries with the modes converted.
fn typed_object<T: DeserializeOwned>(
    document: serde_yaml::Deserializer<'_>,
    value: &serde_yaml::Value,
) -> Result<T, serde_yaml::Error> {
    match T::deserialize(document) {
        Ok(object) => Ok(object),
        Err(error) => {
            let mut value = value.clone();
            if octal_modes_to_numbers(&mut value) {
                serde_yaml::from_value(value).map_err(|_| error)
            } else {
                Err(error)
            }
        }
    }
}

/// Converts `mode`/`defaultMode` strings like `0400` to numbers; `true` when any changed.
fn octal_modes_to_numbers(value: &mut serde_yaml::Value) -> bool {
    let mut changed = false;
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (key, value) in map.iter_mut() {
                let is_mode = matches!(key.as_str(), Some("mode" | "defaultMode"));
                if is_mode
                    && let Some(text) = value.as_str()
                    && text.len() > 1
                    && text.starts_with('0')
                    && let Ok(mode) = i64::from_str_radix(text, 8)
                {
                    *value = serde_yaml::Value::Number(mode.into());
                    changed = true;
                } else {
                    changed |= octal_modes_to_numbers(value);
                }
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for item in items {
                changed |= octal_modes_to_numbers(item);
            }
        }
        _ => {}
    }
    changed
}

// === the check report ===

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
            if e.field_errors().iter().any(|f| f.kind == crate::error::FieldErrorKind::MissingReference))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_yaml_should_name_the_document() {
        let mut m = Manifests::default();
        let err = m.add("x.yaml", "kind: Pod\n---\nkind: [\n").unwrap_err();
        let text = format!("{err}");
        assert!(text.contains("x.yaml: document 2"), "{text}");
    }

    #[test]
    fn invalid_object_should_name_kind_and_name() {
        let mut m = Manifests::default();
        let err = m
            .add(
                "x.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: [x]\n",
            )
            .unwrap_err();
        let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(text.contains("document 1 (Pod \"p\")"), "{text}");
        assert!(text.contains("line 7"), "{text}");
    }

    #[test]
    fn yaml_1_1_octal_modes_should_be_read_as_octal() {
        let mut m = Manifests::default();
        m.add(
            "x.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: x\n  volumes:\n  - name: s\n    secret:\n      secretName: s\n      defaultMode: 0400\n",
        )
        .unwrap();
        let volumes = m.workloads[0]
            .pod
            .spec
            .as_ref()
            .unwrap()
            .volumes
            .clone()
            .unwrap();
        assert_eq!(
            volumes[0].secret.as_ref().unwrap().default_mode,
            Some(0o400)
        );
    }

    #[test]
    fn empty_documents_and_other_kinds_should_be_skipped() {
        let mut m = Manifests::default();
        m.add(
            "x.yaml",
            "---\n# nothing\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
        )
        .unwrap();
        assert!(m.workloads.is_empty());
    }
}
