//! Command-line parsing of `vk-aci`: the subcommands, their flags and environment fallbacks.
//!
//! One [`Command`] variant per subcommand; `main.rs` runs each with its own function.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vk_translate::NodeOptions;
use vk_translate::container_group::OperatingSystemTypes;

#[cfg(feature = "local")]
use crate::emulator_cmd::EmulatorArgs;
#[cfg(feature = "local")]
use crate::local_cmd::LocalArgs;
use crate::run_args::RunArgs;

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
    /// Run the virtual node: register it in the cluster and run its pods as ACI container
    /// groups. Accepts every flag and environment variable of the upstream azure-aci
    /// `virtual-kubelet`. Exits 2 on bad configuration, before anything starts.
    Run(Box<RunArgs>),
    /// Run the whole product locally: a stand-in API server, the ACI emulator and a virtual
    /// node in one process; prints the kubectl commands to try. Runs until Ctrl-C.
    #[cfg(feature = "local")]
    Local(LocalArgs),
    /// Run the ACI emulator (ARM container group API on loopback) until Ctrl-C.
    #[cfg(feature = "local")]
    Emulator(EmulatorArgs),
    /// Not in this build: it was built without the `local` feature (hidden; says so when
    /// run).
    #[cfg(not(feature = "local"))]
    #[command(hide = true, disable_help_flag = true)]
    Local(NotBuilt),
    /// Not in this build: it was built without the `local` feature (hidden; says so when
    /// run).
    #[cfg(not(feature = "local"))]
    #[command(hide = true, disable_help_flag = true)]
    Emulator(NotBuilt),
}

/// The arguments of a subcommand this build does not have, whatever they are: the command
/// then explains itself instead of failing on its flags.
#[cfg(not(feature = "local"))]
#[derive(Debug, Args)]
pub(crate) struct NotBuilt {
    /// Anything.
    #[arg(num_args = 0.., allow_hyphen_values = true, trailing_var_arg = true, hide = true)]
    pub(crate) args: Vec<String>,
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
    /// Image registries (offline unless asked).
    #[command(flatten)]
    pub(crate) images: ImageArgs,
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
    /// Image registries (offline unless asked).
    #[command(flatten)]
    pub(crate) images: ImageArgs,
}

/// Whether `translate`/`check` read images' ENTRYPOINT and CMD from their registries.
#[derive(Debug, Args)]
pub(crate) struct ImageArgs {
    /// Read the ENTRYPOINT (and CMD) of the images of containers that have `args` and no
    /// `command`, as `vk-aci run` does, with the pull secrets found in the files. Without
    /// it nothing leaves the machine and such containers get a warning.
    #[arg(long)]
    pub(crate) resolve_images: bool,
    /// A registry (`host:port`) spoken to over plain HTTP, e.g. a local mirror. Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST:PORT")]
    pub(crate) insecure_registries: Vec<String>,
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
    /// With --subnet-id: add the kube-proxy extension reaching the API server here (as
    /// `vk-aci run` does in VNet mode). Its kubeconfig carries a placeholder token: `run`
    /// puts the node's credentials there.
    #[arg(long, value_name = "URI")]
    pub(crate) master_uri: Option<String>,
    /// Cluster CIDR of the kube-proxy extension.
    #[arg(long, default_value = vk_translate::extensions::DEFAULT_CLUSTER_CIDR)]
    pub(crate) cluster_cidr: String,
    /// With --subnet-id: add the realtime metrics extension.
    #[arg(long)]
    pub(crate) enable_real_time_metrics: bool,
}

/// The token `translate`/`check` put in the kube-proxy kubeconfig (the real one is the
/// node's, known only to `vk-aci run`).
const PLACEHOLDER_TOKEN: &str = "<the node's service account token>";

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
        if let Some(master_uri) = &self.master_uri {
            let credentials = vk_translate::ClusterCredentials {
                ca_pem: Vec::new(),
                token: Some(PLACEHOLDER_TOKEN.to_owned()),
                client_certificate_pem: None,
                client_key_pem: None,
            };
            node = node.kube_proxy(vk_translate::KubeProxyOptions::new(
                &self.cluster_cidr,
                master_uri,
                &credentials,
            ));
        }
        node.realtime_metrics(self.enable_real_time_metrics)
    }
}

/// `vk-aci run ARGS` parsed, for unit tests of the run configuration.
#[cfg(test)]
pub(crate) fn run_args(args: &[&str]) -> RunArgs {
    let mut argv = vec!["vk-aci", "run"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv).expect("test flags parse").command {
        Command::Run(run) => *run,
        _ => unreachable!("`run` parses as Command::Run"),
    }
}

/// Parses the command line; exits 2 with usage on bad flags (0 for `--help`/`--version`).
/// Returns the `--klog.*` flags that were dropped (logged once logging is up).
pub(crate) fn parse() -> (Cli, Vec<String>) {
    let (args, ignored) = normalize(std::env::args_os().map(|a| a.to_string_lossy().into_owned()));
    (Cli::parse_from(args), ignored)
}

