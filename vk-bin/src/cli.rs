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
    /// Run the virtual node: register it in the cluster and run its pods as ACI container
    /// groups. Accepts every flag and environment variable of the upstream azure-aci
    /// `virtual-kubelet`. Exits 2 on bad configuration, before anything starts.
    Run(Box<RunArgs>),
    /// Run the whole product locally: a stand-in API server, the ACI emulator and a virtual
    /// node in one process; prints the kubectl commands to try. Runs until Ctrl-C.
    Local(LocalArgs),
    /// Run the ACI emulator (ARM container group API on loopback) until Ctrl-C.
    Emulator(EmulatorArgs),
}

/// Logging flags shared by the long-running subcommands.
#[derive(Clone, Debug, Args)]
pub(crate) struct LogArgs {
    /// Log level (trace, debug, info, warn, error; upstream's `panic`/`fatal` mean error).
    /// `RUST_LOG` wins when set.
    #[arg(long, default_value = "info")]
    pub(crate) log_level: String,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "VK_LOG_FORMAT")]
    pub(crate) log_format: LogFormat,
}

/// Log output formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags of `vk-aci run` (and of `virtual-kubelet`). Names follow the upstream azure-aci
/// provider: its flags where it has flags, its environment variables as fallbacks.
#[derive(Clone, Debug, Args)]
#[command(after_help = AZURE_ENV_HELP)]
pub(crate) struct RunArgs {
    /// Node name (a StatefulSet passes the pod name: one node per replica).
    #[arg(long, default_value = "vk-aci-test-aks")]
    pub(crate) nodename: String,
    /// Node operating system: Linux or Windows (any case) [default: Linux, or
    /// `OperatingSystem` of --provider-config].
    #[arg(long)]
    pub(crate) os: Option<String>,
    /// Kubeconfig path; else ~/.kube/config, else the in-cluster service account.
    #[arg(long, env = "KUBECONFIG")]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Resource group of the container groups (else `resourceGroup` of azure.json).
    #[arg(long, env = "ACI_RESOURCE_GROUP")]
    pub(crate) resource_group: Option<String>,
    /// Region of the container groups (else `location` of azure.json).
    #[arg(long, env = "ACI_REGION")]
    pub(crate) region: Option<String>,
    /// ARM endpoint, e.g. the emulator's URL (`vk-aci emulator`); default: the credential's
    /// cloud. With this flag a fixed token is sent and no Azure login happens.
    #[arg(long, env = "ACI_ENDPOINT")]
    pub(crate) aci_endpoint: Option<url::Url>,
    /// ARM api-version of the container group calls.
    #[arg(long, env = "ACI_API_VERSION", default_value = vk_aci::arm::DEFAULT_API_VERSION)]
    pub(crate) api_version: String,
    /// Kubelet API port, also advertised in the Node.
    #[arg(long, env = "KUBELET_PORT", default_value_t = 10250)]
    pub(crate) kubelet_port: u16,
    /// Kubelet API serving certificate (PEM); self-signed when unset.
    #[arg(long, env = "APISERVER_CERT_LOCATION")]
    pub(crate) tls_cert_file: Option<PathBuf>,
    /// Kubelet API serving key (PEM).
    #[arg(long, env = "APISERVER_KEY_LOCATION")]
    pub(crate) tls_key_file: Option<PathBuf>,
    /// Request the kubelet API serving certificate from the cluster with a
    /// `kubernetes.io/kubelet-serving` CertificateSigningRequest and renew it before it
    /// expires (the kubelet's flag). Each request must be approved (`kubectl certificate
    /// approve csr-...`, named in the log); until the first is, TLS handshakes fail. Needs
    /// create/get/list/watch on certificatesigningrequests (kustomize component
    /// `deploy/kustomize/components/rotate-server-certificates`).
    #[arg(long, env = "VKUBELET_ROTATE_SERVER_CERTIFICATES", num_args = 0..=1, default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
    pub(crate) rotate_server_certificates: bool,
    /// CA bundle that signs the API server's kubelet client certificate.
    #[arg(long, env = "APISERVER_CA_CERT_LOCATION")]
    pub(crate) client_verify_ca: Option<PathBuf>,
    /// With a CA: do not ask clients for certificates.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
    pub(crate) no_verify_clients: bool,
    /// Accept bearer tokens, checked with TokenReview, and authorize every request (client
    /// certificates included) with SubjectAccessReview, as a kubelet with webhook
    /// authorization does. On by default (upstream's default was off: any certificate the
    /// CA signed, every node's included, could exec into every pod); `=false` turns it off
    /// with a warning at start.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "true", action = clap::ArgAction::Set)]
    pub(crate) authentication_token_webhook: bool,
    /// TokenReview cache TTL (0: the kubelet's 2m).
    #[arg(long, default_value = "0")]
    pub(crate) authentication_token_webhook_cache_ttl: String,
    /// Allowed SubjectAccessReview cache TTL (0: the kubelet's 5m).
    #[arg(long, default_value = "0")]
    pub(crate) authorization_webhook_cache_authorized_ttl: String,
    /// Denied SubjectAccessReview cache TTL (0: the kubelet's 30s).
    #[arg(long, default_value = "0")]
    pub(crate) authorization_webhook_cache_unauthorized_ttl: String,
    /// Node InternalIP: the address the API server dials for logs and exec.
    #[arg(long, env = "VKUBELET_POD_IP")]
    pub(crate) pod_ip: Option<String>,
    /// Taint key.
    #[arg(
        long,
        env = "VKUBELET_TAINT_KEY",
        default_value = "virtual-kubelet.io/provider"
    )]
    pub(crate) taint_key: String,
    /// Taint value.
    #[arg(long, env = "VKUBELET_TAINT_VALUE", default_value = "azure")]
    pub(crate) taint_value: String,
    /// Taint effect: NoSchedule, PreferNoSchedule or NoExecute.
    #[arg(long, env = "VKUBELET_TAINT_EFFECT", default_value = "NoSchedule")]
    pub(crate) taint_effect: String,
    /// Register the node without a taint (the chart's separate `true` is accepted).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
    pub(crate) disable_taint: bool,
    /// Deprecated upstream: the taint key (VKUBELET_TAINT_KEY wins).
    #[arg(long)]
    pub(crate) taint: Option<String>,
    /// Cluster DNS suffix.
    #[arg(long, default_value = "cluster.local")]
    pub(crate) cluster_domain: String,
    /// Give up if the node is not registered within this long (0: no limit), e.g. `2m`.
    #[arg(long, default_value = "0")]
    pub(crate) startup_timeout: String,
    /// Pods reconciled at once.
    #[arg(long, default_value_t = 50)]
    pub(crate) pod_sync_workers: usize,
    /// Full resync period (0: the runtime's 1m), e.g. `30s`.
    #[arg(long, default_value = "0")]
    pub(crate) full_resync_period: String,
    /// Liveness (/livez), readiness (/readyz) and Prometheus (/metrics) over plain HTTP;
    /// `off` serves none.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:10255")]
    pub(crate) metrics_addr: String,
    /// Namespace of the active-process Lease `vk-aci-<node>`.
    #[arg(long, env = "VK_LEASE_NAMESPACE", default_value = "kube-node-lease")]
    pub(crate) lease_namespace: String,
    /// Delegated subnet: VNet mode (private IPs, cluster DNS).
    #[arg(long, env = "ACI_SUBNET_NAME")]
    pub(crate) subnet_name: Option<String>,
    /// Subnet prefix, e.g. 10.241.0.0/16 (needs ACI_SUBNET_NAME): an existing subnet must
    /// have it; a missing subnet is created with it, delegated to ACI.
    #[arg(long, env = "ACI_SUBNET_CIDR")]
    pub(crate) subnet_cidr: Option<String>,
    /// VNet of the subnet (else `vnetName` of azure.json).
    #[arg(long, env = "ACI_VNET_NAME")]
    pub(crate) vnet_name: Option<String>,
    /// Resource group of the VNet (else azure.json, else the ACI resource group).
    #[arg(long, env = "ACI_VNET_RESOURCE_GROUP")]
    pub(crate) vnet_resource_group: Option<String>,
    /// Subscription of the VNet (else the credential's).
    #[arg(long, env = "ACI_VNET_SUBSCRIPTION_ID")]
    pub(crate) vnet_subscription_id: Option<String>,
    /// Cluster DNS server for ClusterFirst pods in VNet mode.
    #[arg(long, env = "KUBE_DNS_IP")]
    pub(crate) kube_dns_ip: Option<String>,
    /// API server address the groups' kube-proxy extension uses in VNet mode (`https://`
    /// added when missing). Default: 10.0.0.1 (upstream's).
    #[arg(long, env = "MASTER_URI")]
    pub(crate) master_uri: Option<String>,
    /// Cluster CIDR of the kube-proxy extension in VNet mode. Default: 10.240.0.0/16.
    #[arg(long, env = "CLUSTER_CIDR")]
    pub(crate) cluster_cidr: Option<String>,
    /// Service account directory (`ca.crt`, `namespace`): the CA the kube-proxy
    /// extension's kubeconfig trusts when the kubeconfig names none, and vk-aci's namespace.
    #[arg(long, env = "VK_SERVICE_ACCOUNT_DIR", default_value = vk_aci::provider::kube_proxy::SERVICE_ACCOUNT_DIR)]
    pub(crate) service_account_dir: PathBuf,
    /// ServiceAccount whose token the kube-proxy extension of VNet mode gets (requested
    /// through the TokenRequest API; never vk-aci's own token). deploy/ and the Helm chart
    /// create it with kube-proxy's permissions.
    #[arg(long, env = "KUBE_PROXY_SERVICE_ACCOUNT", default_value = vk_aci::provider::kube_proxy::DEFAULT_SERVICE_ACCOUNT)]
    pub(crate) kube_proxy_service_account: String,
    /// Namespace of that ServiceAccount. Default: vk-aci's own (the `namespace` file of
    /// the service account directory).
    #[arg(long, env = "KUBE_PROXY_NAMESPACE")]
    pub(crate) kube_proxy_namespace: Option<String>,
    /// Node CPU capacity [default: 10000].
    #[arg(long, env = "ACI_QUOTA_CPU")]
    pub(crate) quota_cpu: Option<String>,
    /// Node memory capacity [default: 4Ti].
    #[arg(long, env = "ACI_QUOTA_MEMORY")]
    pub(crate) quota_memory: Option<String>,
    /// Node pod capacity [default: 5000].
    #[arg(long, env = "ACI_QUOTA_POD")]
    pub(crate) quota_pod: Option<String>,
    /// Node `nvidia.com/gpu` capacity (none when unset).
    #[arg(long, env = "ACI_QUOTA_GPU")]
    pub(crate) quota_gpu: Option<String>,
    /// Log Analytics credentials file `{"workspaceID": .., "workspaceKey": ..}`.
    #[arg(long, env = "LOG_ANALYTICS_AUTH_LOCATION")]
    pub(crate) log_analytics_auth_location: Option<PathBuf>,
    /// Log Analytics workspace ID (with LOG_ANALYTICS_KEY, overrides the file).
    #[arg(long, env = "LOG_ANALYTICS_ID")]
    pub(crate) log_analytics_id: Option<String>,
    /// Log Analytics workspace key.
    #[arg(long, env = "LOG_ANALYTICS_KEY", hide_env_values = true)]
    pub(crate) log_analytics_key: Option<String>,
    /// The cluster's ARM ID (ContainerInsights log metadata).
    #[arg(long, env = "CLUSTER_RESOURCE_ID")]
    pub(crate) cluster_resource_id: Option<String>,
    /// This cluster's identity, tagged on its container groups and part of their names'
    /// hash, so clusters sharing a resource group never adopt, sweep or overwrite each
    /// other's groups. Default: `--cluster-resource-id`, else the UID of the `kube-system`
    /// namespace; `none`: no identity (upstream's names; groups are told apart by node
    /// name only).
    #[arg(long, env = "VK_CLUSTER_ID")]
    pub(crate) cluster_id: Option<String>,
    /// Appended to the User-Agent of ARM calls (the chart sets `helm-chart/...`).
    #[arg(long, env = "ACI_EXTRA_USER_AGENT")]
    pub(crate) extra_user_agent: Option<String>,
    /// `true`: add the realtime metrics extension to Linux groups in VNet mode.
    #[arg(long, env = "ENABLE_REAL_TIME_METRICS")]
    pub(crate) enable_real_time_metrics: Option<String>,
    /// Azure Monitor's regional metrics endpoint for pod statistics (the batch API);
    /// default: the cloud's endpoint for the region, or the `--aci-endpoint` emulator;
    /// `off`: one call per group through ARM.
    #[arg(long, env = "ACI_METRICS_ENDPOINT")]
    pub(crate) metrics_endpoint: Option<String>,
    /// Availability zones of the region pods may ask for (comma-separated zone numbers,
    /// `1,2,3`; `westus2-1` is read as `1`). With exactly one zone the node advertises
    /// `topology.kubernetes.io/zone=<region>-<zone>`; with several it advertises none (it is
    /// in no single zone): run one node per zone for the scheduler to place pods by zone.
    #[arg(long, env = "ACI_ZONES", value_delimiter = ',')]
    pub(crate) zones: Vec<String>,
    /// ARM ID of a user-assigned managed identity that pulls images from Azure Container
    /// Registry for pods without a pull secret for the registry (the identity must be
    /// assigned the AcrPull role).
    #[arg(long, env = "ACI_ACR_PULL_IDENTITY")]
    pub(crate) acr_pull_identity: Option<String>,
    /// How often pod statistics are read again from Azure Monitor while they are scraped
    /// (Go duration; Azure Monitor's grain is one minute).
    #[arg(long, env = "ACI_METRICS_REFRESH_INTERVAL", default_value = "1m")]
    pub(crate) metrics_refresh_interval: String,
    /// Upstream's TOML provider config: `ResourceGroup`, `Region`, `OperatingSystem`, `CPU`,
    /// `Memory`, `Pods`, `SubnetName`, `SubnetCIDR`, used where no flag or environment
    /// variable sets the same thing. Any other key is an error.
    #[arg(long)]
    pub(crate) provider_config: Option<PathBuf>,
    /// Upstream: provider name (hidden, ignored).
    #[arg(long, hide = true)]
    pub(crate) provider: Option<String>,
    /// Upstream: monitored namespace (hidden, ignored: every namespace is served).
    #[arg(long, hide = true)]
    pub(crate) namespace: Option<String>,
    /// Upstream: node leases are always on (ignored).
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
    pub(crate) enable_node_lease: bool,
    /// Tracing exporter (accepted, ignored: no OpenTelemetry export).
    #[arg(long, hide = true)]
    pub(crate) trace_exporter: Option<String>,
    /// Tracing sample rate (accepted, ignored).
    #[arg(long, hide = true)]
    pub(crate) trace_sample_rate: Option<String>,
    /// Tracing service name (accepted, ignored).
    #[arg(long, hide = true)]
    pub(crate) trace_service_name: Option<String>,
    /// Stray positional values (the upstream chart's `--disable-taint true`).
    #[arg(hide = true, value_parser = ["true", "false"])]
    pub(crate) stray: Vec<String>,
    /// Logging.
    #[command(flatten)]
    pub(crate) log: LogArgs,
}

