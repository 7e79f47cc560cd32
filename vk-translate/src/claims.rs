//! PersistentVolumeClaims backed by Azure Files, to ACI `azureFile` volumes.
//!
//! A `persistentVolumeClaim` volume needs its claim, Bound, and the claim's PersistentVolume
//! (both passed in [`ReferencedObjects`]). ACI mounts Azure Files SMB shares only, so the PV
//! must be an in-tree `azureFile` volume or a `file.csi.azure.com` CSI volume (static, or
//! provisioned by the AKS driver): the share and account come from `volumeAttributes`
//! (`shareName`, `storageAccount`) or the `volumeHandle` (`{resource group}#{account}#{share}#...`),
//! the key from the Secret the PV names (`nodeStageSecretRef`, the `secretName` attribute, or
//! the in-tree `secretName`), else the driver's default Secret
//! `azure-storage-account-{account}-secret`. The key only ever goes to `storageAccountKey`.
//!
//! A claim that is not Bound yet is a [`FieldErrorKind::NotReady`](crate::FieldErrorKind)
//! error: the pod waits. Any other PV kind is refused, naming the PV.
//!
//! The runtime resolves what this module reads with [`claim_names`] and [`volume_secret`].

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1 as k8s;

use crate::azure_file::{AZURE_FILE_CSI_DRIVER, STORAGE_ACCOUNT_KEY_KEY, STORAGE_ACCOUNT_NAME_KEY};
use crate::container_group::{AzureFileVolume, Volume};
use crate::error::Findings;
use crate::pod_context::{PodContext, ReferencedObjects, secret_bytes};

/// The claim phase of a claim bound to a volume.
const BOUND: &str = "Bound";
/// `ReadOnlyMany` access mode.
const READ_ONLY_MANY: &str = "ReadOnlyMany";

/// The names of the claims the pod's volumes use (in the pod's namespace).
#[must_use]
pub fn claim_names(pod: &k8s::Pod) -> BTreeSet<String> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.clone())
        .collect()
}

/// The Secret (`(namespace, name)`) holding the storage key of an Azure Files PV used by a
/// pod of `namespace`; `None` for PVs of other kinds.
#[must_use]
pub fn volume_secret(pv: &k8s::PersistentVolume, namespace: &str) -> Option<(String, String)> {
    let spec = pv.spec.as_ref()?;
    if let Some(source) = &spec.azure_file {
        let ns = source
            .secret_namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| namespace.to_owned());
        return Some((ns, source.secret_name.clone()));
    }
    let csi = spec
        .csi
        .as_ref()
        .filter(|c| c.driver == AZURE_FILE_CSI_DRIVER)?;
    if let Some(secret) = &csi.node_stage_secret_ref
        && let Some(name) = secret.name.as_ref().filter(|n| !n.is_empty())
    {
        let ns = secret
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| namespace.to_owned());
        return Some((ns, name.clone()));
    }
    let attributes = csi.volume_attributes.clone().unwrap_or_default();
    let ns = attribute(&attributes, &["secretNamespace", "secretnamespace"])
        .unwrap_or(namespace)
        .to_owned();
    if let Some(name) = attribute(&attributes, &["secretName", "secretname"]) {
        return Some((ns, name.to_owned()));
    }
    let account = csi_share(csi).1?;
    Some((ns, format!("azure-storage-account-{account}-secret")))
}

/// The key a Secret of another namespace has in [`ReferencedObjects::volume_secrets`].
#[must_use]
pub fn volume_secret_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn attribute<'a>(
    attributes: &'a std::collections::BTreeMap<String, String>,
    names: &[&str],
) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| attributes.get(*n))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Share and account of a CSI PV, from its attributes or its handle.
fn csi_share(csi: &k8s::CSIPersistentVolumeSource) -> (Option<String>, Option<String>) {
    let attributes = csi.volume_attributes.clone().unwrap_or_default();
    let handle: Vec<&str> = csi.volume_handle.split('#').collect();
    let from_handle = |i: usize| {
        handle
            .get(i)
            .filter(|s| !s.is_empty() && handle.len() >= 3)
            .map(|s| (*s).to_owned())
    };
    let share = attribute(&attributes, &["shareName", "sharename"])
        .map(str::to_owned)
        .or_else(|| from_handle(2));
    let account = attribute(&attributes, &["storageAccount", "storageaccount"])
        .map(str::to_owned)
        .or_else(|| from_handle(1));
    (share, account)
}

