//! CPU, memory and GPU: Kubernetes quantities to ACI's 0.01 CPU and 0.1 GB steps, rounded up.
//!
//! Quantities are parsed exactly (no floating point) and rounded up, so a container never gets
//! less than it asked for. GB means 10^9 bytes. A container that asks for nothing gets the
//! node's defaults (upstream: 1 CPU, 1.5 GB); one that sets only a limit gets it as request,
//! like Kubernetes.
//!
//! Limits: ACI refuses a container whose limit is above the group's total requests (the sum
//! of every container's request). Kubernetes allows it (a burstable container), and injected
//! sidecars often do it, so such a limit is clamped to the group's total request, with a
//! warning, instead of failing the pod: the container may still burst up to everything the
//! group asked for.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::container_group::{
    GpuResource, GpuSku, ResourceLimits, ResourceRequests, ResourceRequirements,
};
use crate::error::Findings;
use crate::node::NodeOptions;

/// Largest total CPU of a Standard group, in cores (aci-spec README).
pub const MAX_GROUP_CPU: f64 = 31.0;
/// Largest total memory of a Standard group, in GB (aci-spec README).
pub const MAX_GROUP_MEMORY_IN_GB: f64 = 240.0;
/// ACI's CPU step, in cores.
pub const CPU_STEP: f64 = 0.01;
/// ACI's memory step, in GB.
pub const MEMORY_STEP_IN_GB: f64 = 0.1;

const MAX_CPU_HUNDREDTHS: u128 = 3100;
const MAX_MEMORY_TENTHS: u128 = 2400;

/// Resource name of NVIDIA GPUs.
pub const NVIDIA_GPU: &str = "nvidia.com/gpu";
/// Pod annotation choosing the GPU SKU (upstream provider's).
pub const GPU_SKU_ANNOTATION: &str = "virtual-kubelet.io/gpu-type";

/// What a container was granted, in ACI steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Granted {
    /// Requested CPU, hundredths of a core.
    pub(crate) cpu: u128,
    /// Requested memory, tenths of a GB.
    pub(crate) memory: u128,
    /// CPU limit, hundredths of a core.
    pub(crate) cpu_limit: Option<u128>,
    /// Memory limit, tenths of a GB.
    pub(crate) memory_limit: Option<u128>,
    /// GPUs.
    pub(crate) gpu: u32,
}

impl Granted {
    /// The ACI form.
    pub(crate) fn to_requirements(self, gpu_sku: &GpuSku) -> ResourceRequirements {
        let gpu = (self.gpu > 0).then(|| GpuResource {
            count: i32::try_from(self.gpu).unwrap_or(i32::MAX),
            sku: gpu_sku.clone(),
        });
        let limits = (self.cpu_limit.is_some() || self.memory_limit.is_some() || gpu.is_some())
            .then(|| ResourceLimits {
                memory_in_gb: self.memory_limit.map(tenths),
                cpu: self.cpu_limit.map(hundredths),
                gpu: gpu.clone(),
            });
        ResourceRequirements {
            requests: ResourceRequests {
                memory_in_gb: tenths(self.memory),
                cpu: hundredths(self.cpu),
                gpu,
            },
            limits,
        }
    }

    /// CPU cap in millicores (limit, else request), for the downward API.
    pub(crate) fn cpu_limit_millis(&self) -> u128 {
        self.cpu_limit.unwrap_or(self.cpu) * 10
    }

    /// Memory cap in bytes (limit, else request), for the downward API.
    pub(crate) fn memory_limit_bytes(&self) -> u128 {
        self.memory_limit.unwrap_or(self.memory) * 100_000_000
    }
}

// Exact: values are bounded by the group limits checked before.
fn hundredths(v: u128) -> f64 {
    v as f64 / 100.0
}

// Exact: values are bounded by the group limits checked before.
fn tenths(v: u128) -> f64 {
    v as f64 / 10.0
}

