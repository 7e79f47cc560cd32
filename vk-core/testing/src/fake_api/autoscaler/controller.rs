//! The controller loop: every sync period each HPA is reconciled against its target's
//! scale, the metrics' proposal is normalized, the target rescaled and the status and
//! events written.
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::time::{self, Duration, Instant, MissedTickBehavior};

use super::super::registry;
use super::super::resources::{self, RESOURCES, ResId, ids};
use super::super::selectors::LabelSelector;
use super::super::state::State;
use super::super::store::{Filter, ObjKey};
use super::behavior::{Memory, behavior};
use super::hpa::{i32_at, key_of, s, selector_text, stamp};
use super::normalize::{normalize, normalize_with};
use super::status::{set_condition, set_current, synced_status};

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

pub(super) struct Controller {
    pub(super) st: Arc<State>,
    pub(super) cfg: Config,
    /// Recommendations and scale events per `namespace/name`.
    pub(super) memory: HashMap<String, Memory>,
}

/// The scale of a target, as its `scale` subresource shows it.
pub(super) struct Scale {
    pub(super) res: ResId,
    pub(super) name: String,
    pub(super) resource_version: String,
    pub(super) spec_replicas: i32,
    pub(super) selector: String,
}

/// A scale update the controller decided on.
#[derive(Clone, Copy)]
struct Rescale<'a> {
    key: &'a str,
    ns: &'a str,
    current: i32,
    desired: i32,
    reason: &'a str,
    instant: Instant,
    now: &'a str,
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
            match self.desired_from_metrics(hpa, &scale, selectors, &mut status, instant, &now) {
                Ok((proposed, why, metric_statuses)) => {
                    desired = proposed;
                    reason = why;
                    statuses = Some(metric_statuses);
                }
                Err(metric_statuses) => {
                    set_current(&mut status, current, metric_statuses);
                    self.write_status(hpa, &original, status);
                    return;
                }
            }
            rescale = desired != current;
        }

        if rescale {
            let to = Rescale {
                key: &key,
                ns: &ns,
                current,
                desired,
                reason: &reason,
                instant,
                now: &now,
            };
            if !self.rescale(hpa, &scale, &to, &mut status) {
                set_current(&mut status, current, statuses.unwrap_or_default());
                self.write_status(hpa, &original, status);
                return;
            }
        } else {
            desired = current;
        }
        let next = synced_status(&status, current, desired, rescale, statuses, &now);
        self.write_status(hpa, &original, next);
    }

    /// The replica count the metrics propose, normalized, with the reason and the metrics'
    /// statuses; the statuses alone when the metrics could not be computed (the event is
    /// recorded).
    fn desired_from_metrics(
        &mut self,
        hpa: &Value,
        scale: &Scale,
        selectors: &[(String, String, LabelSelector)],
        status: &mut Value,
        instant: Instant,
        now: &str,
    ) -> Result<(i32, String, Vec<Value>), Vec<Value>> {
        let key = key_of(hpa);
        let spec = &hpa["spec"];
        let current = scale.spec_replicas;
        let min = i32_at(spec, "/minReplicas").unwrap_or(1);
        let max = i32_at(spec, "/maxReplicas").unwrap_or(0);
        let computed = self.compute_for_metrics(hpa, scale, selectors, status, now);
        let (proposed, metric, metric_statuses) = match computed {
            Ok(c) => c,
            Err((err, metric_statuses)) => {
                let target = &spec["scaleTargetRef"];
                let ns = s(hpa, "/metadata/namespace");
                let reference = format!("{}/{ns}/{}", s(target, "/kind"), s(target, "/name"));
                self.event(hpa, "Warning", "FailedComputeMetricsReplicas", &err);
                tracing::debug!(hpa = %key, error = %err, "failed to compute desired number of replicas based on listed metrics for {reference}");
                return Err(metric_statuses);
            }
        };
        let mut desired = 0;
        let mut reason = String::new();
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
        let memory = self.memory.entry(key).or_default();
        let desired = match behavior(spec, window) {
            None => normalize(
                memory, status, current, desired, min, max, window, instant, now,
            ),
            Some(b) => normalize_with(memory, &b, status, current, desired, min, max, instant, now),
        };
        Ok((desired, reason, metric_statuses))
    }

    /// Update the target's scale to `to.desired`, with the condition and event the outcome
    /// calls for; `false` when the update failed.
    fn rescale(
        &mut self,
        hpa: &Value,
        scale: &Scale,
        to: &Rescale<'_>,
        status: &mut Value,
    ) -> bool {
        let Rescale {
            key,
            ns,
            current,
            desired,
            reason,
            instant,
            now,
        } = *to;
        let spec = &hpa["spec"];
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
            ns,
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
                status,
                "AbleToScale",
                false,
                "FailedUpdateScale",
                &format!(
                    "the HPA controller was unable to update the target scale: {}",
                    e.message
                ),
                now,
            );
            return false;
        }
        set_condition(
            status,
            "AbleToScale",
            true,
            "SucceededRescale",
            &format!("the HPA controller was able to update the target scale to {desired}"),
            now,
        );
        self.event(
            hpa,
            "Normal",
            "SuccessfulRescale",
            &format!("New size: {desired}; reason: {reason}"),
        );
        if let Some(b) = behavior(spec, self.cfg.downscale_stabilization) {
            self.memory
                .entry(key.to_owned())
                .or_default()
                .store_event(&b, current, desired, instant);
        }
        tracing::info!(hpa = %key, current, desired, reason = %reason, "successfully rescaled");
        true
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
    pub(super) fn event(&self, hpa: &Value, ty: &str, reason: &str, message: &str) {
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
