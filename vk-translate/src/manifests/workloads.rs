//! The workloads and referenced objects read from manifests, and their translations.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::error::ManifestError;
use super::yaml::{typed_object, yaml_values};
use crate::claims::volume_secret_key;
use crate::error::TranslateError;
use crate::images::ResolvedImages;
use crate::node::NodeOptions;
use crate::pod::{ReferencedObjects, Translation, translate_pod_with_images};

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
        let values = yaml_values(origin, text)?;
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
            let Some(typed_document) = typed.get_mut(i).and_then(Option::take) else {
                return Err(ManifestError::NoKind {
                    origin: format!("{origin} ({kind})"),
                    document,
                });
            };
            let origin_of = Origin {
                file: origin.to_owned(),
                document,
            };
            self.add_object(kind, &name, origin_of, typed_document, value)
                .map_err(|source| ManifestError::Object {
                    origin: origin.to_owned(),
                    document,
                    kind: kind.to_owned(),
                    name,
                    source,
                })?;
        }
        Ok(())
    }

    /// Adds one object of `kind` (other kinds are ignored) read from `document`.
    fn add_object(
        &mut self,
        kind: &str,
        name: &str,
        origin: Origin,
        document: serde_yaml::Deserializer<'_>,
        value: &serde_yaml::Value,
    ) -> Result<(), serde_yaml::Error> {
        match kind {
            "Secret" => {
                let secret: k8s::Secret = typed_object(document, value)?;
                let ns = namespace_of(&secret.metadata);
                self.secrets.insert((ns, name.to_owned()), secret);
            }
            "ConfigMap" => {
                let map: k8s::ConfigMap = typed_object(document, value)?;
                let ns = namespace_of(&map.metadata);
                self.config_maps.insert((ns, name.to_owned()), map);
            }
            "PersistentVolumeClaim" => {
                let claim: k8s::PersistentVolumeClaim = typed_object(document, value)?;
                let ns = namespace_of(&claim.metadata);
                self.claims.insert((ns, name.to_owned()), claim);
            }
            "PersistentVolume" => {
                let volume: k8s::PersistentVolume = typed_object(document, value)?;
                self.volumes.insert(name.to_owned(), volume);
            }
            "Pod" => {
                let pod: k8s::Pod = typed_object(document, value)?;
                self.push(origin, kind, pod.metadata.clone(), pod);
            }
            "Deployment" => {
                let d: apps::Deployment = typed_object(document, value)?;
                let template = Some(d.spec.template);
                self.push_template(origin, kind, &d.metadata, template, None);
            }
            "ReplicaSet" => {
                let r: apps::ReplicaSet = typed_object(document, value)?;
                let template = r.spec.template;
                self.push_template(origin, kind, &r.metadata, template, None);
            }
            "StatefulSet" => {
                let s: apps::StatefulSet = typed_object(document, value)?;
                let claims = s.spec.volume_claim_templates.unwrap_or_default();
                let template = Some(s.spec.template);
                self.push_template(origin, kind, &s.metadata, template, Some(claims));
            }
            "DaemonSet" => {
                let d: apps::DaemonSet = typed_object(document, value)?;
                let template = Some(d.spec.template);
                self.push_template(origin, kind, &d.metadata, template, None);
            }
            "Job" => {
                let j: batch::Job = typed_object(document, value)?;
                let template = j.spec.map(|s| s.template);
                self.push_template(origin, kind, &j.metadata, template, None);
            }
            "CronJob" => {
                let c: batch::CronJob = typed_object(document, value)?;
                let template = c.spec.job_template.spec.map(|s| s.template);
                self.push_template(origin, kind, &c.metadata, template, None);
            }
            "ReplicationController" => {
                let r: k8s::ReplicationController = typed_object(document, value)?;
                let template = r.spec.and_then(|s| s.template);
                self.push_template(origin, kind, &r.metadata, template, None);
            }
            _ => {}
        }
        Ok(())
    }

    fn push(&mut self, origin: Origin, kind: &str, metadata: ObjectMeta, mut pod: k8s::Pod) {
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
        metadata: &ObjectMeta,
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
                .map(|((ns, name), s)| (volume_secret_key(ns, name), s.clone()))
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

fn namespace_of(meta: &ObjectMeta) -> String {
    meta.namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}
