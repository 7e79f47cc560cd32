//! Services without traffic: the API server's defaults and allocations on create (a
//! ClusterIP from the service CIDR, node ports) and the `kubernetes` Service every cluster
//! has. The EndpointSlice and Endpoints controllers are in `endpointslice_controller`.
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use rand::Rng;
use serde_json::{Value, json};

use super::defaults::set_default;
use super::resources::{Resource, ids};
use super::state::State;
use super::status::ApiError;
use super::store::Filter;

/// The service CIDR, kube-apiserver's `--service-cluster-ip-range` as kubeadm and kind
/// set it (10.96.0.0/12).
const SERVICE_CIDR: (Ipv4Addr, u32) = (Ipv4Addr::new(10, 96, 0, 0), 12);
/// The `kubernetes` Service's address, the first of the range.
pub(crate) const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";
/// kube-apiserver's `--service-node-port-range` default.
const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn in_cidr(ip: Ipv4Addr) -> bool {
    let (base, bits) = SERVICE_CIDR;
    let mask = u32::MAX << (32 - bits);
    u32::from(ip) & mask == u32::from(base)
}

/// The ClusterIPs and node ports Services hold now.
fn allocated(st: &State) -> (BTreeSet<String>, BTreeSet<i64>) {
    let (svcs, ..) = st
        .store
        .list(ids::services(), &Filter::default(), None, None);
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for svc in &svcs {
        for ip in svc
            .pointer("/spec/clusterIPs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            ips.insert(ip.as_str().unwrap_or_default().to_owned());
        }
        for p in svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = p.get("nodePort").and_then(Value::as_i64) {
                ports.insert(n);
            }
        }
    }
    (ips, ports)
}

/// Defaults, validation and allocations of a new Service, as the API server's REST
/// storage for services does them.
pub(crate) fn admit(st: &State, r: &Resource, v: &mut Value) -> Result<(), ApiError> {
    let name = s(v, "/metadata/name").to_owned();
    let invalid = |why: String| ApiError::invalid(r, &name, &why);
    if !v.get("spec").is_some_and(Value::is_object) {
        v["spec"] = json!({});
    }
    set_default(v, "/spec/type", json!("ClusterIP"));
    let ty = s(v, "/spec/type").to_owned();
    if !matches!(
        ty.as_str(),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
    ) {
        return Err(invalid(format!(
            "spec.type: Unsupported value: \"{ty}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
        )));
    }
    set_default(v, "/spec/sessionAffinity", json!("None"));
    if ty == "ExternalName" {
        if s(v, "/spec/externalName").is_empty() {
            return Err(invalid("spec.externalName: Required value".into()));
        }
        return Ok(());
    }
    let headless = s(v, "/spec/clusterIP") == "None";
    let ports = v
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ports.is_empty() && !headless {
        return Err(invalid("spec.ports: Required value".into()));
    }
    if ports.len() > 1 {
        for (i, p) in ports.iter().enumerate() {
            if s(p, "/name").is_empty() {
                return Err(invalid(format!("spec.ports[{i}].name: Required value")));
            }
        }
    }
    let (used_ips, used_ports) = allocated(st);
    let mut rng = rand::rng();
    let mut out_ports = Vec::new();
    for (i, mut p) in ports.into_iter().enumerate() {
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&port) {
            return Err(invalid(format!(
                "spec.ports[{i}].port: Invalid value: {port}: must be between 1 and 65535, inclusive"
            )));
        }
        set_default(&mut p, "/protocol", json!("TCP"));
        // An unset (or zero) targetPort is the port itself.
        if p.get("targetPort").is_none_or(|t| t.is_null() || t == 0) {
            p["targetPort"] = json!(port);
        }
        if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
            allocate_node_port(&mut p, i, &used_ports, &mut rng).map_err(invalid)?;
        }
        out_ports.push(p);
    }
    if !out_ports.is_empty() {
        v["spec"]["ports"] = json!(out_ports);
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        set_default(v, "/spec/externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set_default(v, "/spec/allocateLoadBalancerNodePorts", json!(true));
        set_default(v, "/status/loadBalancer", json!({}));
    }
    set_default(v, "/spec/internalTrafficPolicy", json!("Cluster"));
    set_default(v, "/spec/ipFamilies", json!(["IPv4"]));
    set_default(v, "/spec/ipFamilyPolicy", json!("SingleStack"));
    let ip = if headless {
        "None".to_owned()
    } else {
        allocate_cluster_ip(s(v, "/spec/clusterIP"), &used_ips, &mut rng).map_err(invalid)?
    };
    v["spec"]["clusterIP"] = json!(ip);
    v["spec"]["clusterIPs"] = json!([ip]);
    set_default(v, "/status", json!({"loadBalancer": {}}));
    Ok(())
}

