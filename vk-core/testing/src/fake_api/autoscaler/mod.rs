//! kube-controller-manager's HorizontalPodAutoscaler controller
//! (`pkg/controller/podautoscaler/horizontal.go`), for `autoscaling/v2` objects (v1
//! objects are the same objects, converted). Every sync period each HPA is reconciled:
//! its target's scale (Deployments and ReplicaSets, through their `scale` subresource),
//! the replica count each metric proposes from `metrics.k8s.io` (resource and container
//! resource metrics, `Utilization` of requests or `AverageValue`), the highest proposal,
//! normalized by `behavior` (stabilization windows, rate policies) or the legacy rules,
//! then a scale update, a `SuccessfulRescale` event and the status (`currentReplicas`,
//! `desiredReplicas`, `currentMetrics`, `lastScaleTime`, conditions `AbleToScale`,
//! `ScalingActive`, `ScalingLimited`).
//!
//! Differences: every HPA is synced on one timer (upstream queues each HPA to come back a
//! sync period after its last sync); `Pods`, `Object` and `External` metrics fail as on a
//! cluster without the custom and external metrics APIs; the per-rule `tolerance` field
//! (alpha in 1.33) is not read.
mod behavior;
mod replicas;

use std::collections::HashMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::time::{self, Duration, Instant, MissedTickBehavior};

use self::behavior::{Behavior, Memory, behavior, limit_without_behavior};
use self::replicas::{PodMetric, PodMetricsInfo, Proposal, Readiness, Tolerance};
use super::metrics_api;
use super::quantity::{self, Quantity};
use super::registry;
use super::resources::{self, RESOURCES, ResId, ids};
use super::selectors::{FieldSelector, LabelSelector};
use super::state::State;
use super::store::{Filter, ObjKey};

/// The field manager of the controller's writes.
const MANAGER: &str = "kube-controller-manager";

/// The controller's settings, kube-controller-manager's flags.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// `--horizontal-pod-autoscaler-sync-period` (15 s).
    pub sync_period: Duration,
    /// `--horizontal-pod-autoscaler-downscale-stabilization` (5 min).
    pub downscale_stabilization: Duration,
    /// `--horizontal-pod-autoscaler-tolerance` (0.1).
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min).
    pub cpu_initialization_period: Duration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s).
    pub initial_readiness_delay: Duration,
}

/// Start the controller; it stops with the server.
pub(crate) fn spawn(st: Arc<State>, cfg: Config) {
    tokio::spawn(async move {
        let mut controller = Controller {
            st,
            cfg,
            memory: HashMap::new(),
        };
        let mut ticker = time::interval(cfg.sync_period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Upstream queues a new HPA to be synced one period after it is seen.
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => controller.sync_all(),
                () = controller.st.stop.cancelled() => break,
            }
        }
    });
}

struct Controller {
    st: Arc<State>,
    cfg: Config,
    /// Recommendations and scale events per `namespace/name`.
    memory: HashMap<String, Memory>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn i32_at(v: &Value, p: &str) -> Option<i32> {
    v.pointer(p)
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
}

fn stamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The scale of a target, as its `scale` subresource shows it.
struct Scale {
    res: ResId,
    name: String,
    resource_version: String,
    spec_replicas: i32,
    selector: String,
}

/// A label selector object (`matchLabels`, `matchExpressions`) as selector text.
fn selector_text(sel: &Value) -> String {
    let mut parts: Vec<String> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = s(e, "/key");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        parts.push(match s(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "DoesNotExist" => format!("!{key}"),
            _ => key.to_owned(),
        });
    }
    parts.sort();
    parts.join(",")
}

