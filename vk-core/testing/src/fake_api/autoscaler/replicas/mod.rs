//! kube-controller-manager's replica calculator for resource metrics
//! (`pkg/controller/podautoscaler/replica_calculator.go`): pods grouped into ready,
//! unready, missing and ignored; usage over requests; `ceil(ratio * ready pods)` outside
//! the tolerance; and the conservative rebalancing when pods lack metrics (counted at
//! 100% of their request, or of the target above 100%, on a scale-down and at 0% on a
//! scale-up) or are not ready yet (0% on a scale-up), refusing to change direction.
use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tokio::time::Duration;

use super::super::quantity::Quantity;

/// One pod's metric: the value in thousandths (millicores, milli-bytes), when it was
/// measured and over which window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PodMetric {
    /// Thousandths of the unit.
    pub value: i64,
    /// The sample's time.
    pub timestamp: Timestamp,
    /// The sample's window.
    pub window: Duration,
}

/// Metrics by pod name.
pub(crate) type PodMetricsInfo = BTreeMap<String, PodMetric>;

/// The controller's readiness settings and clock reading.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Readiness {
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min).
    pub cpu_initialization_period: SignedDuration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s).
    pub delay_of_initial_readiness_status: SignedDuration,
    /// Now, on the wall clock.
    pub now: Timestamp,
}

/// The result of a utilization calculation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Proposal {
    /// The proposed replica count.
    pub replicas: i32,
    /// Average utilization in percent of the requests (utilization targets only).
    pub utilization: i32,
    /// Average usage per pod, in thousandths.
    pub raw: i64,
}

/// The tolerance band around a ratio of 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Tolerance(pub f64);

