//! The upstream provider's credential files (`AZURE_AUTH_LOCATION`'s `credentials.json`,
//! `AKS_CREDENTIAL_LOCATION`'s `azure.json`) and how they are read: UTF-8 or UTF-16, the
//! chart's `MISSING` placeholder counting as absent.
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::error::CredentialError;

/// `AZURE_AUTH_LOCATION`'s JSON file (the upstream chart's `credentials.json`).
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthFile {
    /// Service principal client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Service principal secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Subscription.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// Tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// A user-assigned managed identity's client id.
    #[serde(default)]
    pub user_identity_client_id: Option<String>,
}

impl fmt::Debug for AuthFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFile")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("subscription_id", &self.subscription_id)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

/// AKS's `azure.json` (`AKS_CREDENTIAL_LOCATION`).
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AksCredentialFile {
    /// `AzurePublicCloud`, `AzureUSGovernmentCloud` or `AzureChinaCloud`.
    #[serde(default)]
    pub cloud: String,
    /// Tenant.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Subscription.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// Client id; `msi` (any case) means none.
    #[serde(default)]
    pub aad_client_id: Option<String>,
    /// Client secret.
    #[serde(default)]
    pub aad_client_secret: Option<String>,
    /// The resource group for container groups.
    #[serde(default)]
    pub resource_group: Option<String>,
    /// The region.
    #[serde(default)]
    pub location: Option<String>,
    /// The cluster's VNet (VNet mode, when `ACI_VNET_NAME` is unset).
    #[serde(default)]
    pub vnet_name: Option<String>,
    /// The VNet's resource group (when `ACI_VNET_RESOURCE_GROUP` is unset).
    #[serde(default)]
    pub vnet_resource_group: Option<String>,
    /// A user-assigned managed identity's client id.
    #[serde(default, rename = "userAssignedIdentityID")]
    pub user_assigned_identity_id: Option<String>,
}

impl fmt::Debug for AksCredentialFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AksCredentialFile")
            .field("cloud", &self.cloud)
            .field("aad_client_id", &self.aad_client_id)
            .field("resource_group", &self.resource_group)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

pub(super) fn parse_json_file<T: serde::de::DeserializeOwned>(
    path: &str,
) -> Result<T, CredentialError> {
    let path = PathBuf::from(path);
    let bytes = std::fs::read(&path).map_err(|source| CredentialError::File {
        path: path.clone(),
        source,
    })?;
    let text = decode_text(&bytes).ok_or_else(|| CredentialError::File {
        path: path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not utf-8 or utf-16"),
    })?;
    serde_json::from_str(&text).map_err(|e| CredentialError::File {
        path,
        // The parser's message names line and column, never the secret values.
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    })
}

/// UTF-8 (optionally with a BOM), or UTF-16 LE/BE with a BOM, as the upstream file reader
/// accepts.
#[must_use]
pub fn decode_text(bytes: &[u8]) -> Option<String> {
    let utf16 = |chunks: &mut dyn Iterator<Item = u16>| {
        String::from_utf16(&chunks.collect::<Vec<_>>()).ok()
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8(rest.to_vec()).ok(),
        [0xFF, 0xFE, rest @ ..] => utf16(
            &mut rest
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]])),
        ),
        [0xFE, 0xFF, rest @ ..] => utf16(
            &mut rest
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        ),
        _ => String::from_utf8(bytes.to_vec()).ok(),
    }
}

/// A value from a credential file: empty and the chart's `MISSING` placeholder count as
/// absent.
pub(super) fn present(value: Option<&String>) -> Option<String> {
    value
        .filter(|v| !v.is_empty() && v.as_str() != "MISSING")
        .cloned()
}