/// The status conditions being built, set as `setConditionInList` does.
fn set_condition(status: &mut Value, ty: &str, ok: bool, reason: &str, message: &str, now: &str) {
    let want = if ok { "True" } else { "False" };
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let Some(list) = status["conditions"].as_array_mut() else {
        return;
    };
    let idx = match list.iter().position(|c| c["type"] == ty) {
        Some(i) => i,
        None => {
            list.push(json!({"type": ty, "status": ""}));
            list.len() - 1
        }
    };
    let c = &mut list[idx];
    if c["status"] != want {
        c["lastTransitionTime"] = json!(now);
    }
    c["status"] = json!(want);
    c["reason"] = json!(reason);
    c["message"] = json!(message);
}

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
    fn sync_all(&mut self) {
        let hpas = self
            .st
            .store
            .list(
                ids::horizontal_pod_autoscalers(),
                &Filter::default(),
                None,
                None,
            )
            .0;
        let keys: Vec<String> = hpas.iter().map(key_of).collect();
        self.memory.retain(|k, _| keys.contains(k));
        // The selectors of every HPA's target, for the "controlled by multiple HPAs" check.
        let selectors: Vec<(String, String, LabelSelector)> = hpas
            .iter()
            .filter_map(|h| {
                let scale = self
                    .scale(s(h, "/metadata/namespace"), &h["spec"]["scaleTargetRef"])
                    .ok()?;
                let sel = LabelSelector::parse(&scale.selector).ok()?;
                (!scale.selector.is_empty())
                    .then(|| (key_of(h), s(h, "/metadata/name").to_owned(), sel))
            })
            .collect();
        for hpa in &hpas {
            self.reconcile(hpa, &selectors);
        }
    }

    /// The target's scale: its resource must be served with a `scale` subresource.
    fn scale(&self, ns: &str, target: &Value) -> Result<Scale, String> {
        let api_version = s(target, "/apiVersion");
        let group = match api_version.split_once('/') {
            Some((g, _)) => g,
            None => "",
        };
        let kind = s(target, "/kind");
        let name = s(target, "/name");
        let res = RESOURCES
            .iter()
            .position(|r| r.group == group && r.kind == kind && r.has_subresource("scale"))
            .ok_or_else(|| format!("no matches for kind \"{kind}\" in group \"{group}\""))?;
        let r = resources::get(res);
        let obj = self
            .st
            .store
            .get(&ObjKey::new(res, ns, name))
            .ok_or_else(|| {
                let qualified = if r.group.is_empty() {
                    r.plural.to_owned()
                } else {
                    format!("{}.{}", r.plural, r.group)
                };
                format!("{qualified} \"{name}\" not found")
            })?;
        Ok(Scale {
            res,
            name: name.to_owned(),
            resource_version: s(&obj, "/metadata/resourceVersion").to_owned(),
            spec_replicas: i32_at(&obj, "/spec/replicas").unwrap_or(1),
            selector: obj
                .pointer("/spec/selector")
                .map(selector_text)
                .unwrap_or_default(),
        })
    }

    fn reconcile(&mut self, hpa: &Value, selectors: &[(String, String, LabelSelector)]) {
        let key = key_of(hpa);
        let ns = s(hpa, "/metadata/namespace").to_owned();
        let spec = &hpa["spec"];
        let now = stamp(self.st.clock.now());
        let original = hpa.get("status").cloned().unwrap_or_else(|| json!({}));
        let mut status = original.clone();
        if !status.is_object() {
            status = json!({});
        }
        let target = &spec["scaleTargetRef"];
        let reference = format!("{}/{ns}/{}", s(target, "/kind"), s(target, "/name"));

        let scale = match self.scale(&ns, target) {
            Ok(sc) => sc,
            Err(e) => {
                self.event(hpa, "Warning", "FailedGetScale", &e);
                set_condition(
                    &mut status,
                    "AbleToScale",
                    false,
                    "FailedGetScale",
                    &format!(
                        "the HPA controller was unable to get the target's current scale: {e}"
                    ),
                    &now,
                );
                self.write_status(hpa, &original, status);
                tracing::debug!(hpa = %key, error = %e, "failed to query scale subresource for {reference}");
                return;
            }
        };
        set_condition(
            &mut status,
            "AbleToScale",
            true,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
            &now,
        );
        let current = scale.spec_replicas;
        let instant = Instant::now();
        self.memory
            .entry(key.clone())
            .or_default()
            .record_initial(current, instant);
        let min = i32_at(spec, "/minReplicas").unwrap_or(1);
        let max = i32_at(spec, "/maxReplicas").unwrap_or(0);

        let mut desired = 0;
        let mut reason = String::new();
        let mut statuses: Option<Vec<Value>> = None;
        let rescale;
        if current == 0 && min != 0 {
            rescale = false;
            set_condition(
                &mut status,
                "ScalingActive",
                false,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
                &now,
            );
        } else if current > max {
            reason = "Current number of replicas above Spec.MaxReplicas".into();
            desired = max;
            rescale = desired != current;
        } else if current < min {
            reason = "Current number of replicas below Spec.MinReplicas".into();
            desired = min;
            rescale = desired != current;
        } else {
            let computed = self.compute_for_metrics(hpa, &scale, selectors, &mut status, &now);
            let (proposed, metric, metric_statuses) = match computed {
                Ok(c) => c,
                Err((err, metric_statuses)) => {
                    set_current(&mut status, current, metric_statuses);
                    self.write_status(hpa, &original, status);
                    self.event(hpa, "Warning", "FailedComputeMetricsReplicas", &err);
                    tracing::debug!(hpa = %key, error = %err, "failed to compute desired number of replicas based on listed metrics for {reference}");
                    return;
                }
            };
            statuses = Some(metric_statuses);
            let mut rescale_metric = String::new();
            if proposed > desired {
                desired = proposed;
                rescale_metric = metric;
            }
            if desired > current {
                reason = format!("{rescale_metric} above target");
            }
            if desired < current {
                reason = "All metrics below target".into();
            }
            let window = self.cfg.downscale_stabilization;
            let memory = self.memory.entry(key.clone()).or_default();
            desired = match behavior(spec, window) {
                None => normalize(
                    memory,
                    &mut status,
                    current,
                    desired,
                    min,
                    max,
                    window,
                    instant,
                    &now,
                ),
                Some(b) => normalize_with(
                    memory,
                    &b,
                    &mut status,
                    current,
                    desired,
                    min,
                    max,
                    instant,
                    &now,
                ),
            };
            rescale = desired != current;
        }

        if rescale {
            let body = json!({
                "apiVersion": "autoscaling/v1",
                "kind": "Scale",
                "metadata": {"name": scale.name, "namespace": ns, "resourceVersion": scale.resource_version},
                "spec": {"replicas": desired},
            });
            let r = resources::get(scale.res);
            if let Err(e) = registry::update(
                &self.st,
                r,
                scale.res,
                &ns,
                &scale.name,
                Some("scale"),
                body,
                MANAGER,
            ) {
                self.event(
                    hpa,
                    "Warning",
                    "FailedRescale",
                    &format!(
                        "New size: {desired}; reason: {reason}; error: {}",
                        e.message
                    ),
                );
                set_condition(
                    &mut status,
                    "AbleToScale",
                    false,
                    "FailedUpdateScale",
                    &format!(
                        "the HPA controller was unable to update the target scale: {}",
                        e.message
                    ),
                    &now,
                );
                set_current(&mut status, current, statuses.unwrap_or_default());
                self.write_status(hpa, &original, status);
                return;
            }
            set_condition(
                &mut status,
                "AbleToScale",
                true,
                "SucceededRescale",
                &format!("the HPA controller was able to update the target scale to {desired}"),
                &now,
            );
            self.event(
                hpa,
                "Normal",
                "SuccessfulRescale",
                &format!("New size: {desired}; reason: {reason}"),
            );
            if let Some(b) = behavior(spec, self.cfg.downscale_stabilization) {
                self.memory
                    .entry(key.clone())
                    .or_default()
                    .store_event(&b, current, desired, instant);
            }
            tracing::info!(hpa = %key, current, desired, reason = %reason, "successfully rescaled");
        } else {
            desired = current;
        }

        let mut next = json!({
            "currentReplicas": current,
            "desiredReplicas": desired,
        });
        if let Some(t) = status.get("lastScaleTime").filter(|t| !t.is_null()) {
            next["lastScaleTime"] = t.clone();
        }
        if rescale {
            next["lastScaleTime"] = json!(now);
        }
        if let Some(m) = statuses {
            next["currentMetrics"] = json!(m);
        }
        if let Some(c) = status.get("conditions") {
            next["conditions"] = c.clone();
        }
        self.write_status(hpa, &original, next);
    }

    /// `computeReplicasForMetrics`: the highest proposal, the metric that made it and the
    /// statuses, or the error and statuses when no metric (or, on a scale-down, not every
    /// metric) could be computed.
    fn compute_for_metrics(
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
        let milli = |u: &super::metrics_storage::Usage| -> Option<i64> {
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

    /// Write the status if it changed (`updateStatusIfNeeded`).
    fn write_status(&self, hpa: &Value, original: &Value, status: Value) {
        if *original == status {
            return;
        }
        let mut obj = hpa.clone();
        obj["status"] = status;
        let res = ids::horizontal_pod_autoscalers();
        let name = s(hpa, "/metadata/name");
        if let Err(e) = registry::update(
            &self.st,
            resources::get(res),
            res,
            s(hpa, "/metadata/namespace"),
            name,
            Some("status"),
            obj,
            MANAGER,
        ) {
            self.event(hpa, "Warning", "FailedUpdateStatus", &e.message);
            tracing::debug!(hpa = %key_of(hpa), error = %e.message, "failed to update status");
        }
    }

    /// Record a core/v1 event about `hpa`, counting repeats as the event recorder does.
    fn event(&self, hpa: &Value, ty: &str, reason: &str, message: &str) {
        let ns = s(hpa, "/metadata/namespace");
        let uid = s(hpa, "/metadata/uid");
        let now = stamp(self.st.clock.now());
        let events = ids::events();
        let same = self
            .st
            .store
            .list(
                events,
                &Filter {
                    ns: Some(ns.to_owned()),
                    ..Filter::default()
                },
                None,
                None,
            )
            .0
            .into_iter()
            .find(|e| {
                e["involvedObject"]["uid"] == uid
                    && e["reason"] == reason
                    && e["message"] == message
                    && e["type"] == ty
            });
        if let Some(e) = same {
            let key = ObjKey::new(events, ns, s(&e, "/metadata/name"));
            let _ = self.st.store.modify(&key, |cur| {
                let mut next = cur.clone();
                next["count"] = json!(cur["count"].as_i64().unwrap_or(1).saturating_add(1));
                next["lastTimestamp"] = json!(now);
                Ok(next)
            });
            return;
        }
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": format!("{}.", s(hpa, "/metadata/name"))},
            "involvedObject": {
                "kind": "HorizontalPodAutoscaler",
                "namespace": ns,
                "name": s(hpa, "/metadata/name"),
                "uid": uid,
                "apiVersion": "autoscaling/v2",
                "resourceVersion": s(hpa, "/metadata/resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "source": {"component": "horizontal-pod-autoscaler"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": ty,
            "reportingComponent": "horizontal-pod-autoscaler",
            "reportingInstance": "",
        });
        let _ = registry::create(&self.st, resources::get(events), events, ns, event);
    }
}

const NO_CUSTOM_METRICS: &str = "unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered";

fn key_of(hpa: &Value) -> String {
    format!(
        "{}/{}",
        s(hpa, "/metadata/namespace"),
        s(hpa, "/metadata/name")
    )
}

/// `spec.metrics`, or the API server's default (80% CPU utilization) when empty.
fn metric_specs(spec: &Value) -> Vec<Value> {
    match spec.get("metrics").and_then(Value::as_array) {
        Some(m) if !m.is_empty() => m.clone(),
        _ => vec![
            json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}),
        ],
    }
}

