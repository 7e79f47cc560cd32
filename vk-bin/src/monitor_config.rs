//! `vk-aci run`'s pod statistics settings: where Azure Monitor's batch API is, with which
//! token scope, and how often statistics are read again.
use url::Url;
use vk_aci::arm::credentials::Cloud;
use vk_aci::monitor::MonitorConfig;
use vk_aci::virtual_node::VirtualNodeConfig;

use crate::error::BadInput;
use crate::flag_values::parse_duration;
use crate::run_args::RunArgs;

/// Fill `config.monitor` and the statistics refresh interval from `args`: the batch API at
/// `--metrics-endpoint`, else the emulator of `--aci-endpoint`, else `cloud`'s regional
/// endpoint for `region`; `off` reads one group a call through ARM.
pub(crate) fn apply(
    args: &RunArgs,
    cloud: &Cloud,
    region: &str,
    config: &mut VirtualNodeConfig,
) -> Result<(), BadInput> {
    let endpoint = match args.metrics_endpoint.as_deref().map(str::trim) {
        Some("off") => None,
        Some(text) if !text.is_empty() => Some(
            Url::parse(text)
                .map_err(|e| BadInput(format!("--metrics-endpoint: {text:?} is not a URL: {e}")))?,
        ),
        _ => match &args.aci_endpoint {
            Some(emulator) => Some(emulator.clone()),
            None => Some(Url::parse(&cloud.metrics_endpoint(region)).map_err(|e| {
                BadInput(format!("no metrics endpoint for region {region:?}: {e}"))
            })?),
        },
    };
    config.monitor = MonitorConfig {
        batch_endpoint: endpoint,
        scope: cloud.metrics_scope(),
        ..MonitorConfig::default()
    };
    let refresh = parse_duration("metrics-refresh-interval", &args.metrics_refresh_interval)?;
    if refresh.is_zero() {
        return Err(BadInput(
            "--metrics-refresh-interval must be longer than 0s".to_owned(),
        ));
    }
    config.aci.stats.refresh_interval = refresh;
    Ok(())
}
