//! Pod volumes to ACI volumes, and container volume mounts.
//!
//! ACI has four volume kinds: emptyDir, secret (files given inline, base64), gitRepo and
//! azureFile. Secrets, ConfigMaps, projected and downward API volumes all become ACI secret
//! volumes holding the files the kubelet would write; inline azureFile and
//! `file.csi.azure.com` CSI volumes become azureFile volumes, and so do claims bound to
//! Azure Files persistent volumes ([`crate::claims`]). Everything else is an error.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{AzureFileVolume, GitRepoVolume, Volume, VolumeMount};
use crate::downward::{self, DownwardProblem};
use crate::error::Findings;
use crate::pod_context::{PodContext, secret_bytes};

/// Most volumes in one group (aci-spec README).
pub const MAX_VOLUMES: usize = 20;
/// The Azure Files CSI driver whose inline volumes ACI can mount.
pub const AZURE_FILE_CSI_DRIVER: &str = "file.csi.azure.com";
/// Secret key holding the storage account name (Kubernetes azureFile convention).
pub const STORAGE_ACCOUNT_NAME_KEY: &str = "azurestorageaccountname";
/// Secret key holding the storage account key (Kubernetes azureFile convention).
pub const STORAGE_ACCOUNT_KEY_KEY: &str = "azurestorageaccountkey";

/// The pod's volumes in ACI form, in pod order.
pub(crate) fn volumes(ctx: &PodContext<'_>, findings: &mut Findings) -> Vec<Volume> {
    let mut out = Vec::new();
    for (i, volume) in ctx.spec.volumes.iter().flatten().enumerate() {
        let field = format!("spec.volumes[{i}]");
        if let Some(v) = volume_of(ctx, volume, &field, findings) {
            out.push(v);
        }
    }
    if out.len() > MAX_VOLUMES {
        findings.over_limit(
            "spec.volumes",
            format!(
                "the pod has {} volumes; an ACI group has at most {MAX_VOLUMES}",
                out.len()
            ),
        );
    }
    out
}

fn named(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        ..Volume::default()
    }
}

fn volume_of(
    ctx: &PodContext<'_>,
    volume: &k8s::Volume,
    field: &str,
    findings: &mut Findings,
) -> Option<Volume> {
    let name = volume.name.as_str();
    if let Some(empty) = &volume.empty_dir {
        if empty.medium.as_deref() == Some("Memory") {
            findings.warn(
                format!("{field}.emptyDir.medium"),
                "ACI emptyDir volumes are disk-backed: the volume is not in memory",
            );
        }
        if empty.size_limit.is_some() {
            findings.warn(
                format!("{field}.emptyDir.sizeLimit"),
                "ACI does not limit emptyDir size: ignored",
            );
        }
        return Some(empty_dir(name));
    }
    if let Some(git) = &volume.git_repo {
        return Some(Volume {
            git_repo: Some(GitRepoVolume {
                directory: git.directory.clone().filter(|d| !d.is_empty()),
                repository: git.repository.clone(),
                revision: git.revision.clone().filter(|r| !r.is_empty()),
            }),
            ..named(name)
        });
    }
    if let Some(source) = &volume.secret {
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
        return Some(files.into_volume(name));
    }
    if let Some(source) = &volume.config_map {
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
        return Some(files.into_volume(name));
    }
    if let Some(source) = &volume.downward_api {
        let mut files = Files::default();
        files.add_downward(
            ctx,
            source.items.as_deref().unwrap_or_default(),
            &format!("{field}.downwardAPI"),
            findings,
        );
        return Some(files.into_volume(name));
    }
    if let Some(source) = &volume.projected {
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
        return Some(files.into_volume(name));
    }
    if let Some(source) = &volume.azure_file {
        let read_only = source.read_only;
        return azure_file(
            ctx,
            name,
            &source.secret_name,
            &source.share_name,
            read_only,
            &format!("{field}.azureFile"),
            findings,
        );
    }
    if let Some(csi) = &volume.csi {
        let field = format!("{field}.csi");
        if csi.driver != AZURE_FILE_CSI_DRIVER {
            findings.unsupported(
                format!("{field}.driver"),
                format!(
                    "ACI mounts inline CSI volumes of {AZURE_FILE_CSI_DRIVER} only, not {:?}",
                    csi.driver
                ),
            );
            return None;
        }
        let attributes = csi.volume_attributes.clone().unwrap_or_default();
        let secret_name = attributes
            .get("secretName")
            .cloned()
            .or_else(|| csi.node_publish_secret_ref.as_ref().map(|r| r.name.clone()));
        let Some(secret_name) = secret_name else {
            findings.invalid(
                format!("{field}.volumeAttributes"),
                "secretName is required: ACI needs the storage account key",
            );
            return None;
        };
        let Some(share) = attributes
            .get("shareName")
            .or_else(|| attributes.get("sharename"))
        else {
            findings.invalid(format!("{field}.volumeAttributes"), "shareName is required");
            return None;
        };
        if attributes.contains_key("mountOptions") {
            findings.warn(
                format!("{field}.volumeAttributes.mountOptions"),
                "ACI chooses the mount options: ignored",
            );
        }
        return azure_file(
            ctx,
            name,
            &secret_name,
            share,
            csi.read_only,
            &field,
            findings,
        );
    }
    if let Some(claim) = &volume.persistent_volume_claim {
        return crate::claims::claim_volume(ctx, name, claim, field, findings);
    }
    let kind = volume_kind(volume);
    let why = match kind.as_str() {
        "hostPath" => "a container group has no host to mount paths from",
        "ephemeral" => "ACI cannot provision ephemeral volume claims",
        "image" => "ACI cannot mount images as volumes",
        _ => {
            "ACI has no such volume kind (emptyDir, secret, configMap, projected, downwardAPI, gitRepo and Azure Files are supported)"
        }
    };
    findings.unsupported(format!("{field}.{kind}"), why);
    None
}

