//! Volumes and volume mounts.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::redaction::{REDACTED, redact};

/// A volume of the group (`Volume`). Exactly one source should be set. `Debug` shows the keys
/// of a secret volume, never its contents.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Volume name, referenced by volume mounts.
    pub name: String,
    /// An Azure Files share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_file: Option<AzureFileVolume>,
    /// An empty directory: an empty JSON object (`{}`) on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<serde_json::Value>,
    /// A secret volume: file name -> base64 content (secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<BTreeMap<String, String>>,
    /// A secret volume from Key Vault: file name -> secret reference name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_reference: Option<BTreeMap<String, String>>,
    /// A git repository cloned into the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_repo: Option<GitRepoVolume>,
}

impl fmt::Debug for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = self.secret.as_ref().map(|files| {
            files
                .keys()
                .map(|key| (key, REDACTED))
                .collect::<BTreeMap<_, _>>()
        });
        f.debug_struct("Volume")
            .field("name", &self.name)
            .field("azure_file", &self.azure_file)
            .field("empty_dir", &self.empty_dir)
            .field("secret", &secret)
            .field("secret_reference", &self.secret_reference)
            .field("git_repo", &self.git_repo)
            .finish()
    }
}

/// An Azure Files share (`AzureFileVolume`). `Debug` redacts the storage account key.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AzureFileVolume {
    /// Share name.
    pub share_name: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Storage account name.
    pub storage_account_name: String,
    /// Storage account key (secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_account_key: Option<String>,
    /// Name of a secret reference holding the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_account_key_reference: Option<String>,
}

impl fmt::Debug for AzureFileVolume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureFileVolume")
            .field("share_name", &self.share_name)
            .field("read_only", &self.read_only)
            .field("storage_account_name", &self.storage_account_name)
            .field(
                "storage_account_key",
                &redact(self.storage_account_key.as_ref()),
            )
            .field(
                "storage_account_key_reference",
                &self.storage_account_key_reference,
            )
            .finish()
    }
}

/// A git repository volume (`GitRepoVolume`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepoVolume {
    /// Target directory (`.` clones into the volume root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// Repository URL.
    pub repository: String,
    /// Commit hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// A volume mounted into a container (`VolumeMount`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    /// Name of the volume.
    pub name: String,
    /// Mount path in the container.
    pub mount_path: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}
