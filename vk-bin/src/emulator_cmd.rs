//! `vk-aci emulator`: the ACI emulator on its own, until Ctrl-C.

use std::process::ExitCode;

use tokio::time::Duration;
use vk_aci::emulator::{Emulator, EmulatorConfig};
use vk_core::error_chain;

use crate::cli::EmulatorArgs;
use crate::error::BadInput;
use crate::logging::{init_logging, shutdown_signal, tokio_runtime};

/// `vk-aci emulator`: the ACI emulator until Ctrl-C.
pub(crate) fn emulator(args: &EmulatorArgs) -> anyhow::Result<ExitCode> {
    init_logging(&args.log);
    let runtime = tokio_runtime()?;
    runtime.block_on(async move {
        let mut config = EmulatorConfig {
            listen: args.listen,
            ..EmulatorConfig::default()
        };
        if args.no_throttle {
            config.throttle = None;
            config.metrics_throttle = None;
        }
        config.metrics_delay = Duration::from_secs(args.metrics_delay_secs);
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
