//! A HorizontalPodAutoscaler on a Deployment of the MockProvider node: more CPU than the
//! target scales it out, less scales it back in, and the HPA's status says why.
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams};
use vk_testing::ContainerUsage;

use super::harness::{Cluster, eventually};

const MIB: u64 = 1024 * 1024;

const DEPLOYMENT: &str = r"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      tolerations:
      - {key: virtual-kubelet.io/provider, operator: Exists}
      containers:
      - name: app
        image: nginx
        resources:
          requests: {cpu: 100m, memory: 64Mi}
";

const HPA: &str = r"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 50}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
";

/// The Deployment's `spec.replicas`.
async fn replicas(c: &Cluster) -> i32 {
    let d: Api<Deployment> = Api::default_namespaced(c.api.client());
    d.get("web").await.unwrap().spec.replicas.unwrap_or(1)
}

async fn hpa(c: &Cluster) -> HorizontalPodAutoscaler {
    let h: Api<HorizontalPodAutoscaler> = Api::default_namespaced(c.api.client());
    h.get("web").await.unwrap()
}

/// The CPU utilization the HPA last saw.
fn utilization(h: &HorizontalPodAutoscaler) -> Option<i32> {
    h.status
        .as_ref()?
        .current_metrics
        .as_ref()?
        .first()?
        .resource
        .as_ref()?
        .current
        .average_utilization
}

fn condition<'a>(h: &'a HorizontalPodAutoscaler, ty: &str) -> Option<(&'a str, &'a str)> {
    h.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == ty)
        .map(|c| (c.status.as_str(), c.reason.as_deref().unwrap_or_default()))
}

/// Wait for `n` replicas in the Deployment and in the HPA's status, with `n` running pods.
async fn settle_at(c: &Cluster, n: i32) -> HorizontalPodAutoscaler {
    let pods: Api<Pod> = Api::default_namespaced(c.api.client());
    eventually(&format!("{n} replicas"), || async {
        let h = hpa(c).await;
        let status = h.status.as_ref()?;
        let running = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .ok()?
            .items
            .iter()
            .filter(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            })
            .count();
        (replicas(c).await == n
            && status.current_replicas == Some(n)
            && status.desired_replicas == n
            && running == usize::try_from(n).unwrap())
        .then_some(h)
    })
    .await
}

#[tokio::test]
async fn an_hpa_should_scale_a_deployment_out_and_back_in_with_cpu_usage() {
    let c = Cluster::start().await;
    // 40m of 100m requested: 40% against a 50% target, one replica is right.
    c.provider
        .set_default_usage(Some(ContainerUsage::new(40, 32 * MIB)));
    c.kubectl_ok("1.33", &["apply", "-f", "-"], Some(DEPLOYMENT))
        .await;
    c.kubectl_ok("1.33", &["apply", "-f", "-"], Some(HPA)).await;

    let h = eventually("the HPA to see 40% CPU", || async {
        let h = hpa(&c).await;
        (utilization(&h) == Some(40)).then_some(h)
    })
    .await;
    assert_eq!(replicas(&c).await, 1);
    assert_eq!(condition(&h, "AbleToScale").unwrap().0, "True");
    assert_eq!(
        condition(&h, "ScalingActive"),
        Some(("True", "ValidMetricFound"))
    );
    let out = c.kubectl_ok("1.33", &["get", "hpa"], None).await;
    assert!(out.contains("Deployment/web"), "{out}");
    assert!(out.contains("cpu: 40%/50%"), "{out}");

    // 200% of the requests: ratio 4, out to the maximum of 5.
    c.provider
        .set_default_usage(Some(ContainerUsage::new(200, 32 * MIB)));
    let h = settle_at(&c, 5).await;
    assert!(h.status.as_ref().unwrap().last_scale_time.is_some());
    let h = eventually("every replica at 200%", || async {
        let h = hpa(&c).await;
        (utilization(&h) == Some(200)).then_some(h)
    })
    .await;
    assert_eq!(
        condition(&h, "ScalingLimited"),
        Some(("True", "TooManyReplicas")),
        "{:?}",
        h.status
    );
    assert_eq!(
        h.status.as_ref().unwrap().current_metrics.as_ref().unwrap()[0]
            .resource
            .as_ref()
            .unwrap()
            .current
            .average_value
            .as_ref()
            .map(|q| q.0.as_str()),
        Some("200m")
    );

    // 10%: ratio 0.2, back in to one at once (no scale-down stabilization).
    c.provider
        .set_default_usage(Some(ContainerUsage::new(10, 32 * MIB)));
    let h = settle_at(&c, 1).await;
    assert_eq!(
        condition(&h, "AbleToScale").map(|c| c.0),
        Some("True"),
        "{:?}",
        h.status
    );

    let events: Api<Event> = Api::default_namespaced(c.api.client());
    let rescales: Vec<String> = events
        .list(&ListParams::default().fields("involvedObject.name=web,reason=SuccessfulRescale"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.kind.as_deref() == Some("HorizontalPodAutoscaler"))
        .filter_map(|e| e.message)
        .collect();
    assert!(
        rescales.iter().any(|m| m
            == "New size: 5; reason: cpu resource utilization (percentage of request) above target"),
        "{rescales:?}"
    );
    assert!(
        rescales
            .iter()
            .any(|m| m == "New size: 1; reason: All metrics below target"),
        "{rescales:?}"
    );
}

#[tokio::test]
async fn kubectl_1_27_autoscale_should_make_a_v1_hpa_the_controller_runs() {
    let c = Cluster::start().await;
    c.provider
        .set_default_usage(Some(ContainerUsage::new(200, 32 * MIB)));
    c.kubectl_ok("1.27", &["apply", "-f", "-"], Some(DEPLOYMENT))
        .await;
    let out = c
        .kubectl_ok(
            "1.27",
            &[
                "autoscale",
                "deployment",
                "web",
                "--cpu-percent=50",
                "--min=1",
                "--max=3",
            ],
            None,
        )
        .await;
    assert!(out.contains("autoscaled"), "{out}");
    // No `behavior`: the legacy limit (double, at least 4) and then the maximum of 3.
    settle_at(&c, 3).await;
    eventually("the maximum to limit the scale", || async {
        let h = hpa(&c).await;
        (utilization(&h) == Some(200)
            && condition(&h, "ScalingLimited") == Some(("True", "TooManyReplicas")))
        .then_some(())
    })
    .await;
    let cpu = eventually("the v1 view of the CPU utilization", || async {
        let out = c
            .kubectl_ok(
                "1.27",
                &[
                    "get",
                    "horizontalpodautoscalers.v1.autoscaling",
                    "web",
                    "-o",
                    "jsonpath={.spec.targetCPUUtilizationPercentage} {.status.currentCPUUtilizationPercentage}",
                ],
                None,
            )
            .await;
        (out == "50 200").then_some(out)
    })
    .await;
    assert_eq!(cpu, "50 200");
}
