//! `vk-aci emulator`: the ACI emulator on its own, until Ctrl-C.

use std::process::ExitCode;

use tokio::time::Duration;
use vk_aci::emulator::{Emulator, EmulatorConfig, FaultConfig, QuotaWindow, quota};
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
