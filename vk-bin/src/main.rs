/*! The main entry point into the `vk-aci` binary. */
mod cli;

use std::io::{self, Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use vk_translate::manifests::{self, Manifests, Outcome};

use tokio::time::Duration;
use vk_aci::arm::credentials::{CredentialInputs, choose};
use vk_aci::arm::{ArmConfig, ArmCredential};
use vk_aci::emulator::{Emulator, EmulatorConfig};
use vk_aci::local::{Local, LocalConfig};
use vk_aci::provider::Capacity;
use vk_aci::virtual_node::{VirtualNode, VirtualNodeConfig, VirtualNodeError};
use vk_core::node::TaintConfig;
use vk_core::server::{AuthConfig, AuthorizationMode, ServingCert, ServingCsr};
use vk_translate::container_group::OperatingSystemTypes;

use vk_aci::images::{ImageResolver, ImageResolverConfig};
use vk_translate::images::ResolvedImages;

use crate::cli::{
    CheckArgs, Cli, Command, EmulatorArgs, ImageArgs, LocalArgs, LogArgs, LogFormat, RunArgs,
    TranslateArgs,
};

fn main() -> ExitCode {
    let (cli, ignored) = cli::parse();
    match run(cli, &ignored) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`vk-aci translate x.yaml | head`) is not a failure.
            if err.chain().any(|e| {
                e.downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("vk-aci: {err:#}");
            if err
                .chain()
                .any(|e| e.is::<BadInput>() || e.is::<manifests::ManifestError>())
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Runs one subcommand.
fn run(cli: Cli, ignored: &[String]) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Translate(args) => translate(&args),
        Command::Check(args) => check(&args),
        Command::Run(args) => run_node(&args, ignored),
        Command::Local(args) => local(&args),
        Command::Emulator(args) => emulator(&args),
    }
}

/// An input or configuration that cannot be used (exit status 2).
#[derive(Debug)]
pub(crate) struct BadInput(pub(crate) String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Reads and parses every file (`-` is stdin, read once).
fn read_manifests(files: &[impl AsRef<Path>]) -> anyhow::Result<Manifests> {
    let mut manifests = Manifests::default();
    let mut stdin_read = false;
    for file in files {
        let file = file.as_ref();
        let (origin, text) = if file == Path::new("-") {
            if stdin_read {
                continue;
            }
            stdin_read = true;
            let mut text = String::new();
            io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| BadInput(format!("reading stdin: {e}")))?;
            ("-".to_owned(), text)
        } else {
            let text = std::fs::read_to_string(file)
                .map_err(|e| BadInput(format!("reading {}: {e}", file.display())))?;
            (file.display().to_string(), text)
        };
        manifests.add(&origin, &text)?;
    }
    Ok(manifests)
}

/// `vk-aci translate`: one pretty JSON ARM PUT body per workload on stdout, warnings and
/// errors on stderr; exit 1 when a workload cannot be translated.
fn translate(args: &TranslateArgs) -> anyhow::Result<ExitCode> {
    let manifests = read_manifests(&args.files)?;
    let results = translate_manifests(&manifests, &args.node.to_options(), &args.images)?;
    let mut stdout = io::stdout().lock();
    let mut failed = false;
    for result in results {
        let w = &result.workload;
        let what = format!(
            "{} {}/{} ({}, document {})",
            w.kind, w.namespace, w.name, w.origin.file, w.origin.document
        );
        match result.outcome {
            Outcome::Runs(translation) => {
                let mut group = translation.container_group;
                if !args.show_secrets {
                    vk_translate::redact_secrets(&mut group);
                }
                eprintln!("vk-aci: {what}: container group {}", translation.name);
                for warning in &translation.warnings {
                    eprintln!("vk-aci: {what}: warning: {warning}");
                }
                let json = serde_json::to_string_pretty(&group)
                    .context("serializing the container group")?;
                writeln!(stdout, "{json}")?;
            }
            Outcome::CannotRun(error) => {
                failed = true;
                eprintln!("vk-aci: {what}: {error}");
            }
            Outcome::NeverScheduled(reason) => {
                eprintln!("vk-aci: {what}: skipped: {reason}");
            }
        }
    }
    stdout.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Translates every workload; with `--resolve-images`, first reads the configs of the images
/// whose ENTRYPOINT the translation needs. An image that cannot be read is reported on
/// stderr and its workload translated offline (args alone, with a warning).
fn translate_manifests(
    manifests: &Manifests,
    node: &vk_translate::NodeOptions,
    images: &ImageArgs,
) -> anyhow::Result<Vec<manifests::WorkloadResult>> {
    if !images.resolve_images {
        return Ok(manifests.translate(node));
    }
    let resolver = ImageResolver::new(ImageResolverConfig {
        insecure_registries: images.insecure_registries.clone(),
        os_type: node.os_type.clone(),
        ..ImageResolverConfig::default()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let resolved = runtime.block_on(async {
        let mut resolved = Vec::with_capacity(manifests.workloads.len());
        for w in &manifests.workloads {
            let objects = manifests.objects_in(&w.namespace);
            match resolver.resolve_pod(&w.pod, &objects).await {
                Ok(images) => resolved.push(images),
                Err(err) => {
                    eprintln!(
                        "vk-aci: {} {}/{} ({}, document {}): image config not read: {err}",
                        w.kind, w.namespace, w.name, w.origin.file, w.origin.document
                    );
                    resolved.push(ResolvedImages::new());
                }
            }
        }
        resolved
    });
    Ok(manifests.translate_with_images(node, &resolved))
}

/// `vk-aci check`: the report on stdout; exit 1 when something cannot run.
fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let manifests = read_manifests(&args.files)?;
    let results = translate_manifests(&manifests, &args.node.to_options(), &args.images)?;
    let mut stdout = io::stdout().lock();
    write!(stdout, "{}", manifests::check_report(&results))?;
    stdout.flush()?;
    Ok(if manifests::any_cannot_run(&results) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

// === logging ===

/// Install the tracing subscriber: `RUST_LOG` if set, else `--log-level`; text or JSON.
fn init_logging(args: &LogArgs) {
    let level = match args.log_level.to_ascii_lowercase().as_str() {
        "panic" | "fatal" => "error".to_owned(),
        "warning" => "warn".to_owned(),
        other => other.to_owned(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

// === vk-aci run ===

/// A Go-style duration: `0`, `90s`, `2m`, `1h30m`, `500ms`.
fn parse_duration(flag: &str, text: &str) -> Result<Duration, BadInput> {
    let bad = || {
        BadInput(format!(
            "--{flag}: {text:?} is not a duration like 30s, 2m or 1h30m"
        ))
    };
    let text = text.trim();
    if text.is_empty() || text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(value * seconds).map_err(|_| bad())?;
    }
    Ok(total)
}

fn read_file(flag: &str, path: &Path) -> Result<Vec<u8>, BadInput> {
    std::fs::read(path).map_err(|e| BadInput(format!("{flag} {}: {e}", path.display())))
}

fn non_empty(value: Option<&String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty()).cloned()
}

/// Check every flag and build the node's configuration and ARM credential. Nothing is
/// started; every problem is a [`BadInput`] (exit 2).
fn node_config(args: &RunArgs) -> Result<(VirtualNodeConfig, ArmCredential), BadInput> {
    let mut config = VirtualNodeConfig::default();

    // Azure: credential, subscription, resource group, region.
    let (credential, subscription, settings_rg, settings_region) = match &args.aci_endpoint {
        Some(endpoint) => {
            let subscription = std::env::var("AZURE_SUBSCRIPTION_ID")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| vk_aci::local::SUBSCRIPTION.to_owned());
            let _ = endpoint;
            (ArmCredential::fixed("emulator"), subscription, None, None)
        }
        None => {
            let inputs = CredentialInputs::from_env()
                .map_err(|e| BadInput(format!("azure credentials: {e}")))?;
            let settings =
                choose(&inputs).map_err(|e| BadInput(format!("azure credentials: {e}")))?;
            let credential = ArmCredential::from_settings(&settings)
                .map_err(|e| BadInput(format!("azure credentials: {e}")))?;
            let subscription = settings.subscription_id.clone().ok_or_else(|| {
                BadInput(
                    "no Azure subscription: set AZURE_SUBSCRIPTION_ID (or subscriptionId in the credentials file)"
                        .to_owned(),
                )
            })?;
            (
                credential,
                subscription,
                settings.resource_group.clone(),
                settings.location.clone(),
            )
        }
    };
    let resource_group = non_empty(args.resource_group.as_ref())
        .or(settings_rg.filter(|s| !s.is_empty()))
        .ok_or_else(|| {
            BadInput("no resource group: set ACI_RESOURCE_GROUP or --resource-group".to_owned())
        })?;
    let region = non_empty(args.region.as_ref())
        .or(settings_region.filter(|s| !s.is_empty()))
        .ok_or_else(|| BadInput("no region: set ACI_REGION or --region".to_owned()))?
        .to_lowercase()
        .replace(' ', "");
    let mut arm = ArmConfig::new(subscription.clone(), resource_group.clone(), region.clone())
        .api_version(&args.api_version);
    if let Some(endpoint) = &args.aci_endpoint {
        arm = arm
            .base_url(endpoint.clone())
            .lro_poll_interval(Duration::from_millis(250));
    }
    config.arm = arm;

    // Node.
    let os = match args.os.to_ascii_lowercase().as_str() {
        "linux" => OperatingSystemTypes::Linux,
        "windows" => OperatingSystemTypes::Windows,
        _ => {
            return Err(BadInput(format!(
                "--os {:?}: expected Linux or Windows",
                args.os
            )));
        }
    };
    config.node.name.clone_from(&args.nodename);
    config.node.operating_system = args.os.to_ascii_lowercase();
    config.node.kubelet_port = args.kubelet_port;
    config.kubelet_listen = std::net::SocketAddr::from(([0, 0, 0, 0], args.kubelet_port));
    if let Some(ip) = non_empty(args.pod_ip.as_ref()) {
        config.node.internal_ip = Some(ip.parse().map_err(|_| {
            BadInput(format!(
                "VKUBELET_POD_IP / --pod-ip {ip:?} is not an IP address"
            ))
        })?);
    }
    if !matches!(
        args.taint_effect.as_str(),
        "NoSchedule" | "NoExecute" | "PreferNoSchedule"
    ) {
        return Err(BadInput(format!(
            "VKUBELET_TAINT_EFFECT / --taint-effect {:?}: expected NoSchedule, NoExecute or PreferNoSchedule",
            args.taint_effect
        )));
    }
    config.node.taint = if args.disable_taint {
        None
    } else {
        let key = if std::env::var_os("VKUBELET_TAINT_KEY").is_none() {
            args.taint.clone().unwrap_or_else(|| args.taint_key.clone())
        } else {
            args.taint_key.clone()
        };
        Some(TaintConfig {
            key,
            value: args.taint_value.clone(),
            effect: args.taint_effect.clone(),
        })
    };

    // Provider: translation and capacity.
    let mut node = config
        .aci
        .node
        .clone()
        .region(&region)
        .os_type(os)
        .node_name(&args.nodename)
        .cluster_domain(&args.cluster_domain);
    if let Some(subnet) = non_empty(args.subnet_name.as_ref()) {
        let vnet = non_empty(args.vnet_name.as_ref()).ok_or_else(|| {
            BadInput("ACI_SUBNET_NAME needs ACI_VNET_NAME (the VNet of the subnet)".to_owned())
        })?;
        let vnet_rg =
            non_empty(args.vnet_resource_group.as_ref()).unwrap_or(resource_group.clone());
        let vnet_sub = non_empty(args.vnet_subscription_id.as_ref()).unwrap_or(subscription);
        node = node.private_ip([format!(
            "/subscriptions/{vnet_sub}/resourceGroups/{vnet_rg}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}"
        )]);
        if let Some(dns) = non_empty(args.kube_dns_ip.as_ref()) {
            node = node.cluster_dns(dns);
        }
    }
    let (la_id, la_key) = match (
        non_empty(args.log_analytics_id.as_ref()),
        non_empty(args.log_analytics_key.as_ref()),
    ) {
        (Some(id), Some(key)) => (Some(id), Some(key)),
        _ => match &args.log_analytics_auth_location {
            Some(path) => {
                let bytes = read_file("LOG_ANALYTICS_AUTH_LOCATION", path)?;
                let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                    BadInput(format!(
                        "LOG_ANALYTICS_AUTH_LOCATION {}: {e}",
                        path.display()
                    ))
                })?;
                let field = |name: &str| doc.get(name).and_then(|v| v.as_str()).map(str::to_owned);
                (field("workspaceID"), field("workspaceKey"))
            }
            None => (None, None),
        },
    };
    if let (Some(id), Some(key)) = (la_id, la_key) {
        node = node.log_analytics(id, key);
    }
    if let Some(id) = non_empty(args.cluster_resource_id.as_ref()) {
        node = node.cluster_resource_id(id);
    }
    config.aci.node = node;
    config.aci.capacity = Capacity {
        cpu: args.quota_cpu.clone(),
        memory: args.quota_memory.clone(),
        pods: args.quota_pod.clone(),
        gpu: non_empty(args.quota_gpu.as_ref()),
    };

    // Kubelet API: TLS and authentication.
    match (&args.tls_cert_file, &args.tls_key_file) {
        (Some(cert), Some(key)) => {
            read_file("APISERVER_CERT_LOCATION", cert)?;
            read_file("APISERVER_KEY_LOCATION", key)?;
            config.tls.serving = ServingCert::Files {
                cert: cert.clone(),
                key: key.clone(),
            };
        }
        (None, None) => {}
        _ => {
            return Err(BadInput(
                "APISERVER_CERT_LOCATION and APISERVER_KEY_LOCATION go together".to_owned(),
            ));
        }
    }
    if args.rotate_server_certificates {
        if args.tls_cert_file.is_some() {
            return Err(BadInput(
                "--rotate-server-certificates and --tls-cert-file exclude each other".to_owned(),
            ));
        }
        // Names and InternalIP are filled in from the node when the listener is bound.
        config.tls.serving =
            ServingCert::CertificateSigningRequest(ServingCsr::new(args.nodename.clone()));
    }
    // Without a CA flag, trust the cluster CA of the service account (it signs the API
    // server's kubelet client certificate on kubeadm and AKS clusters).
    let in_cluster_ca = Path::new("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
    let ca = match &args.client_verify_ca {
        Some(path) if !path.as_os_str().is_empty() => Some(read_file("--client-verify-ca", path)?),
        _ if in_cluster_ca.exists() => std::fs::read(in_cluster_ca).ok(),
        _ => None,
    };
    if let Some(ca) = ca
        && !args.no_verify_clients
    {
        config.tls = config.tls.client_ca(ca);
    }
    let ttl = |flag: &str, text: &str, default: Duration| {
        parse_duration(flag, text).map(|d| if d.is_zero() { default } else { d })
    };
    let defaults = AuthConfig::default();
    config.auth = AuthConfig {
        token_webhook: args.authentication_token_webhook,
        token_cache_ttl: ttl(
            "authentication-token-webhook-cache-ttl",
            &args.authentication_token_webhook_cache_ttl,
            defaults.token_cache_ttl,
        )?,
        authorization: if args.authentication_token_webhook {
            AuthorizationMode::Webhook
        } else {
            AuthorizationMode::AlwaysAllow
        },
        authorized_ttl: ttl(
            "authorization-webhook-cache-authorized-ttl",
            &args.authorization_webhook_cache_authorized_ttl,
            defaults.authorized_ttl,
        )?,
        unauthorized_ttl: ttl(
            "authorization-webhook-cache-unauthorized-ttl",
            &args.authorization_webhook_cache_unauthorized_ttl,
            defaults.unauthorized_ttl,
        )?,
        ..defaults
    };
    // Fail now on unusable TLS material rather than after the lease.
    let mut probe = config.tls.clone();
    if let ServingCert::SelfSigned { names, .. } = &mut probe.serving {
        names.push(args.nodename.clone());
    }
    probe
        .server_config()
        .map_err(|e| BadInput(format!("kubelet api tls: {}", error_chain(&e))))?;

    // Runtime and health.
    config.workers = args.pod_sync_workers.max(1);
    let resync = parse_duration("full-resync-period", &args.full_resync_period)?;
    config.resync_period = (!resync.is_zero()).then_some(resync);
    config.health_listen = match args.metrics_addr.as_str() {
        "" | "off" | "0" => None,
        addr => Some(parse_listen(addr)?),
    };
    config.lease_namespace.clone_from(&args.lease_namespace);
    config.identity = format!("{}_{}", args.nodename, std::process::id());
    parse_duration("startup-timeout", &args.startup_timeout)?;
    Ok((config, credential))
}

/// `HOST:PORT` or Go's `:PORT`.
fn parse_listen(addr: &str) -> Result<std::net::SocketAddr, BadInput> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_owned()
    };
    full.parse().map_err(|_| {
        BadInput(format!(
            "--metrics-addr {addr:?}: expected HOST:PORT or :PORT"
        ))
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `vk-aci run` (and `virtual-kubelet`): validate, then run the node until SIGTERM/SIGINT.
fn run_node(args: &RunArgs, ignored: &[String]) -> anyhow::Result<ExitCode> {
    init_logging(&args.log);
    if !ignored.is_empty() {
        tracing::debug!(flags = ?ignored, "klog flags accepted and ignored");
    }
    for (flag, set) in [
        ("--provider-config", args.provider_config.is_some()),
        ("--trace-exporter", args.trace_exporter.is_some()),
        ("--trace-sample-rate", args.trace_sample_rate.is_some()),
        ("--trace-service-name", args.trace_service_name.is_some()),
        ("--enable-node-lease", args.enable_node_lease),
        (
            "--namespace",
            args.namespace.as_ref().is_some_and(|n| !n.is_empty()),
        ),
        ("ACI_EXTRA_USER_AGENT", args.extra_user_agent.is_some()),
        (
            "ENABLE_REAL_TIME_METRICS",
            args.enable_real_time_metrics.is_some(),
        ),
        ("MASTER_URI", args.master_uri.is_some()),
        ("CLUSTER_CIDR", args.cluster_cidr.is_some()),
        ("ACI_SUBNET_CIDR", args.subnet_cidr.is_some()),
    ] {
        if set {
            tracing::debug!(
                setting = flag,
                "accepted for upstream compatibility; not used"
            );
        }
    }
    let (config, credential) = node_config(args)?;
    let runtime = tokio_runtime()?;
    runtime.block_on(async move {
        let kube_config = match &args.kubeconfig {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| BadInput(format!("KUBECONFIG {}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
                    .await
                    .map_err(|e| BadInput(format!("KUBECONFIG {}: {e}", path.display())))?
            }
            None => kube::Config::infer()
                .await
                .map_err(|e| BadInput(format!("no cluster: {e}")))?,
        };
        let client = kube::Client::try_from(kube_config)
            .map_err(|e| BadInput(format!("kubernetes client: {e}")))?;
        let node = VirtualNode::bind(config, client, credential)
            .await
            .map_err(|e| match e {
                VirtualNodeError::Bind { .. } | VirtualNodeError::Tls(_) => {
                    anyhow::Error::new(BadInput(error_chain(&e)))
                }
                other => anyhow::Error::new(other),
            })?;
        tracing::info!(kubelet = %node.kubelet_addr(), health = ?node.health_addr(), "vk-aci starting");
        node.run(shutdown_signal()).await?;
        tracing::info!("stopped; pods and container groups are left running");
        Ok(ExitCode::SUCCESS)
    })
}

// === vk-aci local ===

/// `vk-aci local`: everything in one process until Ctrl-C.
fn local(args: &LocalArgs) -> anyhow::Result<ExitCode> {
    init_logging(&args.log);
    let runtime = tokio_runtime()?;
    runtime.block_on(async move {
        let mut config = LocalConfig {
            kubeconfig: args.kubeconfig.clone(),
            api_listen: args.listen,
            node_name: args.nodename.clone(),
            ..LocalConfig::default()
        };
        config.emulator.timeline.pending = Duration::from_secs(args.group_pending_secs);
        config.emulator.timeline.creating = Duration::from_secs(args.group_creating_secs);
        let local = Local::start(config).await?;
        let kc = local.kubeconfig().display().to_string();
        let mut out = io::stdout().lock();
        writeln!(out, "vk-aci local is running (Ctrl-C to stop).")?;
        writeln!(out, "  API server:    {}", local.api().url())?;
        writeln!(out, "  ACI emulator:  {}", local.emulator().url())?;
        writeln!(
            out,
            "  virtual node:  {} (kubelet API on {})",
            local.node_name(),
            local.kubelet_addr()
        )?;
        writeln!(out, "  kubeconfig:    {kc}")?;
        writeln!(out)?;
        writeln!(out, "Try:")?;
        writeln!(out, "  kubectl --kubeconfig {kc} get nodes")?;
        writeln!(
            out,
            "  kubectl --kubeconfig {kc} apply -f ../shared/examples/helloworld-pod.yaml"
        )?;
        writeln!(out, "  kubectl --kubeconfig {kc} get pods -o wide -w")?;
        writeln!(out, "  kubectl --kubeconfig {kc} logs helloworld")?;
        writeln!(
            out,
            "  kubectl --kubeconfig {kc} exec helloworld -- echo hello \"big world\""
        )?;
        writeln!(out, "  kubectl --kubeconfig {kc} delete pod helloworld")?;
        out.flush()?;
        drop(out);
        shutdown_signal().await;
        local.shutdown().await?;
        Ok(ExitCode::SUCCESS)
    })
}

// === vk-aci emulator ===

/// `vk-aci emulator`: the ACI emulator until Ctrl-C.
fn emulator(args: &EmulatorArgs) -> anyhow::Result<ExitCode> {
    init_logging(&args.log);
    let runtime = tokio_runtime()?;
    runtime.block_on(async move {
        let mut config = EmulatorConfig {
            listen: args.listen,
            ..EmulatorConfig::default()
        };
        if args.no_throttle {
            config.throttle = None;
        }
        config.timeline.pending = Duration::from_secs(args.group_pending_secs);
        config.timeline.creating = Duration::from_secs(args.group_creating_secs);
        let em = Emulator::start(config)
            .await
            .map_err(|e| BadInput(error_chain(&e)))?;
        println!("ACI emulator listening on {}", em.url());
        println!(
            "  vk-aci run --aci-endpoint {} --resource-group RG --region westus ...",
            em.url()
        );
        shutdown_signal().await;
        em.shutdown();
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_should_parse() {
        assert_eq!(parse_duration("x", "0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("x", "90s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("x", "1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("x", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert!(parse_duration("x", "5 minutes").is_err());
        assert!(parse_duration("x", "10").is_err());
    }

    #[test]
    fn go_listen_addresses_should_parse() {
        assert_eq!(parse_listen(":10255").unwrap().port(), 10255);
        assert!(parse_listen("nope").is_err());
    }
}
