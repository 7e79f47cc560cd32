//! `vk-aci run` (and `virtual-kubelet`): validate every setting, then run the virtual node
//! until SIGTERM/SIGINT.

use std::process::ExitCode;

use vk_aci::arm::network::SubnetError;
use vk_aci::virtual_node::{VirtualNode, VirtualNodeError};
use vk_core::error_chain;

use crate::error::BadInput;
use crate::logging::{init_logging, shutdown_signal, tokio_runtime};
use crate::provider_config;
use crate::run_args::RunArgs;
use crate::run_config::node_config;

/// `vk-aci run` (and `virtual-kubelet`): validate, then run the node until SIGTERM/SIGINT.
pub(crate) fn run_node(args: &RunArgs, ignored: &[String]) -> anyhow::Result<ExitCode> {
    init_logging(&args.log);
    if !ignored.is_empty() {
        tracing::debug!(flags = ?ignored, "klog flags accepted and ignored");
    }
    // Upstream exported OpenCensus traces (jaeger, ocagent); vk-aci has no exporter: the
    // spans are log lines (`--log-level trace`). Said loudly, since someone asked for traces.
    for (flag, value) in [
        ("--trace-exporter", &args.trace_exporter),
        ("--trace-sample-rate", &args.trace_sample_rate),
        ("--trace-service-name", &args.trace_service_name),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            tracing::warn!(
                flag,
                value,
                "traces are not exported (no OpenCensus/OpenTelemetry exporter in vk-aci); spans are logged at --log-level trace"
            );
        }
    }
    for (flag, set) in [
        ("--enable-node-lease", args.enable_node_lease),
        (
            "--namespace",
            args.namespace.as_ref().is_some_and(|n| !n.is_empty()),
        ),
    ] {
        if set {
            tracing::debug!(
                setting = flag,
                "accepted for upstream compatibility; not used (leases are always on, every namespace is served)"
            );
        }
    }
    let mut args = args.clone();
    if let Some(path) = args.provider_config.clone() {
        provider_config::load(&path)?.apply_defaults(&mut args);
        tracing::info!(file = %path.display(), "provider config read; flags and environment variables win over it");
    }
    let args = &args;
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
                VirtualNodeError::Kubelet(ref kubelet) if kubelet.is_configuration() => {
                    anyhow::Error::new(BadInput(error_chain(&e)))
                }
                // The subnet is missing, different or not delegated: configuration.
                VirtualNodeError::Subnet(ref subnet) if !matches!(subnet, SubnetError::Arm { .. }) => {
                    anyhow::Error::new(BadInput(error_chain(&e)))
                }
                other => anyhow::Error::new(other),
            })?;
        tracing::info!(kubelet = %node.kubelet_addr(), health = ?node.health_addr(), "vk-aci starting");
        node.run(shutdown_signal()).await.map_err(|e| match e {
            // Another kubelet's Node: a configuration problem (exit 2), not a crash.
            VirtualNodeError::Kubelet(ref kubelet) if kubelet.is_configuration() => {
                anyhow::Error::new(BadInput(error_chain(&e)))
            }
            other => anyhow::Error::new(other),
        })?;
        tracing::info!("stopped; pods and container groups are left running");
        Ok(ExitCode::SUCCESS)
    })
}