/// The name of the volume source set on `volume` (`hostPath`, `nfs`, ...).
fn volume_kind(volume: &k8s::Volume) -> String {
    serde_json::to_value(volume)
        .ok()
        .and_then(|v| {
            v.as_object()
                .and_then(|o| o.keys().find(|k| k.as_str() != "name").cloned())
        })
        .unwrap_or_else(|| "source".to_owned())
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        empty_dir: Some(serde_json::Value::Object(serde_json::Map::new())),
        ..named(name)
    }
}

fn warn_mode(mode: Option<i32>, field: &str, findings: &mut Findings) {
    if mode.is_some_and(|m| m != 0o644) {
        findings.warn(field, "ACI sets the mode of secret volume files: ignored");
    }
}

fn azure_file(
    ctx: &PodContext<'_>,
    name: &str,
    secret_name: &str,
    share: &str,
    read_only: Option<bool>,
    field: &str,
    findings: &mut Findings,
) -> Option<Volume> {
    let Some(secret) = ctx.objects.secrets.get(secret_name) else {
        findings.missing(field, format!("secret {secret_name:?} not found"));
        return None;
    };
    let text = |key: &str, findings: &mut Findings| {
        let value = secret_bytes(secret, key).and_then(|b| String::from_utf8(b).ok());
        if value.is_none() {
            findings.missing(
                field,
                format!("secret {secret_name:?} has no text key {key:?}"),
            );
        }
        value
    };
    let account = text(STORAGE_ACCOUNT_NAME_KEY, findings);
    let key = text(STORAGE_ACCOUNT_KEY_KEY, findings);
    Some(Volume {
        azure_file: Some(AzureFileVolume {
            share_name: share.to_owned(),
            read_only,
            storage_account_name: account?.trim().to_owned(),
            storage_account_key: Some(key?.trim().to_owned()),
            storage_account_key_reference: None,
        }),
        ..named(name)
    })
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
        let keys: std::collections::BTreeSet<String> = secret
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

/// A container's volume mounts.
pub(crate) fn volume_mounts(
    ctx: &PodContext<'_>,
    container: &k8s::Container,
    volumes: &[Volume],
    field: &str,
    findings: &mut Findings,
) -> Vec<VolumeMount> {
    if container
        .volume_devices
        .as_ref()
        .is_some_and(|d| !d.is_empty())
    {
        findings.unsupported(format!("{field}.volumeDevices"), "ACI has no block devices");
    }
    let mut out = Vec::new();
    for (i, mount) in container.volume_mounts.iter().flatten().enumerate() {
        let field = format!("{field}.volumeMounts[{i}]");
        let declared = ctx
            .spec
            .volumes
            .iter()
            .flatten()
            .any(|v| v.name == mount.name);
        if !declared {
            findings.invalid(
                format!("{field}.name"),
                format!("no volume named {:?} in spec.volumes", mount.name),
            );
            continue;
        }
        if !volumes.iter().any(|v| v.name == mount.name) {
            // The volume itself was reported.
            continue;
        }
        if mount.sub_path.as_deref().is_some_and(|p| !p.is_empty())
            || mount
                .sub_path_expr
                .as_deref()
                .is_some_and(|p| !p.is_empty())
        {
            findings.unsupported(
                format!("{field}.subPath"),
                "ACI mounts whole volumes only: sub-paths are not supported",
            );
            continue;
        }
        if mount
            .mount_propagation
            .as_deref()
            .is_some_and(|p| p != "None")
        {
            findings.warn(
                format!("{field}.mountPropagation"),
                "ACI has no mount propagation: ignored",
            );
        }
        if mount
            .recursive_read_only
            .as_deref()
            .is_some_and(|p| p != "Disabled")
        {
            findings.warn(
                format!("{field}.recursiveReadOnly"),
                "ACI has no recursive read-only mounts: ignored",
            );
        }
        out.push(VolumeMount {
            name: mount.name.clone(),
            mount_path: mount.mount_path.clone(),
            read_only: mount.read_only.filter(|r| *r),
        });
    }
    out
}
