//! Azure Files shares, the one network volume ACI mounts: inline `azureFile` volumes and
//! `file.csi.azure.com` CSI volumes here, claims bound to Azure Files persistent volumes in
//! [`crate::claims`]. The storage account key comes from a Secret and only ever goes to
//! `storageAccountKey`.

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::{AzureFileVolume, Volume};
use crate::error::Findings;
use crate::pod_context::{PodContext, secret_bytes};

/// The Azure Files CSI driver whose inline volumes ACI can mount.
pub(crate) const AZURE_FILE_CSI_DRIVER: &str = "file.csi.azure.com";
/// Secret key holding the storage account name (Kubernetes azureFile convention).
pub(crate) const STORAGE_ACCOUNT_NAME_KEY: &str = "azurestorageaccountname";
/// Secret key holding the storage account key (Kubernetes azureFile convention).
pub(crate) const STORAGE_ACCOUNT_KEY_KEY: &str = "azurestorageaccountkey";

/// An inline `azureFile` volume.
pub(crate) fn azure_file_volume(
    ctx: &PodContext<'_>,
    name: &str,
    source: &k8s::AzureFileVolumeSource,
    field: &str,
    findings: &mut Findings,
) -> Option<Volume> {
    azure_file(
        ctx,
        name,
        &source.secret_name,
        &source.share_name,
        source.read_only,
        &format!("{field}.azureFile"),
        findings,
    )
}

/// An inline `csi` volume of the Azure Files driver (any other driver is refused).
pub(crate) fn csi_volume(
    ctx: &PodContext<'_>,
    name: &str,
    csi: &k8s::CSIVolumeSource,
    field: &str,
    findings: &mut Findings,
) -> Option<Volume> {
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
    azure_file(
        ctx,
        name,
        &secret_name,
        share,
        csi.read_only,
        &field,
        findings,
    )
}

/// The volume of `share`, with the account name and key from Secret `secret_name`.
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
        name: name.to_owned(),
        azure_file: Some(AzureFileVolume {
            share_name: share.to_owned(),
            read_only,
            storage_account_name: account?.trim().to_owned(),
            storage_account_key: Some(key?.trim().to_owned()),
            storage_account_key_reference: None,
        }),
        ..Volume::default()
    })
}