/// `setCurrentReplicasAndMetricsInStatus`: the status after a failure, keeping the
/// desired count.
fn set_current(status: &mut Value, current: i32, metrics: Vec<Value>) {
    let mut next = json!({
        "currentReplicas": current,
        "desiredReplicas": status.get("desiredReplicas").cloned().unwrap_or(json!(0)),
    });
    if let Some(t) = status.get("lastScaleTime").filter(|t| !t.is_null()) {
        next["lastScaleTime"] = t.clone();
    }
    if !metrics.is_empty() {
        next["currentMetrics"] = json!(metrics);
    }
    if let Some(c) = status.get("conditions") {
        next["conditions"] = c.clone();
    }
    *status = next;
}

/// `normalizeDesiredReplicas` (no `behavior`).
#[allow(clippy::too_many_arguments)] // one per input of the upstream function
fn normalize(
    memory: &mut Memory,
    status: &mut Value,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    window: Duration,
    instant: Instant,
    now: &str,
) -> i32 {
    let stabilized = memory.stabilize(desired, window, instant);
    if stabilized == desired {
        set_condition(
            status,
            "AbleToScale",
            true,
            "ReadyForNewScale",
            "recommended size matches current size",
            now,
        );
    } else {
        set_condition(
            status,
            "AbleToScale",
            true,
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent recommendation",
            now,
        );
    }
    let (replicas, reason, message) = limit_without_behavior(current, stabilized, min, max);
    set_condition(
        status,
        "ScalingLimited",
        replicas != stabilized,
        reason,
        message,
        now,
    );
    replicas
}