/// The GPU SKU a pod asks for through [`GPU_SKU_ANNOTATION`] (default V100, the only SKU
/// ACI still offers in most regions).
pub(crate) fn gpu_sku(pod: &k8s::Pod, uses_gpu: bool, findings: &mut Findings) -> GpuSku {
    let annotation = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(GPU_SKU_ANNOTATION));
    match annotation {
        Some(sku) => match GpuSku::from(sku.as_str()) {
            GpuSku::Other(_) => {
                findings.invalid(
                    format!("metadata.annotations['{GPU_SKU_ANNOTATION}']"),
                    format!("unknown gpu sku {sku:?}: ACI offers K80, P100 and V100"),
                );
                GpuSku::V100
            }
            known => known,
        },
        None => {
            if uses_gpu {
                findings.warn(
                    format!("metadata.annotations['{GPU_SKU_ANNOTATION}']"),
                    "no gpu sku annotation: V100 is used",
                );
            }
            GpuSku::V100
        }
    }
}

/// Warns about or refuses the resources ACI has no form for (anything but CPU, memory and
/// NVIDIA GPUs, and resource claims).
fn check_resource_names(
    resources: Option<&k8s::ResourceRequirements>,
    requests: &BTreeMap<String, Quantity>,
    limits: &BTreeMap<String, Quantity>,
    field: &str,
    findings: &mut Findings,
) {
    for (section, map) in [("requests", requests), ("limits", limits)] {
        for name in map.keys() {
            match name.as_str() {
                "cpu" | "memory" | NVIDIA_GPU => {}
                "ephemeral-storage" => findings.warn(
                    format!("{field}.{section}['{name}']"),
                    "ACI does not limit ephemeral storage: ignored",
                ),
                _ if name.starts_with("hugepages-") => findings.unsupported(
                    format!("{field}.{section}['{name}']"),
                    "ACI has no huge pages",
                ),
                _ => findings.unsupported(
                    format!("{field}.{section}['{name}']"),
                    format!("ACI has no resource {name:?}"),
                ),
            }
        }
    }
    if resources
        .and_then(|r| r.claims.as_ref())
        .is_some_and(|c| !c.is_empty())
    {
        findings.unsupported(
            format!("{field}.claims"),
            "ACI has no dynamic resource claims",
        );
    }
}

/// The resources of one container, in ACI steps; problems go to `findings`.
pub(crate) fn container_resources(
    resources: Option<&k8s::ResourceRequirements>,
    field: &str,
    node: &NodeOptions,
    findings: &mut Findings,
) -> Granted {
    let empty = BTreeMap::new();
    let requests = resources
        .and_then(|r| r.requests.as_ref())
        .unwrap_or(&empty);
    let limits = resources.and_then(|r| r.limits.as_ref()).unwrap_or(&empty);
    let field = format!("{field}.resources");

    check_resource_names(resources, requests, limits, &field, findings);

    let mut quantity = |section: &str, name: &str, map: &BTreeMap<String, Quantity>, scale: i32| {
        let q = map.get(name)?;
        let path = format!("{field}.{section}['{name}']");
        match parse_quantity(&q.0) {
            Some(p) => match p.ceil_scaled(scale) {
                Some(v) => Some(v),
                None => {
                    findings.over_limit(path, format!("{:?} is far above what ACI offers", q.0));
                    None
                }
            },
            None => {
                findings.invalid(path, format!("{:?} is not a valid quantity", q.0));
                None
            }
        }
    };
    // CPU in hundredths (10^2 per core), memory in tenths of GB (10^-8 per byte).
    let cpu_request = quantity("requests", "cpu", requests, 2);
    let cpu_limit = quantity("limits", "cpu", limits, 2);
    let memory_request = quantity("requests", "memory", requests, -8);
    let memory_limit = quantity("limits", "memory", limits, -8);
    let gpu_request = quantity("requests", NVIDIA_GPU, requests, 0);
    let gpu_limit = quantity("limits", NVIDIA_GPU, limits, 0);

    let default_cpu = steps(node.default_cpu, 100.0);
    let default_memory = steps(node.default_memory_in_gb, 10.0);
    // Kubernetes: a request defaults to its limit; ACI: a request is at least one step.
    let cpu = cpu_request.or(cpu_limit).unwrap_or(default_cpu).max(1);
    let memory = memory_request
        .or(memory_limit)
        .unwrap_or(default_memory)
        .max(1);

    for (name, request, limit, unit) in [
        ("cpu", cpu, cpu_limit, "CPU"),
        ("memory", memory, memory_limit, "memory"),
    ] {
        if let Some(limit) = limit
            && limit < request
        {
            findings.invalid(
                format!("{field}.limits['{name}']"),
                format!("the {unit} limit is below the request"),
            );
        }
    }
    for (name, value, max, unit) in [
        ("cpu", cpu_limit.unwrap_or(cpu), MAX_CPU_HUNDREDTHS, "CPU"),
        (
            "memory",
            memory_limit.unwrap_or(memory),
            MAX_MEMORY_TENTHS,
            "memory",
        ),
    ] {
        if value > max {
            let section = if name == "cpu" && cpu_limit.is_some()
                || name == "memory" && memory_limit.is_some()
            {
                "limits"
            } else {
                "requests"
            };
            findings.over_limit(
                format!("{field}.{section}['{name}']"),
                format!(
                    "{unit} above ACI's largest group ({MAX_GROUP_CPU} CPU, {MAX_GROUP_MEMORY_IN_GB} GB)"
                ),
            );
        }
    }
    if let (Some(request), Some(limit)) = (gpu_request, gpu_limit)
        && request != limit
    {
        findings.invalid(
            format!("{field}.requests['{NVIDIA_GPU}']"),
            "gpu requests must equal gpu limits",
        );
    }
    let gpu = gpu_limit.or(gpu_request).unwrap_or(0);
    let gpu = u32::try_from(gpu).unwrap_or_else(|_| {
        findings.over_limit(format!("{field}.limits['{NVIDIA_GPU}']"), "too many gpus");
        0
    });

    Granted {
        cpu,
        memory,
        cpu_limit: cpu_limit.map(|l| l.max(cpu)),
        memory_limit: memory_limit.map(|l| l.max(memory)),
        gpu,
    }
}

