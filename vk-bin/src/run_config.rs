//! The flags of `vk-aci run` checked and turned into a [`VirtualNodeConfig`] and an ARM
//! credential. Nothing is started here; every problem is a [`BadInput`] (exit 2).

use vk_aci::arm::ArmCredential;
use vk_aci::provider::Capacity;
use vk_aci::virtual_node::VirtualNodeConfig;
use vk_core::node::TaintConfig;
use vk_translate::container_group::OperatingSystemTypes;

use crate::arm_config::{self, AzureSettings};
use crate::error::BadInput;
use crate::flag_values::{non_empty, parse_duration, parse_listen, read_file};
use crate::run_args::RunArgs;
use crate::{kubelet_api_config, monitor_config, placement_config, vnet_config};

/// Check every flag and build the node's configuration and ARM credential. Nothing is
/// started; every problem is a [`BadInput`] (exit 2).
pub(crate) fn node_config(args: &RunArgs) -> Result<(VirtualNodeConfig, ArmCredential), BadInput> {
    let mut config = VirtualNodeConfig::default();
    let azure = arm_config::azure_settings(args)?;
    config.arm = arm_config::arm_config(args, &azure);
    monitor_config::apply(args, &azure.cloud, &azure.region, &mut config)?;
    let os = node_settings(args, &mut config)?;
    provider_settings(args, &azure, os, &mut config)?;
    kubelet_api_config::apply(args, &mut config)?;
    runtime_settings(args, &mut config)?;
    Ok((config, azure.credential))
}

/// The node object: name, OS, kubelet port, internal IP and taint; returns the OS.
fn node_settings(
    args: &RunArgs,
    config: &mut VirtualNodeConfig,
) -> Result<OperatingSystemTypes, BadInput> {
    let os_name = args.os.as_deref().unwrap_or("Linux");
    let os = match os_name.to_ascii_lowercase().as_str() {
        "linux" => OperatingSystemTypes::Linux,
        "windows" => OperatingSystemTypes::Windows,
        _ => {
            return Err(BadInput(format!(
                "--os {os_name:?}: expected Linux or Windows"
            )));
        }
    };
    config.node.name.clone_from(&args.nodename);
    config.node.operating_system = os_name.to_ascii_lowercase();
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
    Ok(os)
}

/// The provider: what shapes a container group (placement, VNet, logs, cluster identity)
/// and the capacity the node reports.
fn provider_settings(
    args: &RunArgs,
    azure: &AzureSettings,
    os: OperatingSystemTypes,
    config: &mut VirtualNodeConfig,
) -> Result<(), BadInput> {
    let mut node = config
        .aci
        .node
        .clone()
        .region(&azure.region)
        .os_type(os)
        .node_name(&args.nodename)
        .cluster_domain(&args.cluster_domain);
    node = placement_config::apply(args, &azure.region, node)?;
    if let Some(vnet) = vnet_config::vnet(
        args,
        &azure.resource_group,
        &azure.subscription,
        azure.vnet.clone(),
    )? {
        node = node
            .private_ip([vnet.subnet.subnet.id()])
            .realtime_metrics(vnet.realtime_metrics);
        if let Some(dns) = non_empty(args.kube_dns_ip.as_ref()) {
            node = node.cluster_dns(dns);
        }
        config.aci.kube_proxy = Some(vnet.kube_proxy);
        config.subnet = Some(vnet.subnet);
    }
    if let (Some(id), Some(key)) = log_analytics(args)? {
        node = node.log_analytics(id, key);
    }
    if let Some(id) = non_empty(args.cluster_resource_id.as_ref()) {
        node = node.cluster_resource_id(id);
    }
    // The cluster identity: the flag, else the cluster's ARM ID, else (at bind) the UID of
    // the kube-system namespace.
    config.cluster_id_from_kube_system = false;
    match non_empty(args.cluster_id.as_ref()).as_deref() {
        Some("none") => {}
        Some(id) => node = node.cluster_id(id),
        None => match non_empty(args.cluster_resource_id.as_ref()) {
            Some(arm_id) => node = node.cluster_id(arm_id.to_lowercase()),
            None => config.cluster_id_from_kube_system = true,
        },
    }
    config.aci.node = node;
    // Groups with the realtime-metrics extension are read through it too.
    config.aci.stats.realtime = config.aci.node.realtime_metrics;
    let defaults = Capacity::default();
    config.aci.capacity = Capacity {
        cpu: non_empty(args.quota_cpu.as_ref()).unwrap_or(defaults.cpu),
        memory: non_empty(args.quota_memory.as_ref()).unwrap_or(defaults.memory),
        pods: non_empty(args.quota_pod.as_ref()).unwrap_or(defaults.pods),
        gpu: non_empty(args.quota_gpu.as_ref()),
    };
    Ok(())
}

