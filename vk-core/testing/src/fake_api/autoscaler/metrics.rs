//! `computeReplicasForMetrics`: the replica count each metric of an HPA proposes, from
//! `metrics.k8s.io` pod metrics and the pods' requests, and the highest of them.
use jiff::SignedDuration;
use serde_json::{Value, json};

use super::super::metrics_api;
use super::super::metrics_storage::Usage;
use super::super::quantity::{self, Quantity};
use super::super::resources::ids;
use super::super::selectors::{FieldSelector, LabelSelector};
use super::super::store::Filter;
use super::controller::{Controller, Scale};
use super::hpa::{i32_at, key_of, metric_specs, s};
use super::replicas::{self, PodMetric, PodMetricsInfo, Proposal, Readiness, Tolerance};
use super::status::set_condition;

const NO_CUSTOM_METRICS: &str = "unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered";

/// A failed metric: the condition it proposes and the error.
struct MetricFailure {
    reason: &'static str,
    message: String,
    error: String,
}

/// What the metrics propose together: the replica count, the metric that proposed it
/// and every metric's status.
type Computed = (i32, String, Vec<Value>);

/// What one metric proposes.
struct MetricProposal {
    replicas: i32,
    name: String,
    status: Value,
}

impl Controller {
    /// `computeReplicasForMetrics`: the highest proposal, the metric that made it and the
    /// statuses, or the error and statuses when no metric (or, on a scale-down, not every
    /// metric) could be computed.
    pub(super) fn compute_for_metrics(
        &self,
        hpa: &Value,
        scale: &Scale,
        selectors: &[(String, String, LabelSelector)],
        status: &mut Value,
        now: &str,
    ) -> Result<Computed, (String, Vec<Value>)> {
        let ns = s(hpa, "/metadata/namespace");
        let selector = self
            .validate_selector(hpa, &scale.selector, selectors, status, now)
            .map_err(|e| (e, Vec::new()))?;
        let pods = self
            .st
            .store
            .list(
                ids::pods(),
                &Filter {
                    ns: Some(ns.to_owned()),
                    labels: selector.clone(),
                    fields: FieldSelector::default(),
                },
                None,
                None,
            )
            .0;
        let specs = metric_specs(&hpa["spec"]);
        let mut statuses = vec![json!({"type": ""}); specs.len()];
        let mut replicas = 0;
        let mut metric = String::new();
        let mut invalid = 0;
        let mut first_failure: Option<MetricFailure> = None;
        for (i, spec) in specs.iter().enumerate() {
            match self.compute_for_metric(hpa, spec, scale.spec_replicas, &selector, &pods) {
                Ok(p) => {
                    statuses[i] = p.status;
                    if replicas == 0 || p.replicas > replicas {
                        replicas = p.replicas;
                        metric = p.name;
                    }
                }
                Err(f) => {
                    self.event(hpa, "Warning", f.reason, &f.message);
                    invalid += 1;
                    if first_failure.is_none() {
                        first_failure = Some(f);
                    }
                }
            }
        }
        if let Some(f) = &first_failure
            && (invalid >= specs.len() || replicas < scale.spec_replicas)
        {
            set_condition(
                status,
                "ScalingActive",
                false,
                f.reason,
                &format!(
                    "the HPA was unable to compute the replica count: {}",
                    f.message
                ),
                now,
            );
            return Err((
                format!(
                    "invalid metrics ({invalid} invalid out of {}), first error is: {}",
                    specs.len(),
                    f.error
                ),
                statuses,
            ));
        }
        set_condition(
            status,
            "ScalingActive",
            true,
            "ValidMetricFound",
            &format!("the HPA was able to successfully calculate a replica count from {metric}"),
            now,
        );
        Ok((replicas, metric, statuses))
    }

