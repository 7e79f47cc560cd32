//! Access tokens for ARM: which credential to use (a pure decision from the environment and
//! the upstream provider's credential files) and a cache that refreshes before expiry.
//!
//! Selection follows the upstream provider (`AZURE_AUTH_LOCATION`, then
//! `AKS_CREDENTIAL_LOCATION` replacing everything, then non-empty `AZURE_*` variables) and,
//! past that, the Azure SDKs' environment order: client secret, workload identity
//! (`AZURE_FEDERATED_TOKEN_FILE`), managed identity (optionally user-assigned). The SDKs'
//! `AZURE_TOKEN_CREDENTIALS` variable picks one credential by name (`dev` or
//! `AzureCliCredential` selects the Azure CLI). A static token is for the emulator and tests.
mod cloud;
mod error;
mod files;
mod selection;
mod tokens;

pub use cloud::Cloud;
pub use error::CredentialError;
pub use files::{AksCredentialFile, AuthFile, decode_text};
pub use selection::{AzureSettings, CredentialChoice, CredentialInputs, ENV_VARS, choose};
pub use tokens::{ArmCredential, REFRESH_BEFORE_EXPIRY, TOKEN_TIMEOUT};

/// Read the environment and credential files, choose, and build the credential: what a
/// binary calls at start-up.
///
/// # Errors
/// Unreadable files, no usable credential, or settings the identity library rejects.
pub fn from_environment() -> Result<(AzureSettings, ArmCredential), CredentialError> {
    let settings = choose(&CredentialInputs::from_env()?)?;
    let credential = ArmCredential::from_settings(&settings)?;
    Ok((settings, credential))
}

#[cfg(test)]
mod tests;
