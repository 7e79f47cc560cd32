//! `--provider-config`: upstream's TOML provider file (`pkg/provider/config.go`), read as
//! defaults under the flags and environment variables.
//!
//! Keys: `ResourceGroup`, `Region`, `OperatingSystem`, `CPU`, `Memory`, `Pods`,
//! `SubnetName`, `SubnetCIDR` (matched without regard to case, as Go's TOML decoder does).
//!
//! Precedence follows upstream's, where the file was loaded first and the environment
//! (`ACI_RESOURCE_GROUP`, `ACI_REGION`, `ACI_QUOTA_*`, `ACI_SUBNET_*`) then replaced what
//! it set: flag or environment variable, then the file, then azure.json and the built-in
//! defaults. Two differences, both on the safe side: a key upstream does not know is an
//! error naming it (upstream ignored it silently, so a typo such as `ResourceGoup` would
//! have put the groups in another resource group), and a file without `CPU`/`Memory`/`Pods`
//! keeps today's capacity defaults (10000 / 4Ti / 5000), not the old file path's 20 /
//! 100Gi / 20.

use std::path::Path;

use crate::error::BadInput;
use crate::run_args::RunArgs;

/// The settings the file can hold.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ProviderConfig {
    pub(crate) resource_group: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) operating_system: Option<String>,
    pub(crate) cpu: Option<String>,
    pub(crate) memory: Option<String>,
    pub(crate) pods: Option<String>,
    pub(crate) subnet_name: Option<String>,
    pub(crate) subnet_cidr: Option<String>,
}

/// Reads and checks the file.
pub(crate) fn load(path: &Path) -> Result<ProviderConfig, BadInput> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("--provider-config {}: {e}", path.display())))?;
    parse(&text).map_err(|e| BadInput(format!("--provider-config {}: {e}", path.display())))
}

/// Parses the TOML text; an unknown key or a value of the wrong type is an error.
pub(crate) fn parse(text: &str) -> Result<ProviderConfig, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_owned())?;
    let mut config = ProviderConfig::default();
    for (key, value) in table {
        let number_ok = matches!(key.to_ascii_lowercase().as_str(), "cpu" | "memory" | "pods");
        let text = match &value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) if number_ok => n.to_string(),
            other => {
                return Err(format!(
                    "{key}: expected a string, found a {}",
                    other.type_str()
                ));
            }
        };
        let slot = match key.to_ascii_lowercase().as_str() {
            "resourcegroup" => &mut config.resource_group,
            "region" => &mut config.region,
            "operatingsystem" => &mut config.operating_system,
            "cpu" => &mut config.cpu,
            "memory" => &mut config.memory,
            "pods" => &mut config.pods,
            "subnetname" => &mut config.subnet_name,
            "subnetcidr" => &mut config.subnet_cidr,
            _ => {
                return Err(format!(
                    "unknown key {key:?} (known: ResourceGroup, Region, OperatingSystem, CPU, Memory, Pods, SubnetName, SubnetCIDR)"
                ));
            }
        };
        if !text.trim().is_empty() {
            *slot = Some(text.trim().to_owned());
        }
    }
    if let Some(os) = &config.operating_system
        && !matches!(os.to_ascii_lowercase().as_str(), "linux" | "windows")
    {
        return Err(format!("OperatingSystem {os:?}: expected Linux or Windows"));
    }
    Ok(config)
}

// === impl ProviderConfig ===

impl ProviderConfig {
    /// Fill what neither a flag nor an environment variable set.
    pub(crate) fn apply_defaults(self, args: &mut RunArgs) {
        let fill = |slot: &mut Option<String>, value: Option<String>| {
            if slot.as_ref().is_none_or(|s| s.trim().is_empty()) && value.is_some() {
                *slot = value;
            }
        };
        fill(&mut args.resource_group, self.resource_group);
        fill(&mut args.region, self.region);
        fill(&mut args.os, self.operating_system);
        fill(&mut args.quota_cpu, self.cpu);
        fill(&mut args.quota_memory, self.memory);
        fill(&mut args.quota_pod, self.pods);
        fill(&mut args.subnet_name, self.subnet_name);
        fill(&mut args.subnet_cidr, self.subnet_cidr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::run_args;

    const UPSTREAM: &str = r#"
ResourceGroup = "file-rg"
Region = "West Europe"
OperatingSystem = "Windows"
CPU = "20"
Memory = "100Gi"
Pods = 20
SubnetName = "file-subnet"
SubnetCIDR = "10.241.0.0/16"
"#;

    #[test]
    fn every_upstream_key_should_parse() {
        let config = parse(UPSTREAM).unwrap();
        assert_eq!(config.resource_group.as_deref(), Some("file-rg"));
        assert_eq!(config.region.as_deref(), Some("West Europe"));
        assert_eq!(config.operating_system.as_deref(), Some("Windows"));
        assert_eq!(config.pods.as_deref(), Some("20"));
        assert_eq!(config.subnet_cidr.as_deref(), Some("10.241.0.0/16"));
    }

    #[test]
    fn keys_should_match_without_regard_to_case_like_go() {
        let config = parse("resourcegroup = \"rg\"\nSUBNETNAME = \"s\"").unwrap();
        assert_eq!(config.resource_group.as_deref(), Some("rg"));
        assert_eq!(config.subnet_name.as_deref(), Some("s"));
    }

    #[test]
    fn an_unknown_key_should_be_an_error_naming_it() {
        let err = parse("ResourceGoup = \"rg\"").unwrap_err();
        assert!(err.contains("ResourceGoup"), "{err}");
    }

    #[test]
    fn bad_values_should_be_errors() {
        assert!(parse("Region = 3").unwrap_err().contains("Region"));
        assert!(
            parse("OperatingSystem = \"Plan9\"")
                .unwrap_err()
                .contains("Plan9")
        );
        assert!(parse("Region = ").is_err());
    }

    #[test]
    fn flags_should_win_over_the_file_and_the_file_over_defaults() {
        let mut args = run_args(&["--resource-group", "flag-rg", "--os", "Linux"]);
        parse(UPSTREAM).unwrap().apply_defaults(&mut args);
        assert_eq!(args.resource_group.as_deref(), Some("flag-rg"));
        assert_eq!(args.os.as_deref(), Some("Linux"));
        assert_eq!(args.region.as_deref(), Some("West Europe"));
        assert_eq!(args.quota_memory.as_deref(), Some("100Gi"));
        assert_eq!(args.subnet_name.as_deref(), Some("file-subnet"));
    }

    #[test]
    fn the_file_should_be_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("provider.toml");
        std::fs::write(&path, "Region = \"westus\"").unwrap();
        assert_eq!(load(&path).unwrap().region.as_deref(), Some("westus"));
        let err = load(&dir.path().join("missing.toml")).unwrap_err();
        assert!(err.0.contains("--provider-config"), "{err}");
    }
}