impl Tolerance {
    fn within(self, ratio: f64) -> bool {
        (1.0 - self.0) <= ratio && ratio <= (1.0 + self.0)
    }
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn name(pod: &Value) -> String {
    s(pod, "/metadata/name").to_owned()
}

/// `t + d`, saturating at the ends of time.
fn plus(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(if d.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn time(v: &Value, p: &str) -> Option<Timestamp> {
    v.pointer(p)
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok())
}

/// How `groupPods` sorts the pods.
#[derive(Debug, Default, PartialEq, Eq)]
struct Groups {
    ready: usize,
    unready: BTreeSet<String>,
    missing: BTreeSet<String>,
    ignored: BTreeSet<String>,
}

fn group_pods(pods: &[Value], metrics: &PodMetricsInfo, cpu: bool, r: &Readiness) -> Groups {
    let mut g = Groups::default();
    for pod in pods {
        let n = name(pod);
        if pod.pointer("/metadata/deletionTimestamp").is_some()
            || s(pod, "/status/phase") == "Failed"
        {
            g.ignored.insert(n);
            continue;
        }
        if s(pod, "/status/phase") == "Pending" {
            g.unready.insert(n);
            continue;
        }
        let Some(metric) = metrics.get(&n) else {
            g.missing.insert(n);
            continue;
        };
        if cpu {
            let ready = pod
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
            let start = time(pod, "/status/startTime");
            let unready = match (ready, start) {
                (Some(cond), Some(start)) => {
                    let is_false = cond["status"] == "False";
                    let transition = time(cond, "/lastTransitionTime").unwrap_or(Timestamp::MIN);
                    if plus(start, r.cpu_initialization_period) > r.now {
                        // Still initializing: count the sample only if it covers a full
                        // window after the pod became ready.
                        let window =
                            SignedDuration::try_from(metric.window).unwrap_or(SignedDuration::MAX);
                        is_false || metric.timestamp < plus(transition, window)
                    } else {
                        // Unready and never ready since it started.
                        is_false && plus(start, r.delay_of_initial_readiness_status) > transition
                    }
                }
                _ => true,
            };
            if unready {
                g.unready.insert(n);
                continue;
            }
        }
        g.ready += 1;
    }
    g
}

/// Requests of `resource` per pod in thousandths: the named container's, or the sum over
/// the containers and restartable (sidecar) init containers. A container without the
/// request is an error, as upstream.
fn requests(
    pods: &[Value],
    container: Option<&str>,
    resource: &str,
) -> Result<BTreeMap<String, i64>, String> {
    let mut out = BTreeMap::new();
    for pod in pods {
        let n = name(pod);
        let mut containers: Vec<&Value> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        if let Some(init) = pod
            .pointer("/spec/initContainers")
            .and_then(Value::as_array)
        {
            containers.extend(init.iter().filter(|c| c["restartPolicy"] == "Always"));
        }
        let mut total: i64 = 0;
        let mut found = false;
        for c in containers {
            let cname = s(c, "/name");
            if container.is_none_or(|want| want == cname) {
                let q = c
                    .pointer(&format!("/resources/requests/{resource}"))
                    .and_then(Value::as_str)
                    .and_then(Quantity::parse)
                    .ok_or_else(|| {
                        format!("missing request for {resource} in container {cname} of Pod {n}")
                    })?;
                total = total.saturating_add(q.milli_value());
            }
            if container == Some(cname) {
                found = true;
                break;
            }
        }
        if let Some(want) = container
            && !found
        {
            return Err(format!("container {want} not found in Pod {n}"));
        }
        out.insert(n, total);
    }
    Ok(out)
}

/// `GetResourceUtilizationRatio`: the ratio of utilization to target, the utilization
/// in percent and the average raw value.
fn utilization_ratio(
    metrics: &PodMetricsInfo,
    requests: &BTreeMap<String, i64>,
    target: i32,
) -> Result<(f64, i32, i64), String> {
    let (mut used, mut requested, mut n) = (0_i128, 0_i128, 0_i128);
    for (pod, m) in metrics {
        let Some(r) = requests.get(pod) else {
            continue;
        };
        used += i128::from(m.value);
        requested += i128::from(*r);
        n += 1;
    }
    if requested == 0 {
        return Err("no metrics returned matched known pods".into());
    }
    let utilization = i32::try_from(used * 100 / requested).unwrap_or(i32::MAX);
    let raw = i64::try_from(used / n).unwrap_or(i64::MAX);
    Ok((f64::from(utilization) / f64::from(target), utilization, raw))
}

/// `GetMetricUsageRatio`: the ratio of the average to the target, and the average.
fn usage_ratio(metrics: &PodMetricsInfo, target: i64) -> (f64, i64) {
    let total: i128 = metrics.values().map(|m| i128::from(m.value)).sum();
    let len = i128::try_from(metrics.len()).unwrap_or(i128::MAX).max(1);
    let avg = i64::try_from(total / len).unwrap_or(i64::MAX);
    // Precision loss only past 2^53 thousandths.
    let ratio = avg as f64 / target as f64;
    (ratio, avg)
}

/// `ceil(ratio * n)` as a replica count.
fn ceil_replicas(ratio: f64, n: usize) -> i32 {
    // Replica counts are small; NaN and overflow saturate.
    (ratio * n as f64).ceil() as i32
}

fn remove(metrics: &mut PodMetricsInfo, pods: &BTreeSet<String>) {
    for p in pods {
        metrics.remove(p);
    }
}

const NO_READY_METRICS: &str = "did not receive metrics for targeted pods (pods might be unready)";

fn zero_at(m: &PodMetricsInfo) -> PodMetric {
    let any = m.values().next();
    PodMetric {
        value: 0,
        timestamp: any.map_or(Timestamp::MIN, |p| p.timestamp),
        window: any.map_or(Duration::ZERO, |p| p.window),
    }
}

/// `GetResourceReplicas`: replicas for a target utilization (percent of requests) of
/// `resource` over `pods`, given their `metrics`.
#[allow(clippy::too_many_arguments)] // one per input of the upstream function
pub(crate) fn resource_replicas(
    current: i32,
    target_utilization: i32,
    resource: &str,
    tolerance: Tolerance,
    container: Option<&str>,
    pods: &[Value],
    mut metrics: PodMetricsInfo,
    readiness: &Readiness,
) -> Result<Proposal, String> {
    if pods.is_empty() {
        return Err("no pods returned by selector while calculating replica count".into());
    }
    let g = group_pods(pods, &metrics, resource == "cpu", readiness);
    remove(&mut metrics, &g.ignored);
    remove(&mut metrics, &g.unready);
    if metrics.is_empty() {
        return Err(NO_READY_METRICS.into());
    }
    let requests = requests(pods, container, resource)?;
    let (ratio, utilization, raw) = utilization_ratio(&metrics, &requests, target_utilization)?;
    let proposal = |replicas| Proposal {
        replicas,
        utilization,
        raw,
    };
    let scale_up_with_unready = !g.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && g.missing.is_empty() {
        if tolerance.within(ratio) {
            return Ok(proposal(current));
        }
        return Ok(proposal(ceil_replicas(ratio, g.ready)));
    }
    let zero = zero_at(&metrics);
    if !g.missing.is_empty() {
        if ratio < 1.0 {
            // On a scale-down, missing pods count as using all of their request, or the
            // target when it is above 100%.
            let fallback = i64::from(target_utilization.max(100));
            for p in &g.missing {
                let value = requests
                    .get(p)
                    .copied()
                    .unwrap_or(0)
                    .saturating_mul(fallback)
                    / 100;
                metrics.insert(p.clone(), PodMetric { value, ..zero });
            }
        } else if ratio > 1.0 {
            for p in &g.missing {
                metrics.insert(p.clone(), zero);
            }
        }
    }
    if scale_up_with_unready {
        for p in &g.unready {
            metrics.insert(p.clone(), zero);
        }
    }
    let (new_ratio, _, _) = utilization_ratio(&metrics, &requests, target_utilization)?;
    if tolerance.within(new_ratio)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(proposal(current));
    }
    let replicas = ceil_replicas(new_ratio, metrics.len());
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(proposal(current));
    }
    Ok(proposal(replicas))
}