/// Azure credential settings, read from the environment as the upstream provider does.
const AZURE_ENV_HELP: &str = "Azure credentials (environment, as upstream): AZURE_AUTH_LOCATION (SDK auth JSON), \
AKS_CREDENTIAL_LOCATION (AKS azure.json), AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT_ID, \
AZURE_SUBSCRIPTION_ID, VIRTUALNODE_USER_IDENTITY_CLIENTID (managed identity), AZURE_FEDERATED_TOKEN_FILE \
(workload identity). Accepted and ignored: USE_VK_VERSION_2, ACS_CREDENTIAL_LOCATION, \
RETRY_MINIMUM_INTERVAL_IN_SECOND, RETRY_MAXIMUM_INTERVAL_IN_SECOND, --klog.* flags.";

/// Flags of `vk-aci local`.
#[derive(Debug, Args)]
pub(crate) struct LocalArgs {
    /// Where to write the kubeconfig for kubectl.
    #[arg(long, default_value = "vk-aci-local.kubeconfig")]
    pub(crate) kubeconfig: PathBuf,
    /// Fake API server address.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) listen: std::net::SocketAddr,
    /// Virtual node name.
    #[arg(long, default_value = "vk-aci-local")]
    pub(crate) nodename: String,
    /// Seconds a new container group stays Pending (ACI takes tens of seconds).
    #[arg(long, default_value_t = 1)]
    pub(crate) group_pending_secs: u64,
    /// Seconds a new container group then stays Creating.
    #[arg(long, default_value_t = 2)]
    pub(crate) group_creating_secs: u64,
    /// Logging.
    #[command(flatten)]
    pub(crate) log: LogArgs,
}

