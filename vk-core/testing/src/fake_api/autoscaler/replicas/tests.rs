//! The replica calculator: the tolerance, missing and unready pods, CPU initialization,
//! requests and AverageValue targets.
use serde_json::json;

use super::*;

const TOL: Tolerance = Tolerance(0.1);

fn now() -> Timestamp {
    "2026-01-01T01:00:00Z".parse().unwrap()
}

fn readiness() -> Readiness {
    Readiness {
        cpu_initialization_period: SignedDuration::from_mins(5),
        delay_of_initial_readiness_status: SignedDuration::from_secs(30),
        now: now(),
    }
}

/// A running pod, ready since long ago, requesting `cpu` millicores.
fn pod(name: &str, cpu: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu, "memory": "100Mi"}}}]},
        "status": {
            "phase": "Running",
            "startTime": "2026-01-01T00:00:00Z",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:10Z"}],
        },
    })
}

fn metrics(values: &[(&str, i64)]) -> PodMetricsInfo {
    values
        .iter()
        .map(|(n, v)| {
            (
                (*n).to_owned(),
                PodMetric {
                    value: *v,
                    timestamp: now(),
                    window: Duration::from_secs(15),
                },
            )
        })
        .collect()
}

fn cpu(current: i32, target: i32, pods: &[Value], m: &[(&str, i64)]) -> Result<Proposal, String> {
    resource_replicas(
        current,
        target,
        "cpu",
        TOL,
        None,
        pods,
        metrics(m),
        &readiness(),
    )
}

#[test]
fn replicas_should_be_the_ceiling_of_ratio_times_ready_pods() {
    let pods = [pod("a", "100m"), pod("b", "100m")];
    // 150% of requests against a 50% target: ratio 3, 2 pods -> 6.
    let p = cpu(2, 50, &pods, &[("a", 150), ("b", 150)]).unwrap();
    assert_eq!((p.replicas, p.utilization, p.raw), (6, 150, 150));
    // 30% against 50%: ratio 0.6 -> ceil(1.2) = 2... of 2 pods stays 2; of 3 pods:
    let pods3 = [pod("a", "100m"), pod("b", "100m"), pod("c", "100m")];
    let p = cpu(3, 50, &pods3, &[("a", 30), ("b", 30), ("c", 30)]).unwrap();
    assert_eq!(p.replicas, 2);
}

#[test]
fn a_change_within_the_tolerance_should_keep_the_current_count() {
    let pods = [pod("a", "100m"), pod("b", "100m")];
    // 54% against 50%: ratio 1.08, within 10%.
    assert_eq!(
        cpu(2, 50, &pods, &[("a", 54), ("b", 54)]).unwrap().replicas,
        2
    );
    // 45% against 50%: ratio 0.9, the band's edge.
    assert_eq!(
        cpu(2, 50, &pods, &[("a", 45), ("b", 45)]).unwrap().replicas,
        2
    );
    // 44%: ratio 0.88, outside: 10 pods -> ceil(8.8) = 9.
    let names: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    let many: Vec<Value> = names.iter().map(|n| pod(n, "100m")).collect();
    let at_44: Vec<(&str, i64)> = names.iter().map(|n| (n.as_str(), 44)).collect();
    assert_eq!(cpu(10, 50, &many, &at_44).unwrap().replicas, 9);
}

#[test]
fn missing_pods_should_count_at_their_request_on_a_scale_down() {
    let pods = [
        pod("a", "100m"),
        pod("b", "100m"),
        pod("c", "100m"),
        pod("d", "100m"),
    ];
    // Three pods at 10% against 50% (ratio 0.2) but d has no metrics: it counts as
    // 100%, so the average is (10+10+10+100)/4 = 32% -> ratio 0.64 -> ceil(2.56) = 3.
    let p = cpu(4, 50, &pods, &[("a", 10), ("b", 10), ("c", 10)]).unwrap();
    assert_eq!(p.replicas, 3);
    assert_eq!(
        p.utilization, 10,
        "the reported utilization is the measured one"
    );
}

#[test]
fn missing_pods_should_count_at_zero_on_a_scale_up() {
    let pods = [pod("a", "100m"), pod("b", "100m")];
    // a at 150% (ratio 3); b missing counts 0 -> 75% -> ratio 1.5 -> ceil(3) = 3.
    assert_eq!(cpu(2, 50, &pods, &[("a", 150)]).unwrap().replicas, 3);
    // a at 60% (ratio 1.2); b at 0 -> 30% -> ratio 0.6: direction flips, keep 2.
    assert_eq!(cpu(2, 50, &pods, &[("a", 60)]).unwrap().replicas, 2);
}