/// Upstream compatibility on the raw arguments: invoked as `virtual-kubelet`, the
/// arguments are those of `vk-aci run`; `--klog.*` flags (with their value) are dropped.
pub(crate) fn normalize(args: impl IntoIterator<Item = String>) -> (Vec<String>, Vec<String>) {
    let mut args = args.into_iter();
    let argv0 = args.next().unwrap_or_else(|| "vk-aci".to_owned());
    let invoked_as_upstream = std::path::Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n == "virtual-kubelet");
    let mut out = vec![argv0];
    let mut ignored = Vec::new();
    let rest: Vec<String> = args.collect();
    if invoked_as_upstream
        && !rest.first().is_some_and(|a| {
            matches!(
                a.as_str(),
                "run" | "help" | "--help" | "-h" | "--version" | "-V"
            )
        })
    {
        out.push("run".to_owned());
    }
    let mut i = 0;
    while i < rest.len() {
        let arg = &rest[i];
        if arg.starts_with("--klog.") || arg.starts_with("-klog.") {
            ignored.push(arg.clone());
            // `--klog.v 2`: the value goes too (booleans are written `--klog.x=true`).
            if !arg.contains('=')
                && rest.get(i + 1).is_some_and(|next| !next.starts_with('-'))
                && !arg.ends_with("logtostderr")
                && !arg.ends_with("alsologtostderr")
                && !arg.ends_with("add_dir_header")
                && !arg.ends_with("skip_headers")
                && !arg.ends_with("skip_log_headers")
                && !arg.ends_with("one_output")
            {
                i += 1;
                ignored.push(rest[i].clone());
            }
        } else {
            out.push(arg.clone());
        }
        i += 1;
    }
    (out, ignored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn parse(args: &[&str]) -> Cli {
        let (args, _) = normalize(args.iter().map(|s| (*s).to_owned()));
        Cli::try_parse_from(args).unwrap()
    }

    #[test]
    fn the_upstream_chart_arguments_should_parse_as_run() {
        let cli = parse(&[
            "/usr/local/bin/virtual-kubelet",
            "--disable-taint",
            "true",
            "--provider",
            "azure",
            "--namespace",
            "",
            "--nodename",
            "virtual-node-aci-linux-helm",
            "--log-level",
            "debug",
            "--trace-exporter",
            "ocagent",
            "--trace-sample-rate",
            "0.5",
            "--trace-service-name",
            "vk",
            "--authentication-token-webhook=true",
            "--client-verify-ca",
            "/etc/kubernetes/certs/ca.crt",
            "--no-verify-clients=false",
            "--os",
            "Linux",
            "--klog.v",
            "4",
            "--klog.logtostderr",
            "--enable-node-lease",
        ]);
        let Command::Run(run) = cli.command else {
            panic!("virtual-kubelet means run");
        };
        assert!(run.disable_taint);
        assert!(run.authentication_token_webhook);
        assert!(!run.no_verify_clients);
        assert_eq!(run.nodename, "virtual-node-aci-linux-helm");
        assert_eq!(run.log.log_level, "debug");
        assert!(run.stray.is_empty());
    }

    #[test]
    fn rotate_server_certificates_should_be_an_opt_in_flag() {
        let Command::Run(run) = parse(&["vk-aci", "run"]).command else {
            panic!("run");
        };
        assert!(!run.rotate_server_certificates);
        let Command::Run(run) = parse(&["vk-aci", "run", "--rotate-server-certificates"]).command
        else {
            panic!("run");
        };
        assert!(run.rotate_server_certificates);
    }

    #[test]
    fn a_stray_true_after_a_flag_value_should_be_tolerated() {
        let cli = parse(&["vk-aci", "run", "--os", "Linux", "true"]);
        let Command::Run(run) = cli.command else {
            panic!("run");
        };
        assert_eq!(run.stray, ["true"]);
    }

    #[test]
    fn klog_flags_should_be_dropped_with_their_values() {
        let (args, ignored) = normalize(
            [
                "vk-aci",
                "run",
                "--klog.v",
                "2",
                "--klog.logtostderr",
                "--nodename",
                "n",
            ]
            .map(str::to_owned),
        );
        assert_eq!(args, ["vk-aci", "run", "--nodename", "n"]);
        assert_eq!(ignored, ["--klog.v", "2", "--klog.logtostderr"]);
    }

    #[test]
    fn cli_definition_should_be_consistent() {
        Cli::command().debug_assert();
    }

    #[cfg(not(feature = "local"))]
    #[test]
    fn without_the_local_feature_local_and_emulator_should_parse_with_any_flags_and_stay_hidden() {
        for argv in [
            &["vk-aci", "local"][..],
            &["vk-aci", "local", "--kubeconfig", "x", "--help"],
            &["vk-aci", "emulator", "--listen", "127.0.0.1:1"],
        ] {
            let command = parse(argv).command;
            assert!(
                matches!(command, Command::Local(_) | Command::Emulator(_)),
                "{argv:?}: {command:?}"
            );
        }
        let help = Cli::command().render_help().to_string();
        assert!(
            !help.contains("local") && !help.contains("emulator"),
            "{help}"
        );
    }
}