/// Flags of `vk-aci emulator`.
#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// ARM listen address (exec WebSockets take another port on the same IP).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub(crate) listen: std::net::SocketAddr,
    /// Turn request throttling off (ARM's buckets and Azure Monitor's metrics limits).
    #[arg(long)]
    pub(crate) no_throttle: bool,
    /// Seconds a new container group stays Pending (ACI takes tens of seconds).
    #[arg(long, default_value_t = 1)]
    pub(crate) group_pending_secs: u64,
    /// Seconds a new container group then stays Creating.
    #[arg(long, default_value_t = 2)]
    pub(crate) group_creating_secs: u64,
    /// Azure Monitor's ingestion delay in seconds: metrics newer than this are not visible
    /// yet (Azure shows the latest minutes 1 to 3 minutes late).
    #[arg(long, default_value_t = 0)]
    pub(crate) metrics_delay_secs: u64,
    /// ACI's create and delete quota: `aci` (100 per 5 minutes and 300 per hour, ACI's
    /// default), `off`, or windows like `500/5m,2000/1h` to reproduce a raised quota.
    #[arg(long, default_value = "aci")]
    pub(crate) quota: String,
    /// Seconds a deleted container group stays `Deleting` (a PUT to it answers 409 meanwhile).
    #[arg(long, default_value_t = 0)]
    pub(crate) group_deleting_secs: u64,
    /// Share (0 to 1) of calls answered 500 `InternalServerError` without effect.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) error_rate: f64,
    /// Share (0 to 1) of PUTs, DELETEs and POSTs that take effect and whose answer is lost
    /// (504 `GatewayTimeout`).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) lost_response_rate: f64,
    /// Milliseconds added to every ARM call.
    #[arg(long, default_value_t = 0)]
    pub(crate) latency_ms: u64,
    /// Logging.
    #[command(flatten)]
    pub(crate) log: LogArgs,
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
}
