//! Command-line parsing of `vk-aci`: the subcommands, their flags and environment fallbacks.
//!
//! One [`Command`] variant per subcommand; `main.rs` runs each with its own function.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vk_translate::NodeOptions;
use vk_translate::container_group::OperatingSystemTypes;

/// A virtual kubelet for Azure Container Instances.
#[derive(Debug, Parser)]
#[command(name = "vk-aci", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the ARM request body of the container group of every Pod and pod template in
    /// the files (one JSON document per workload; warnings on stderr).
    Translate(TranslateArgs),
    /// Report, per workload in the files, whether it runs on ACI as is, with changes, or not
    /// at all, and why. Exits 1 when something cannot run.
    Check(CheckArgs),
}

/// Flags of `vk-aci translate`.
#[derive(Debug, Args)]
pub(crate) struct TranslateArgs {
    /// Kubernetes YAML files (multi-document); `-` reads stdin. Secrets and ConfigMaps in
    /// them resolve the workloads' references.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Print secret values instead of `<redacted>`.
    #[arg(long)]
    pub(crate) show_secrets: bool,
    /// The virtual node the pods would run on.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// Flags of `vk-aci check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Kubernetes YAML files (multi-document); `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// The virtual node the pods would run on.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// The virtual node's settings that shape a container group (upstream's names as env
/// fallbacks).
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// Azure region of the container groups.
    #[arg(long, env = "ACI_REGION", default_value = "westus")]
    pub(crate) region: String,
    /// Name of the virtual node.
    #[arg(
        long = "nodename",
        env = "VK_NODE_NAME",
        default_value = "vk-aci-test-aks"
    )]
    pub(crate) node_name: String,
    /// OS of the virtual node (a pod's own `kubernetes.io/os` wins).
    #[arg(long, value_enum, default_value = "linux")]
    pub(crate) os: Os,
    /// ARM ID of a subnet: the groups get private IPs there (repeatable).
    #[arg(long = "subnet-id", value_name = "ID")]
    pub(crate) subnet_ids: Vec<String>,
    /// Cluster DNS server for ClusterFirst pods (reachable from the groups).
    #[arg(long, env = "KUBE_DNS_IP")]
    pub(crate) cluster_dns: Option<String>,
    /// Cluster domain.
    #[arg(long, default_value = "cluster.local")]
    pub(crate) cluster_domain: String,
}

/// Operating systems of a virtual node.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Os {
    /// Linux groups.
    Linux,
    /// Windows groups.
    Windows,
}

// === impl NodeArgs ===

impl NodeArgs {
    /// The translator's node options.
    pub(crate) fn to_options(&self) -> NodeOptions {
        let os = match self.os {
            Os::Linux => OperatingSystemTypes::Linux,
            Os::Windows => OperatingSystemTypes::Windows,
        };
        let mut node = NodeOptions::default()
            .region(&self.region)
            .node_name(&self.node_name)
            .os_type(os)
            .cluster_domain(&self.cluster_domain);
        if !self.subnet_ids.is_empty() {
            node = node.private_ip(self.subnet_ids.iter().cloned());
        }
        if let Some(dns) = &self.cluster_dns {
            node = node.cluster_dns(dns);
        }
        node
    }
}

/// Parses the command line; exits 2 with usage on bad flags (0 for `--help`/`--version`).
pub(crate) fn parse() -> Cli {
    Cli::parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn cli_definition_should_be_consistent() {
        Cli::command().debug_assert();
    }
}