    fn validate_selector(
        &self,
        hpa: &Value,
        selector: &str,
        selectors: &[(String, String, LabelSelector)],
        status: &mut Value,
        now: &str,
    ) -> Result<LabelSelector, String> {
        if selector.is_empty() {
            self.event(hpa, "Warning", "SelectorRequired", "selector is required");
            set_condition(
                status,
                "ScalingActive",
                false,
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
                now,
            );
            return Err("selector is required".into());
        }
        let parsed = LabelSelector::parse(selector).map_err(|e| {
            let msg = format!(
                "couldn't convert selector into a corresponding internal selector object: {}",
                e.message
            );
            self.event(hpa, "Warning", "InvalidSelector", &msg);
            set_condition(status, "ScalingActive", false, "InvalidSelector", &msg, now);
            msg
        })?;
        let ns = s(hpa, "/metadata/namespace");
        let pods = self
            .st
            .store
            .list(
                ids::pods(),
                &Filter {
                    ns: Some(ns.to_owned()),
                    labels: parsed.clone(),
                    fields: FieldSelector::default(),
                },
                None,
                None,
            )
            .0;
        let me = key_of(hpa);
        let controlling: Vec<String> = selectors
            .iter()
            .filter(|(k, _, sel)| {
                k.starts_with(&format!("{ns}/"))
                    && (*k == me || pods.iter().any(|p| sel.matches(p)))
            })
            .map(|(_, name, _)| format!("{{{name} {ns}}}"))
            .collect();
        if controlling.len() > 1 {
            let msg = format!(
                "pods by selector {selector} are controlled by multiple HPAs: [{}]",
                controlling.join(" ")
            );
            self.event(hpa, "Warning", "AmbiguousSelector", &msg);
            set_condition(
                status,
                "ScalingActive",
                false,
                "AmbiguousSelector",
                &msg,
                now,
            );
            return Err(msg);
        }
        Ok(parsed)
    }

