//! `vk-aci local`: the stand-in API server, the ACI emulator and a virtual node in one
//! process, with the kubectl commands to try.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tokio::time::Duration;
use vk_aci::local::{Local, LocalConfig};

use crate::logging::{LogArgs, init_logging, shutdown_signal, tokio_runtime};

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

/// `vk-aci local`: everything in one process until Ctrl-C.
pub(crate) fn local(args: &LocalArgs) -> anyhow::Result<ExitCode> {
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