/// The Log Analytics workspace ID and key: the flags, else the upstream auth file.
fn log_analytics(args: &RunArgs) -> Result<(Option<String>, Option<String>), BadInput> {
    let workspace = match (
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
    Ok(workspace)
}

/// Workers, resync, the health listener, the lease and the startup timeout.
fn runtime_settings(args: &RunArgs, config: &mut VirtualNodeConfig) -> Result<(), BadInput> {
    config.workers = args.pod_sync_workers.max(1);
    let resync = parse_duration("full-resync-period", &args.full_resync_period)?;
    config.resync_period = (!resync.is_zero()).then_some(resync);
    config.health_listen = match args.metrics_addr.as_str() {
        "" | "off" | "0" => None,
        addr => Some(parse_listen("metrics-addr", addr)?),
    };
    config.lease_namespace.clone_from(&args.lease_namespace);
    config.identity = format!("{}_{}", args.nodename, std::process::id());
    parse_duration("startup-timeout", &args.startup_timeout)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use vk_core::server::AuthorizationMode;

    use super::*;
    use crate::cli::run_args;

    /// Flags of a node on the emulator (no Azure credentials needed) plus `extra`.
    fn config(extra: &[&str]) -> Result<VirtualNodeConfig, BadInput> {
        let mut args = vec![
            "--aci-endpoint",
            "http://127.0.0.1:1",
            "--resource-group",
            "rg",
            "--region",
            "West Europe",
            "--nodename",
            "vn",
        ];
        args.extend_from_slice(extra);
        node_config(&run_args(&args)).map(|(config, _)| config)
    }

    fn service_account() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "CA").unwrap();
        std::fs::write(dir.path().join("token"), "tok").unwrap();
        std::fs::write(dir.path().join("namespace"), "vk-aci").unwrap();
        dir
    }

    #[test]
    fn the_kubelet_api_should_check_tokens_and_ask_the_api_server_by_default() {
        let on = config(&[]).unwrap();
        assert!(on.auth.token_webhook);
        assert_eq!(on.auth.authorization, AuthorizationMode::Webhook);
        let off = config(&["--authentication-token-webhook=false"]).unwrap();
        assert!(!off.auth.token_webhook);
        assert_eq!(off.auth.authorization, AuthorizationMode::AlwaysAllow);
    }

    #[test]
    fn the_cluster_identity_should_come_from_the_flag_the_arm_id_or_kube_system() {
        let flag = config(&["--cluster-id", "prod-eu"]).unwrap();
        assert_eq!(flag.aci.node.cluster_id.as_deref(), Some("prod-eu"));
        assert!(!flag.cluster_id_from_kube_system);
        let arm = config(&["--cluster-resource-id", "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/AKS"]).unwrap();
        assert_eq!(
            arm.aci.node.cluster_id.as_deref(),
            Some(
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/aks"
            )
        );
        let default = config(&[]).unwrap();
        assert!(default.aci.node.cluster_id.is_none());
        assert!(default.cluster_id_from_kube_system);
        let none = config(&["--cluster-id", "none"]).unwrap();
        assert!(none.aci.node.cluster_id.is_none() && !none.cluster_id_from_kube_system);
    }

    #[test]
    fn the_extra_user_agent_should_reach_the_arm_config() {
        let config = config(&["--extra-user-agent", "helm-chart/aks/vk/1.6.1"]).unwrap();
        assert!(
            config
                .arm
                .user_agent()
                .ends_with(" helm-chart/aks/vk/1.6.1")
        );
        assert_eq!(config.arm.location, "westeurope");
    }

    #[test]
    fn vnet_mode_should_set_the_subnet_check_and_the_extensions() {
        let sa = service_account();
        let config = config(&[
            "--vnet-name",
            "vn",
            "--subnet-name",
            "aci",
            "--subnet-cidr",
            "10.241.0.0/16",
            "--enable-real-time-metrics",
            "true",
            "--service-account-dir",
            sa.path().to_str().unwrap(),
        ])
        .unwrap();
        let subnet = config.subnet.expect("vnet mode checks its subnet");
        assert_eq!(subnet.subnet.resource_group, "rg");
        assert_eq!(subnet.cidr.unwrap().to_string(), "10.241.0.0/16");
        assert_eq!(config.aci.node.subnet_ids, [subnet.subnet.id()]);
        assert!(config.aci.node.realtime_metrics);
        assert!(config.aci.stats.realtime, "the extension's agent is read");
        let proxy = config.aci.kube_proxy.expect("kube-proxy in vnet mode");
        assert_eq!(proxy.master_uri, "10.0.0.1");
        assert_eq!(proxy.cluster_cidr, "10.240.0.0/16");
    }

    #[test]
    fn without_a_subnet_there_should_be_no_vnet_settings() {
        let config = config(&[
            "--master-uri",
            "https://x",
            "--enable-real-time-metrics",
            "true",
        ])
        .unwrap();
        assert!(config.subnet.is_none());
        assert!(config.aci.kube_proxy.is_none());
        assert!(!config.aci.node.realtime_metrics);
    }

    #[test]
    fn bad_vnet_settings_should_name_the_setting() {
        let sa = service_account();
        let sa = sa.path().to_str().unwrap();
        let vnet = [
            "--vnet-name",
            "vn",
            "--subnet-name",
            "aci",
            "--service-account-dir",
            sa,
        ];
        for (extra, expected) in [
            (&["--subnet-cidr", "10.241.0.0"][..], "ACI_SUBNET_CIDR"),
            (&["--cluster-cidr", "everything"][..], "CLUSTER_CIDR"),
            (&["--master-uri", "https://"][..], "MASTER_URI"),
            (
                &["--enable-real-time-metrics", "sure"][..],
                "ENABLE_REAL_TIME_METRICS",
            ),
        ] {
            let mut args = vnet.to_vec();
            args.extend_from_slice(extra);
            let err = config(&args).unwrap_err();
            assert!(err.0.contains(expected), "{extra:?}: {err}");
        }
        let err = config(&["--subnet-name", "aci"]).unwrap_err();
        assert!(err.0.contains("ACI_VNET_NAME"), "{err}");
    }
}
