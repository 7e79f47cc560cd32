//! ACI secret volumes holding the files the kubelet would write: Secret, ConfigMap,
//! downward API and projected volumes (with service account tokens) all become one.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::Volume;
use crate::downward::{self, DownwardProblem};
use crate::error::Findings;
use crate::pod_context::{PodContext, secret_bytes};

/// A `secret` volume.
pub(crate) fn secret_volume(
    ctx: &PodContext<'_>,
    name: &str,
    source: &k8s::SecretVolumeSource,
    field: &str,
    findings: &mut Findings,
) -> Volume {
    let mut files = Files::default();
    let secret_name = source.secret_name.clone().unwrap_or_default();
    files.add_secret(
        ctx,
        &secret_name,
        source.items.as_deref(),
        source.optional == Some(true),
        &format!("{field}.secret"),
        findings,
    );
    warn_mode(
        source.default_mode,
        &format!("{field}.secret.defaultMode"),
        findings,
    );
    files.into_volume(name)
}

/// A `configMap` volume.
pub(crate) fn config_map_volume(
    ctx: &PodContext<'_>,
    name: &str,
    source: &k8s::ConfigMapVolumeSource,
    field: &str,
    findings: &mut Findings,
) -> Volume {
    let mut files = Files::default();
    files.add_config_map(
        ctx,
        &source.name,
        source.items.as_deref(),
        source.optional == Some(true),
        &format!("{field}.configMap"),
        findings,
    );
    warn_mode(
        source.default_mode,
        &format!("{field}.configMap.defaultMode"),
        findings,
    );
    files.into_volume(name)
}

/// A `downwardAPI` volume.
pub(crate) fn downward_api_volume(
    ctx: &PodContext<'_>,
    name: &str,
    source: &k8s::DownwardAPIVolumeSource,
    field: &str,
    findings: &mut Findings,
) -> Volume {
    let mut files = Files::default();
    files.add_downward(
        ctx,
        source.items.as_deref().unwrap_or_default(),
        &format!("{field}.downwardAPI"),
        findings,
    );
    files.into_volume(name)
}

/// A `projected` volume: every source's files in one volume.
pub(crate) fn projected_volume(
    ctx: &PodContext<'_>,
    name: &str,
    source: &k8s::ProjectedVolumeSource,
    field: &str,
    findings: &mut Findings,
) -> Volume {
    let mut files = Files::default();
    for (j, projection) in source.sources.iter().flatten().enumerate() {
        let field = format!("{field}.projected.sources[{j}]");
        if let Some(s) = &projection.secret {
            files.add_secret(
                ctx,
                &s.name,
                s.items.as_deref(),
                s.optional == Some(true),
                &format!("{field}.secret"),
                findings,
            );
        } else if let Some(c) = &projection.config_map {
            files.add_config_map(
                ctx,
                &c.name,
                c.items.as_deref(),
                c.optional == Some(true),
                &format!("{field}.configMap"),
                findings,
            );
        } else if let Some(d) = &projection.downward_api {
            files.add_downward(
                ctx,
                d.items.as_deref().unwrap_or_default(),
                &format!("{field}.downwardAPI"),
                findings,
            );
        } else if let Some(token) = &projection.service_account_token {
            let key = format!("{name}/{}", token.path);
            match ctx.objects.service_account_tokens.get(&key) {
                Some(value) => files.add(
                    &token.path,
                    value.as_bytes(),
                    &format!("{field}.serviceAccountToken.path"),
                    findings,
                ),
                None => findings.missing(
                    format!("{field}.serviceAccountToken"),
                    format!("no service account token was provided for {key:?}"),
                ),
            }
        } else if projection.cluster_trust_bundle.is_some() {
            findings.unsupported(
                format!("{field}.clusterTrustBundle"),
                "cluster trust bundles are not resolved for ACI",
            );
        } else if projection.pod_certificate.is_some() {
            findings.unsupported(
                format!("{field}.podCertificate"),
                "pod certificates are issued by the kubelet's node identity, which ACI does not have",
            );
        } else {
            findings.invalid(field, "the projection has no source");
        }
    }
    warn_mode(
        source.default_mode,
        &format!("{field}.projected.defaultMode"),
        findings,
    );
    files.into_volume(name)
}

/// An `emptyDir` volume (also what a missing optional source mounts).
pub(crate) fn empty_dir(name: &str) -> Volume {
    Volume {
        empty_dir: Some(serde_json::Value::Object(serde_json::Map::new())),
        ..named(name)
    }
}

fn named(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        ..Volume::default()
    }
}

fn warn_mode(mode: Option<i32>, field: &str, findings: &mut Findings) {
    if mode.is_some_and(|m| m != 0o644) {
        findings.warn(field, "ACI sets the mode of secret volume files: ignored");
    }
}

/// A Secret or ConfigMap a volume takes files from.
struct Source<'a> {
    /// `secret "x"` or `config map "x"`, for messages.
    what: String,
    field: &'a str,
    optional: bool,
}

