//! The flags of `vk-aci run` (and of `virtual-kubelet`): every flag and environment
//! variable of the upstream azure-aci provider, under its names, with its defaults.

use std::path::PathBuf;

use clap::Args;

use crate::logging::LogArgs;

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
