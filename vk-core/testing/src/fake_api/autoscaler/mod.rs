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
mod controller;
mod hpa;
mod metrics;
mod normalize;
mod replicas;
mod status;

pub(crate) use controller::{Config, spawn};