#[test]
fn unready_pods_should_count_at_zero_on_a_scale_up_only() {
    let mut young = pod("b", "100m");
    young["status"]["startTime"] = json!("2026-01-01T00:59:00Z");
    young["status"]["conditions"][0]["status"] = json!("False");
    young["status"]["conditions"][0]["lastTransitionTime"] = json!("2026-01-01T00:59:00Z");
    let pods = [pod("a", "100m"), young];
    // a at 200% (ratio 4), b unready: (200+0)/2 = 100% -> ratio 2 -> 4 replicas.
    assert_eq!(
        cpu(2, 50, &pods, &[("a", 200), ("b", 500)])
            .unwrap()
            .replicas,
        4
    );
    // a at 10% (ratio 0.2): unready pods are just left out -> ceil(0.2 * 1) = 1.
    assert_eq!(
        cpu(2, 50, &pods, &[("a", 10), ("b", 500)])
            .unwrap()
            .replicas,
        1
    );
}

#[test]
fn a_sample_from_before_readiness_should_not_count_while_initializing() {
    let mut p = pod("a", "100m");
    p["status"]["startTime"] = json!("2026-01-01T00:58:00Z");
    // Ready 5 s ago; the sample is from now with a 15 s window: not a full window.
    p["status"]["conditions"][0]["lastTransitionTime"] = json!("2026-01-01T00:59:55Z");
    let e = cpu(1, 50, &[p], &[("a", 200)]).unwrap_err();
    assert_eq!(e, NO_READY_METRICS);
}

#[test]
fn pods_without_a_request_should_be_an_error() {
    let mut p = pod("a", "100m");
    p["spec"]["containers"][0]["resources"] = json!({});
    let e = cpu(1, 50, &[p], &[("a", 10)]).unwrap_err();
    assert_eq!(e, "missing request for cpu in container app of Pod a");
}

#[test]
fn terminating_and_failed_pods_should_be_ignored() {
    let mut gone = pod("b", "100m");
    gone["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:59:59Z");
    let mut failed = pod("c", "100m");
    failed["status"]["phase"] = json!("Failed");
    let pods = [pod("a", "100m"), gone, failed];
    let p = cpu(3, 50, &pods, &[("a", 100), ("b", 900), ("c", 900)]).unwrap();
    assert_eq!(p.replicas, 2, "only a counts: ratio 2 over one ready pod");
}

#[test]
fn average_value_targets_should_compare_the_average_usage() {
    let pods = [pod("a", "100m"), pod("b", "100m")];
    // 300m average against 100m: ratio 3 -> 6.
    let p = raw_resource_replicas(
        2,
        100,
        "cpu",
        TOL,
        &pods,
        metrics(&[("a", 300), ("b", 300)]),
        &readiness(),
    )
    .unwrap();
    assert_eq!((p.replicas, p.raw), (6, 300));
    // b missing on a scale-down counts as the target itself.
    let p = raw_resource_replicas(
        2,
        100,
        "cpu",
        TOL,
        &pods,
        metrics(&[("a", 20)]),
        &readiness(),
    )
    .unwrap();
    assert_eq!(p.replicas, 2, "(20+100)/2 = 60 -> ceil(1.2) = 2");
}

#[test]
fn no_pods_and_no_metrics_should_be_errors() {
    assert!(cpu(1, 50, &[], &[]).is_err());
    let e = cpu(1, 50, &[pod("a", "100m")], &[]);
    // The only pod has no metrics: it is missing, and there is nothing to compare.
    assert_eq!(e.unwrap_err(), NO_READY_METRICS);
}

#[test]
fn container_requests_should_include_sidecars_and_name_one_container() {
    let p = json!({
        "metadata": {"name": "a"},
        "spec": {
            "initContainers": [
                {"name": "init", "resources": {}},
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
            ],
            "containers": [{"name": "app", "resources": {"requests": {"cpu": "0.1"}}}],
        },
    });
    assert_eq!(
        requests(std::slice::from_ref(&p), None, "cpu").unwrap()["a"],
        150
    );
    assert_eq!(
        requests(std::slice::from_ref(&p), Some("side"), "cpu").unwrap()["a"],
        50
    );
    assert!(requests(&[p], Some("nope"), "cpu").is_err());
}