/// Files of an ACI secret volume, file name -> base64 content.
#[derive(Default)]
struct Files {
    files: BTreeMap<String, String>,
}

impl Files {
    fn into_volume(self, name: &str) -> Volume {
        if self.files.is_empty() {
            // An optional source that is missing: the kubelet mounts an empty directory.
            empty_dir(name)
        } else {
            Volume {
                secret: Some(self.files),
                ..named(name)
            }
        }
    }

    fn add(&mut self, path: &str, content: &[u8], field: &str, findings: &mut Findings) {
        if path.is_empty() || path.contains('/') || path == "." || path == ".." {
            findings.unsupported(
                field,
                format!("ACI secret volumes hold files at their top level only, not {path:?}"),
            );
            return;
        }
        self.files.insert(
            path.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(content),
        );
    }

    /// Adds `items` (or every key) of a source; `lookup` gives a key's content.
    fn add_items(
        &mut self,
        all_keys: Vec<String>,
        lookup: &dyn Fn(&str) -> Option<Vec<u8>>,
        items: Option<&[k8s::KeyToPath]>,
        source: &Source<'_>,
        findings: &mut Findings,
    ) {
        match items {
            Some(items) if !items.is_empty() => {
                for (k, item) in items.iter().enumerate() {
                    let field = source.field;
                    if item.mode.is_some() {
                        warn_mode(item.mode, &format!("{field}.items[{k}].mode"), findings);
                    }
                    match lookup(&item.key) {
                        Some(content) => self.add(
                            &item.path,
                            &content,
                            &format!("{field}.items[{k}].path"),
                            findings,
                        ),
                        None if source.optional => {}
                        None => findings.missing(
                            format!("{}.items[{k}].key", source.field),
                            format!("{} has no key {:?}", source.what, item.key),
                        ),
                    }
                }
            }
            _ => {
                for key in all_keys {
                    if let Some(content) = lookup(&key) {
                        self.add(&key, &content, source.field, findings);
                    }
                }
            }
        }
    }

    fn add_secret(
        &mut self,
        ctx: &PodContext<'_>,
        secret_name: &str,
        items: Option<&[k8s::KeyToPath]>,
        optional: bool,
        field: &str,
        findings: &mut Findings,
    ) {
        let Some(secret) = ctx.objects.secrets.get(secret_name) else {
            if !optional {
                findings.missing(field, format!("secret {secret_name:?} not found"));
            }
            return;
        };
        let keys: BTreeSet<String> = secret
            .data
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .chain(secret.string_data.iter().flatten().map(|(k, _)| k.clone()))
            .collect();
        self.add_items(
            keys.into_iter().collect(),
            &|key| secret_bytes(secret, key),
            items,
            &Source {
                what: format!("secret {secret_name:?}"),
                field,
                optional,
            },
            findings,
        );
    }

    fn add_config_map(
        &mut self,
        ctx: &PodContext<'_>,
        map_name: &str,
        items: Option<&[k8s::KeyToPath]>,
        optional: bool,
        field: &str,
        findings: &mut Findings,
    ) {
        let Some(map) = ctx.objects.config_maps.get(map_name) else {
            if !optional {
                findings.missing(field, format!("config map {map_name:?} not found"));
            }
            return;
        };
        let lookup = |key: &str| {
            map.data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|v| v.clone().into_bytes())
                .or_else(|| {
                    map.binary_data
                        .as_ref()
                        .and_then(|d| d.get(key))
                        .map(|b| b.0.clone())
                })
        };
        let keys = map
            .data
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .chain(map.binary_data.iter().flatten().map(|(k, _)| k.clone()))
            .collect();
        self.add_items(
            keys,
            &lookup,
            items,
            &Source {
                what: format!("config map {map_name:?}"),
                field,
                optional,
            },
            findings,
        );
    }

    fn add_downward(
        &mut self,
        ctx: &PodContext<'_>,
        items: &[k8s::DownwardAPIVolumeFile],
        field: &str,
        findings: &mut Findings,
    ) {
        for (k, item) in items.iter().enumerate() {
            let field = format!("{field}.items[{k}]");
            let value = if let Some(selector) = &item.field_ref {
                downward::field_value(ctx, &selector.field_path, true)
            } else if let Some(selector) = &item.resource_field_ref {
                downward::resource_value(ctx, selector, "")
            } else {
                findings.invalid(
                    &*field,
                    "the item has neither fieldRef nor resourceFieldRef",
                );
                continue;
            };
            match value {
                Ok(value) => self.add(
                    &item.path,
                    value.as_bytes(),
                    &format!("{field}.path"),
                    findings,
                ),
                Err(DownwardProblem::NotYetKnown(message)) => findings.warn(field, message),
                Err(DownwardProblem::Invalid(message)) => findings.invalid(field, message),
            }
        }
    }
}
