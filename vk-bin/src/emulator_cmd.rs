//! `vk-aci emulator`: the ACI emulator on its own, until Ctrl-C.

use std::process::ExitCode;

use clap::Args;
use tokio::time::Duration;
use vk_aci::emulator::{Emulator, EmulatorConfig, FaultConfig, QuotaWindow, quota};
use vk_core::error_chain;

use crate::error::BadInput;
use crate::logging::{LogArgs, init_logging, shutdown_signal, tokio_runtime};

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
        config.timeline.deleting = Duration::from_secs(args.group_deleting_secs);
        config.quota = quota(&args.quota)?;
        for (flag, rate) in [
            ("error-rate", args.error_rate),
            ("lost-response-rate", args.lost_response_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(BadInput(format!("--{flag} {rate}: a share from 0 to 1")).into());
            }
        }
        config.faults = FaultConfig {
            error_rate: args.error_rate,
            lost_response_rate: args.lost_response_rate,
            latency: Duration::from_millis(args.latency_ms),
            ..FaultConfig::default()
        };
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

/// `--quota`: `aci`, `off`, or comma-separated `LIMIT/PERIOD` windows (`500/5m`).
fn quota(text: &str) -> Result<Vec<QuotaWindow>, BadInput> {
    match text.trim() {
        "aci" => return Ok(quota::aci_defaults()),
        "off" | "none" => return Ok(Vec::new()),
        _ => {}
    }
    text.split(',')
        .map(|window| {
            let bad = || {
                BadInput(format!(
                    "--quota {text:?}: expected aci, off or windows like 500/5m,2000/1h"
                ))
            };
            let (limit, period) = window.trim().split_once('/').ok_or_else(bad)?;
            let limit: usize = limit.trim().parse().map_err(|_| bad())?;
            let period = crate::flag_values::parse_duration("quota", period.trim())?;
            if limit == 0 || period.is_zero() {
                return Err(bad());
            }
            Ok(QuotaWindow { period, limit })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_windows_should_parse_and_bad_ones_be_refused() {
        assert_eq!(quota("aci").unwrap(), quota::aci_defaults());
        assert!(quota("off").unwrap().is_empty());
        let raised = quota("500/5m, 2000/1h").unwrap();
        assert_eq!(raised[0].limit, 500);
        assert_eq!(raised[0].period, Duration::from_secs(300));
        assert_eq!(raised[1].period, Duration::from_secs(3600));
        for bad in ["500", "x/5m", "0/5m", "5/0s", "5/forever"] {
            assert!(quota(bad).is_err(), "{bad}");
        }
    }
}
