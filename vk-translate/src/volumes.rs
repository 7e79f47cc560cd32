//! Pod volumes to ACI volumes, and container volume mounts.
//!
//! ACI has four volume kinds: emptyDir, secret (files given inline, base64), gitRepo and
//! azureFile. Secrets, ConfigMaps, projected and downward API volumes all become ACI secret
//! volumes holding the files the kubelet would write; inline azureFile and
//! `file.csi.azure.com` CSI volumes become azureFile volumes, and so do claims bound to
//! Azure Files persistent volumes ([`crate::claims`]). Everything else is an error.

use k8s_openapi::api::core::v1 as k8s;

use crate::azure_file::{azure_file_volume, csi_volume};
use crate::claims::claim_volume;
use crate::container_group::{GitRepoVolume, Volume, VolumeMount};
use crate::error::Findings;
use crate::pod_context::PodContext;
use crate::volume_files::{
    config_map_volume, downward_api_volume, empty_dir, projected_volume, secret_volume,
};

/// Most volumes in one group (aci-spec README).
pub const MAX_VOLUMES: usize = 20;

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

/// One pod volume in ACI form; `None` (and a finding) when ACI cannot mount it.
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
            name: name.to_owned(),
            git_repo: Some(GitRepoVolume {
                directory: git.directory.clone().filter(|d| !d.is_empty()),
                repository: git.repository.clone(),
                revision: git.revision.clone().filter(|r| !r.is_empty()),
            }),
            ..Volume::default()
        });
    }
    if let Some(source) = &volume.secret {
        return Some(secret_volume(ctx, name, source, field, findings));
    }
    if let Some(source) = &volume.config_map {
        return Some(config_map_volume(ctx, name, source, field, findings));
    }
    if let Some(source) = &volume.downward_api {
        return Some(downward_api_volume(ctx, name, source, field, findings));
    }
    if let Some(source) = &volume.projected {
        return Some(projected_volume(ctx, name, source, field, findings));
    }
    if let Some(source) = &volume.azure_file {
        return azure_file_volume(ctx, name, source, field, findings);
    }
    if let Some(csi) = &volume.csi {
        return csi_volume(ctx, name, csi, field, findings);
    }
    if let Some(claim) = &volume.persistent_volume_claim {
        return claim_volume(ctx, name, claim, field, findings);
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