impl ReferencedObjects {
    fn volume_secret_of(
        &self,
        namespace: &str,
        name: &str,
        pod_namespace: &str,
    ) -> Option<&k8s::Secret> {
        self.volume_secrets
            .get(&volume_secret_key(namespace, name))
            .or_else(|| {
                (namespace == pod_namespace)
                    .then(|| self.secrets.get(name))
                    .flatten()
            })
    }
}

/// The ACI volume of a `persistentVolumeClaim` pod volume.
pub(crate) fn claim_volume(
    ctx: &PodContext<'_>,
    name: &str,
    source: &k8s::PersistentVolumeClaimVolumeSource,
    field: &str,
    findings: &mut Findings,
) -> Option<Volume> {
    let field = format!("{field}.persistentVolumeClaim");
    let BoundVolume {
        claim,
        name: volume_name,
        pv,
        spec,
    } = bound_volume(ctx, &source.claim_name, &field, findings)?;
    let only_read_only_many = |modes: Option<&Vec<String>>| {
        modes.is_some_and(|m| !m.is_empty() && m.iter().all(|a| a == READ_ONLY_MANY))
    };
    let mut read_only = source.read_only == Some(true)
        || only_read_only_many(spec.access_modes.as_ref())
        || only_read_only_many(claim.spec.as_ref().and_then(|s| s.access_modes.as_ref()));
    let (share, account) = azure_files_share(spec, volume_name, &mut read_only, &field, findings)?;
    let namespace = ctx.namespace();
    let Some(share) = share.filter(|s| !s.is_empty()) else {
        findings.invalid(
            &*field,
            format!("persistentvolume {volume_name:?} names no share (shareName attribute or volumeHandle)"),
        );
        return None;
    };
    let Some((secret_ns, secret_name)) = volume_secret(pv, namespace) else {
        findings.invalid(
            &*field,
            format!(
                "persistentvolume {volume_name:?} names no storage key secret and no storage account to find the driver's default secret"
            ),
        );
        return None;
    };
    let Some(secret) = ctx
        .objects
        .volume_secret_of(&secret_ns, &secret_name, namespace)
    else {
        findings.missing(
            &*field,
            format!(
                "secret {secret_ns}/{secret_name} (the storage key of persistentvolume {volume_name:?}) not found"
            ),
        );
        return None;
    };
    let text = |key: &str| {
        secret_bytes(secret, key)
            .and_then(|b| String::from_utf8(b).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let Some(key) = text(STORAGE_ACCOUNT_KEY_KEY) else {
        findings.missing(
            &*field,
            format!("secret {secret_ns}/{secret_name} has no text key {STORAGE_ACCOUNT_KEY_KEY:?}"),
        );
        return None;
    };
    let Some(account) = account.or_else(|| text(STORAGE_ACCOUNT_NAME_KEY)) else {
        findings.missing(
            &*field,
            format!(
                "persistentvolume {volume_name:?} names no storage account and secret {secret_ns}/{secret_name} has no key {STORAGE_ACCOUNT_NAME_KEY:?}"
            ),
        );
        return None;
    };
    Some(Volume {
        name: name.to_owned(),
        azure_file: Some(AzureFileVolume {
            share_name: share,
            read_only: read_only.then_some(true),
            storage_account_name: account,
            storage_account_key: Some(key),
            storage_account_key_reference: None,
        }),
        ..Volume::default()
    })
}

/// A claim and the PersistentVolume it is bound to.
struct BoundVolume<'a> {
    claim: &'a k8s::PersistentVolumeClaim,
    /// The PersistentVolume's name.
    name: &'a str,
    pv: &'a k8s::PersistentVolume,
    /// The PersistentVolume's spec.
    spec: &'a k8s::PersistentVolumeSpec,
}

/// The claim `claim_name` and the PersistentVolume it is bound to; `None` (and a finding)
/// while it is not bound, or when ACI cannot mount the volume (a block device).
fn bound_volume<'a>(
    ctx: &PodContext<'a>,
    claim_name: &str,
    field: &str,
    findings: &mut Findings,
) -> Option<BoundVolume<'a>> {
    let Some(claim) = ctx.objects.persistent_volume_claims.get(claim_name) else {
        findings.missing(
            field,
            format!("persistentvolumeclaim {claim_name:?} not found"),
        );
        return None;
    };
    let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
    let volume_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .filter(|n| !n.is_empty());
    let volume_name = match (phase, volume_name) {
        (Some(BOUND), Some(volume)) => volume,
        (Some("Lost"), _) => {
            findings.invalid(
                field,
                format!("persistentvolumeclaim {claim_name:?} lost its volume (phase Lost)"),
            );
            return None;
        }
        (phase, _) => {
            findings.not_ready(
                field,
                format!(
                    "persistentvolumeclaim {claim_name:?} is not bound yet (phase {}): the pod waits until it is",
                    phase.unwrap_or("Pending")
                ),
            );
            return None;
        }
    };
    let Some(pv) = ctx.objects.persistent_volumes.get(volume_name) else {
        findings.missing(
            field,
            format!("persistentvolume {volume_name:?} (bound to claim {claim_name:?}) not found"),
        );
        return None;
    };
    let Some(spec) = pv.spec.as_ref() else {
        findings.invalid(
            field,
            format!("persistentvolume {volume_name:?} has no spec"),
        );
        return None;
    };
    if spec.volume_mode.as_deref() == Some("Block") {
        findings.unsupported(
            field,
            format!(
                "persistentvolume {volume_name:?} is a block device; ACI mounts file shares only"
            ),
        );
        return None;
    }
    Some(BoundVolume {
        claim,
        name: volume_name,
        pv,
        spec,
    })
}