/// `GetRawResourceReplicas` (`calcPlainMetricReplicas`): replicas for a target average
/// value of `resource` per pod, in thousandths.
#[allow(clippy::too_many_arguments)] // one per input of the upstream function
pub(crate) fn raw_resource_replicas(
    current: i32,
    target_usage: i64,
    resource: &str,
    tolerance: Tolerance,
    pods: &[Value],
    mut metrics: PodMetricsInfo,
    readiness: &Readiness,
) -> Result<Proposal, String> {
    if pods.is_empty() {
        return Err("no pods returned by selector while calculating replica count".into());
    }
    let g = group_pods(pods, &metrics, resource == "cpu", readiness);
    remove(&mut metrics, &g.ignored);
    remove(&mut metrics, &g.unready);
    if metrics.is_empty() {
        return Err(NO_READY_METRICS.into());
    }
    let (ratio, usage) = usage_ratio(&metrics, target_usage);
    let proposal = |replicas| Proposal {
        replicas,
        utilization: 0,
        raw: usage,
    };
    let scale_up_with_unready = !g.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && g.missing.is_empty() {
        if tolerance.within(ratio) {
            return Ok(proposal(current));
        }
        return Ok(proposal(ceil_replicas(ratio, g.ready)));
    }
    let zero = zero_at(&metrics);
    if !g.missing.is_empty() {
        if ratio < 1.0 {
            // On a scale-down, missing pods count as using exactly the target.
            for p in &g.missing {
                metrics.insert(
                    p.clone(),
                    PodMetric {
                        value: target_usage,
                        ..zero
                    },
                );
            }
        } else if ratio > 1.0 {
            for p in &g.missing {
                metrics.insert(p.clone(), zero);
            }
        }
    }
    if scale_up_with_unready {
        for p in &g.unready {
            metrics.insert(p.clone(), zero);
        }
    }
    let (new_ratio, _) = usage_ratio(&metrics, target_usage);
    if tolerance.within(new_ratio)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(proposal(current));
    }
    let replicas = ceil_replicas(new_ratio, metrics.len());
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(proposal(current));
    }
    Ok(proposal(replicas))
}

#[cfg(test)]
mod tests;