/// The node port of Service port `i`: the one asked for when free and in range, else a
/// free one from the range; the error says why the asked one cannot be had.
fn allocate_node_port(
    p: &mut Value,
    i: usize,
    used_ports: &BTreeSet<i64>,
    rng: &mut impl Rng,
) -> Result<(), String> {
    match p
        .get("nodePort")
        .and_then(Value::as_i64)
        .filter(|n| *n != 0)
    {
        Some(n) if used_ports.contains(&n) => Err(format!(
            "spec.ports[{i}].nodePort: Invalid value: {n}: provided port is already allocated"
        )),
        Some(n) if !NODE_PORTS.contains(&u16::try_from(n).unwrap_or(0)) => Err(format!(
            "spec.ports[{i}].nodePort: Invalid value: {n}: provided port is not in the valid range. The range of valid ports is 30000-32767"
        )),
        Some(_) => Ok(()),
        None => {
            let n = loop {
                let n = i64::from(rng.random_range(NODE_PORTS));
                if !used_ports.contains(&n) {
                    break n;
                }
            };
            p["nodePort"] = json!(n);
            Ok(())
        }
    }
}

/// The ClusterIP of a new Service: `asked` when valid, in the service CIDR and free, else
/// a free address of the CIDR when none was asked; the error says why `asked` cannot be
/// had.
fn allocate_cluster_ip(
    asked: &str,
    used_ips: &BTreeSet<String>,
    rng: &mut impl Rng,
) -> Result<String, String> {
    if asked.is_empty() {
        let (base, bits) = SERVICE_CIDR;
        let size = 1u32 << (32 - bits);
        return Ok(loop {
            // Skip the network address and the `kubernetes` Service's.
            let ip = Ipv4Addr::from(u32::from(base) + rng.random_range(2..size - 1));
            if !used_ips.contains(&ip.to_string()) {
                break ip.to_string();
            }
        });
    }
    let Ok(parsed) = asked.parse::<Ipv4Addr>() else {
        return Err(format!(
            "spec.clusterIPs[0]: Invalid value: \"{asked}\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
        ));
    };
    if !in_cidr(parsed) {
        return Err(format!(
            "spec.clusterIPs: Invalid value: []string{{\"{asked}\"}}: failed to allocate IP {asked}: the provided IP ({asked}) is not in the valid range. The range of valid IPs is 10.96.0.0/12"
        ));
    }
    if used_ips.contains(asked) {
        return Err(format!(
            "spec.clusterIPs: Invalid value: []string{{\"{asked}\"}}: failed to allocate IP {asked}: provided IP is already allocated"
        ));
    }
    Ok(asked.to_owned())
}

/// The `kubernetes` Service in `default`, which every cluster has.
pub(crate) fn kubernetes_service() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": KUBERNETES_SERVICE_IP,
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            "sessionAffinity": "None",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_cidr_should_hold_its_addresses_only() {
        assert!(in_cidr("10.96.0.1".parse().unwrap()));
        assert!(in_cidr("10.111.255.254".parse().unwrap()));
        assert!(!in_cidr("10.112.0.1".parse().unwrap()));
        assert!(!in_cidr("192.168.0.1".parse().unwrap()));
    }
}