/// Share and storage account (when the PV names it) of an Azure Files PV; `read_only` is
/// set when the PV mounts read-only. `None` (and a finding) for any other kind of PV.
fn azure_files_share(
    spec: &k8s::PersistentVolumeSpec,
    volume_name: &str,
    read_only: &mut bool,
    field: &str,
    findings: &mut Findings,
) -> Option<(Option<String>, Option<String>)> {
    let share = if let Some(azure) = &spec.azure_file {
        *read_only |= azure.read_only == Some(true);
        (Some(azure.share_name.clone()), None)
    } else if let Some(csi) = spec
        .csi
        .as_ref()
        .filter(|c| c.driver == AZURE_FILE_CSI_DRIVER)
    {
        *read_only |= csi.read_only == Some(true);
        let attributes = csi.volume_attributes.clone().unwrap_or_default();
        if let Some(protocol) = attribute(&attributes, &["protocol"])
            && !protocol.eq_ignore_ascii_case("smb")
        {
            findings.unsupported(
                field,
                format!(
                    "persistentvolume {volume_name:?} is an Azure Files {protocol} share; ACI mounts SMB shares only"
                ),
            );
            return None;
        }
        if attributes.contains_key("mountOptions") || spec.mount_options.is_some() {
            findings.warn(
                field,
                format!("persistentvolume {volume_name:?}: ACI chooses the mount options: ignored"),
            );
        }
        csi_share(csi)
    } else {
        let kind = pv_kind(spec);
        let why = match kind.as_str() {
            "csi" => format!(
                "ACI mounts CSI volumes of {AZURE_FILE_CSI_DRIVER} only, not {:?}",
                spec.csi
                    .as_ref()
                    .map(|c| c.driver.as_str())
                    .unwrap_or_default()
            ),
            "azureDisk" => {
                "ACI cannot attach Azure disks; use an Azure Files storage class".to_owned()
            }
            "hostPath" | "local" => "a container group has no host to mount paths from".to_owned(),
            _ => format!("ACI mounts Azure Files shares only, not {kind} volumes"),
        };
        findings.unsupported(
            field,
            format!("persistentvolume {volume_name:?} is a {kind} volume: {why}"),
        );
        return None;
    };
    Some(share)
}

/// The name of the volume source of a PV (`azureDisk`, `nfs`, ...).
fn pv_kind(spec: &k8s::PersistentVolumeSpec) -> String {
    const NOT_SOURCES: [&str; 9] = [
        "accessModes",
        "capacity",
        "claimRef",
        "mountOptions",
        "nodeAffinity",
        "persistentVolumeReclaimPolicy",
        "storageClassName",
        "volumeMode",
        "volumeAttributesClassName",
    ];
    serde_json::to_value(spec)
        .ok()
        .and_then(|v| {
            v.as_object().and_then(|o| {
                o.keys()
                    .find(|k| !NOT_SOURCES.contains(&k.as_str()))
                    .cloned()
            })
        })
        .unwrap_or_else(|| "sourceless".to_owned())
}