/// Clamps each container's CPU and memory limit to the group's total requests (what ACI
/// accepts), warning for each clamped limit. `granted` holds each container's grant with its
/// pod field path.
pub(crate) fn clamp_limits_to_group(granted: &mut [(&str, &mut Granted)], findings: &mut Findings) {
    let cpu_total: u128 = granted.iter().map(|(_, g)| g.cpu).sum();
    let memory_total: u128 = granted.iter().map(|(_, g)| g.memory).sum();
    for (field, g) in granted.iter_mut() {
        if let Some(limit) = g.cpu_limit
            && limit > cpu_total
        {
            g.cpu_limit = Some(cpu_total);
            findings.warn(
                format!("{field}.resources.limits['cpu']"),
                format!(
                    "ACI caps a limit at the group's total request: {} CPU instead of {}",
                    hundredths(cpu_total),
                    hundredths(limit)
                ),
            );
        }
        if let Some(limit) = g.memory_limit
            && limit > memory_total
        {
            g.memory_limit = Some(memory_total);
            findings.warn(
                format!("{field}.resources.limits['memory']"),
                format!(
                    "ACI caps a limit at the group's total request: {} GB instead of {} GB",
                    tenths(memory_total),
                    tenths(limit)
                ),
            );
        }
    }
}

/// Checks the group's totals against ACI's bounds.
pub(crate) fn check_group_totals(granted: &[Granted], findings: &mut Findings) {
    let cpu: u128 = granted.iter().map(|g| g.cpu).sum();
    let memory: u128 = granted.iter().map(|g| g.memory).sum();
    if cpu > MAX_CPU_HUNDREDTHS {
        findings.over_limit(
            "spec.containers[*].resources.requests['cpu']",
            format!(
                "the containers request {} CPU in total; an ACI group has at most {MAX_GROUP_CPU}",
                hundredths(cpu)
            ),
        );
    }
    if memory > MAX_MEMORY_TENTHS {
        findings.over_limit(
            "spec.containers[*].resources.requests['memory']",
            format!(
                "the containers request {} GB in total; an ACI group has at most {MAX_GROUP_MEMORY_IN_GB} GB",
                tenths(memory)
            ),
        );
    }
}

