//! Secret values in a container group, and hiding them for printing.
//!
//! A translated group holds secrets in these places only: `secureValue` of environment
//! variables, secret volume files, registry passwords, storage account keys, the Log
//! Analytics workspace key and extensions' protected settings (the kube-proxy kubeconfig).

use crate::container_group::ContainerGroup;

/// What a secret value is replaced with by [`redact_secrets`].
pub const REDACTED: &str = "<redacted>";

/// Replaces every secret value of `group` with [`REDACTED`], for printing or snapshots.
pub fn redact_secrets(group: &mut ContainerGroup) {
    let redact = |value: &mut Option<String>| {
        if value.is_some() {
            *value = Some(REDACTED.to_owned());
        }
    };
    let properties = &mut group.properties;
    for container in &mut properties.containers {
        for var in &mut container.properties.environment_variables {
            redact(&mut var.secure_value);
        }
    }
    for container in &mut properties.init_containers {
        for var in &mut container.properties.environment_variables {
            redact(&mut var.secure_value);
        }
    }
    for credential in &mut properties.image_registry_credentials {
        redact(&mut credential.password);
    }
    for volume in &mut properties.volumes {
        for content in volume
            .secret
            .iter_mut()
            .flat_map(|files| files.values_mut())
        {
            REDACTED.clone_into(content);
        }
        if let Some(file) = &mut volume.azure_file {
            redact(&mut file.storage_account_key);
        }
    }
    if let Some(log) = properties
        .diagnostics
        .as_mut()
        .and_then(|d| d.log_analytics.as_mut())
    {
        redact(&mut log.workspace_key);
    }
    for extension in &mut properties.extensions {
        if let Some(p) = extension.properties.as_mut()
            && p.protected_settings.is_some()
        {
            // Keep the keys (`kubeConfig`) so a reader sees what is there, hide the values.
            p.protected_settings = Some(match p.protected_settings.take() {
                Some(serde_json::Value::Object(map)) => serde_json::Value::Object(
                    map.into_iter()
                        .map(|(k, _)| (k, serde_json::Value::String(REDACTED.to_owned())))
                        .collect(),
                ),
                _ => serde_json::Value::String(REDACTED.to_owned()),
            });
        }
    }
}