    /// `computeReplicasForMetric` for one metric spec.
    fn compute_for_metric(
        &self,
        hpa: &Value,
        spec: &Value,
        current: i32,
        selector: &LabelSelector,
        pods: &[Value],
    ) -> Result<MetricProposal, MetricFailure> {
        let fail = |reason: &'static str, inner: String, outer: String| MetricFailure {
            reason,
            message: inner,
            error: outer,
        };
        let ty = s(spec, "/type");
        match ty {
            "Resource" | "ContainerResource" => {
                let container_metric = ty == "ContainerResource";
                let source = if container_metric {
                    &spec["containerResource"]
                } else {
                    &spec["resource"]
                };
                let name = s(source, "/name");
                let container = container_metric.then(|| s(source, "/container"));
                let reason = if container_metric {
                    "FailedGetContainerResourceMetric"
                } else {
                    "FailedGetResourceMetric"
                };
                let outer = |e: &str| {
                    if container_metric {
                        format!(
                            "failed to get {} container metric value: {e}",
                            container.unwrap_or_default()
                        )
                    } else {
                        format!("failed to get {name} resource metric value: {e}")
                    }
                };
                match self.resource_proposal(
                    hpa,
                    current,
                    name,
                    container,
                    &source["target"],
                    selector,
                    pods,
                ) {
                    Ok((replicas, metric, current_value)) => {
                        let mut status = json!({"type": ty});
                        let key = if container_metric {
                            "containerResource"
                        } else {
                            "resource"
                        };
                        status[key] = json!({"name": name, "current": current_value});
                        if let Some(c) = container {
                            status[key]["container"] = json!(c);
                        }
                        Ok(MetricProposal {
                            replicas,
                            name: metric,
                            status,
                        })
                    }
                    Err(e) => Err(fail(reason, e.clone(), outer(&e))),
                }
            }
            "Pods" => {
                let metric = s(spec, "/pods/metric/name");
                let e = format!("unable to get metric {metric}: {NO_CUSTOM_METRICS}");
                Err(fail(
                    "FailedGetPodsMetric",
                    e.clone(),
                    format!("failed to get pods metric value: {e}"),
                ))
            }
            "Object" => {
                let metric = s(spec, "/object/metric/name");
                let obj = &spec["object"]["describedObject"];
                let e = format!(
                    "unable to get metric {metric}: {} {}/{} {NO_CUSTOM_METRICS}",
                    s(obj, "/kind"),
                    s(hpa, "/metadata/namespace"),
                    s(obj, "/name")
                );
                Err(fail(
                    "FailedGetObjectMetric",
                    e.clone(),
                    format!("failed to get object metric value: {e}"),
                ))
            }
            "External" => {
                let metric = s(spec, "/external/metric/name");
                let e = format!(
                    "unable to get external metric {}/{metric}: unable to fetch metrics from external metrics API: the server could not find the requested resource",
                    s(hpa, "/metadata/namespace")
                );
                Err(fail(
                    "FailedGetExternalMetric",
                    e.clone(),
                    format!("failed to get {metric} external metric value: {e}"),
                ))
            }
            other => {
                let e = format!("unknown metric source type \"{other}\"");
                Err(fail("InvalidMetricSourceType", e.clone(), e))
            }
        }
    }

    /// `computeStatusForResourceMetricGeneric`: the proposal, the metric's name and its
    /// `current` status.
    #[allow(clippy::too_many_arguments)] // one per input of the upstream function
    fn resource_proposal(
        &self,
        hpa: &Value,
        current: i32,
        resource: &str,
        container: Option<&str>,
        target: &Value,
        selector: &LabelSelector,
        pods: &[Value],
    ) -> Result<(i32, String, Value), String> {
        let ns = s(hpa, "/metadata/namespace");
        let tolerance = Tolerance(self.cfg.tolerance);
        let readiness = Readiness {
            cpu_initialization_period: SignedDuration::try_from(self.cfg.cpu_initialization_period)
                .unwrap_or(SignedDuration::MAX),
            delay_of_initial_readiness_status: SignedDuration::try_from(
                self.cfg.initial_readiness_delay,
            )
            .unwrap_or(SignedDuration::MAX),
            now: self.st.clock.now(),
        };
        if let Some(avg) = target.get("averageValue").filter(|v| !v.is_null()) {
            let target_milli = avg
                .as_str()
                .and_then(Quantity::parse)
                .map(|q| q.milli_value())
                .or_else(|| avg.as_i64().map(|n| n.saturating_mul(1000)))
                .unwrap_or(0);
            let metrics = self
                .resource_metrics(ns, resource, selector, container)
                .map_err(|e| format!("failed to get {resource} usage: unable to get metrics for resource {resource}: {e}"))?;
            let Proposal { replicas, raw, .. } = replicas::raw_resource_replicas(
                current,
                target_milli,
                resource,
                tolerance,
                pods,
                metrics,
                &readiness,
            )
            .map_err(|e| format!("failed to get {resource} usage: {e}"))?;
            return Ok((
                replicas,
                format!("{resource} resource"),
                json!({"averageValue": quantity::milli(raw).to_string()}),
            ));
        }
        let Some(target_utilization) = i32_at(target, "/averageUtilization") else {
            return Err("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set".into());
        };
        let metrics = self
            .resource_metrics(ns, resource, selector, container)
            .map_err(|e| format!("failed to get {resource} utilization: unable to get metrics for resource {resource}: {e}"))?;
        let p = replicas::resource_replicas(
            current,
            target_utilization,
            resource,
            tolerance,
            container,
            pods,
            metrics,
            &readiness,
        )
        .map_err(|e| format!("failed to get {resource} utilization: {e}"))?;
        let name = if container.is_some() {
            format!("{resource} container resource utilization (percentage of request)")
        } else {
            format!("{resource} resource utilization (percentage of request)")
        };
        Ok((
            p.replicas,
            name,
            json!({"averageUtilization": p.utilization, "averageValue": quantity::milli(p.raw).to_string()}),
        ))
    }

    /// `GetResourceMetric`: each pod's usage of `resource` in thousandths, from
    /// `metrics.k8s.io` (summed over its containers, or the named container's).
    fn resource_metrics(
        &self,
        ns: &str,
        resource: &str,
        selector: &LabelSelector,
        container: Option<&str>,
    ) -> Result<PodMetricsInfo, String> {
        let Some(storage) = &self.st.metrics else {
            return Err("unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)".into());
        };
        let items = metrics_api::pod_metrics(
            &self.st,
            storage,
            Some(ns),
            selector,
            &FieldSelector::default(),
        );
        if items.is_empty() {
            return Err("no metrics returned from resource metrics API".into());
        }
        let milli = |u: &Usage| -> Option<i64> {
            match resource {
                "cpu" => Some(quantity::nano_cores(u.cpu_nano_cores).milli_value()),
                "memory" => Some(quantity::bytes(u.memory).milli_value()),
                _ => None,
            }
        };
        let mut out = PodMetricsInfo::new();
        for item in &items {
            let at = |value| PodMetric {
                value,
                timestamp: item.usage.timestamp,
                window: item.usage.window,
            };
            match container {
                Some(c) => {
                    let (_, u) = item
                        .usage
                        .containers
                        .iter()
                        .find(|(n, _)| n == c)
                        .ok_or_else(|| {
                            format!(
                                "failed to get container metrics: container {c} not present in metrics for pod {}/{}",
                                item.namespace, item.name
                            )
                        })?;
                    if let Some(v) = milli(u) {
                        out.insert(item.name.clone(), at(v));
                    }
                }
                None => {
                    if item.usage.containers.is_empty() {
                        continue;
                    }
                    let sum: Option<i64> = item
                        .usage
                        .containers
                        .iter()
                        .map(|(_, u)| milli(u))
                        .try_fold(0_i64, |a, v| v.map(|v| a.saturating_add(v)));
                    if let Some(v) = sum {
                        out.insert(item.name.clone(), at(v));
                    }
                }
            }
        }
        Ok(out)
    }
}