/// `normalizeDesiredReplicasWithBehaviors`.
#[allow(clippy::too_many_arguments)] // one per input of the upstream function
fn normalize_with(
    memory: &mut Memory,
    b: &Behavior,
    status: &mut Value,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    instant: Instant,
    now: &str,
) -> i32 {
    let (stabilized, reason, message) = memory.stabilize_with(b, current, desired, instant);
    if stabilized == desired {
        set_condition(
            status,
            "AbleToScale",
            true,
            "ReadyForNewScale",
            "recommended size matches current size",
            now,
        );
    } else {
        set_condition(status, "AbleToScale", true, reason, message, now);
    }
    let (replicas, reason, message) = memory.limit_rate(b, current, stabilized, min, max, instant);
    set_condition(
        status,
        "ScalingLimited",
        replicas != stabilized,
        reason,
        message,
        now,
    );
    replicas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_should_read_as_label_selector_text() {
        let sel = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        });
        let text = selector_text(&sel);
        assert_eq!(text, "!canary,app=web,tier in (a,b)");
        let parsed = LabelSelector::parse(&text).unwrap();
        assert!(parsed.matches(&json!({"metadata": {"labels": {"app": "web", "tier": "b"}}})));
        assert!(
            !parsed.matches(
                &json!({"metadata": {"labels": {"app": "web", "tier": "b", "canary": "1"}}})
            )
        );
    }

    #[test]
    fn conditions_should_keep_their_transition_time_while_the_status_holds() {
        let mut status = json!({});
        set_condition(&mut status, "AbleToScale", true, "A", "a", "t1");
        set_condition(&mut status, "AbleToScale", true, "B", "b", "t2");
        assert_eq!(status["conditions"][0]["lastTransitionTime"], "t1");
        assert_eq!(status["conditions"][0]["reason"], "B");
        set_condition(&mut status, "AbleToScale", false, "C", "c", "t3");
        assert_eq!(status["conditions"][0]["lastTransitionTime"], "t3");
    }
}