// The cast is exact: the value is clamped to 1..=10^6 first.
fn steps(value: f64, per_unit: f64) -> u128 {
    let v = (value * per_unit).ceil();
    if v.is_finite() {
        v.clamp(1.0, 1e6) as u128
    } else {
        1
    }
}

// === Quantity ===

/// An exactly parsed, non-negative quantity: `mantissa * 10^exp10 * 2^exp2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ParsedQuantity {
    mantissa: u128,
    exp10: i32,
    exp2: u32,
}

impl ParsedQuantity {
    /// `ceil(value * 10^scale10)`, or `None` when it does not fit.
    pub(crate) fn ceil_scaled(self, scale10: i32) -> Option<u128> {
        let m = self.mantissa.checked_mul(1u128.checked_shl(self.exp2)?)?;
        let t = self.exp10.checked_add(scale10)?;
        if t >= 0 {
            m.checked_mul(10u128.checked_pow(u32::try_from(t).ok()?)?)
        } else {
            let Some(d) = 10u128.checked_pow(t.unsigned_abs()) else {
                return Some(u128::from(m > 0));
            };
            Some(m / d + u128::from(m % d != 0))
        }
    }
}

/// Parses a Kubernetes quantity (`500m`, `1.5Gi`, `1e3`, `2`); `None` when malformed or
/// negative.
pub(crate) fn parse_quantity(text: &str) -> Option<ParsedQuantity> {
    let text = text.trim();
    let text = text.strip_prefix('+').unwrap_or(text);
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let frac_digits = i32::try_from(frac_part.len()).ok()?;
    // 38 digits always fit in a u128.
    if digits.len() > 38 {
        return None;
    }
    let mantissa = if digits.is_empty() {
        0
    } else {
        digits.parse::<u128>().ok()?
    };
    let (exp10, exp2) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        exponent => {
            let rest = exponent.strip_prefix(['e', 'E'])?;
            if rest.is_empty() || rest.starts_with('+') && rest.len() == 1 {
                return None;
            }
            let e: i32 = rest.parse().ok()?;
            if !(-100..=100).contains(&e) {
                return None;
            }
            (e, 0)
        }
    };
    Some(ParsedQuantity {
        mantissa,
        exp10: exp10 - frac_digits,
        exp2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(q: &str) -> u128 {
        parse_quantity(q).unwrap().ceil_scaled(2).unwrap()
    }

    fn gb_tenths(q: &str) -> u128 {
        parse_quantity(q).unwrap().ceil_scaled(-8).unwrap()
    }

    #[test]
    fn cpu_should_round_up_to_hundredths() {
        assert_eq!(cpu("1"), 100);
        assert_eq!(cpu("500m"), 50);
        assert_eq!(cpu("0.29"), 29);
        assert_eq!(cpu("1m"), 1);
        assert_eq!(cpu("251m"), 26);
        assert_eq!(cpu("1.5"), 150);
        assert_eq!(cpu("2e0"), 200);
        assert_eq!(cpu("100u"), 1);
        assert_eq!(cpu("0"), 0);
    }

    #[test]
    fn memory_should_round_up_to_tenths_of_decimal_gb() {
        assert_eq!(gb_tenths("1G"), 10);
        assert_eq!(gb_tenths("512Mi"), 6);
        assert_eq!(gb_tenths("1.5Gi"), 17);
        assert_eq!(gb_tenths("1500M"), 15);
        assert_eq!(gb_tenths("1"), 1);
        assert_eq!(gb_tenths("4Ti"), 43_981);
        assert_eq!(gb_tenths("1e9"), 10);
    }

    #[test]
    fn malformed_quantities_should_be_rejected() {
        for bad in ["", "-1", "1x", "1.2.3", ".", "1e", "abc", "1Kii", "1e1000"] {
            assert!(parse_quantity(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn defaults_should_apply_without_requests() {
        let mut findings = Findings::default();
        let g = container_resources(
            None,
            "spec.containers[0]",
            &NodeOptions::default(),
            &mut findings,
        );
        assert_eq!((g.cpu, g.memory), (100, 15));
        assert!(findings.errors.is_empty());
    }
}
