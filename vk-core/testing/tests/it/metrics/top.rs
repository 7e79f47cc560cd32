//! `kubectl top pod` and `kubectl top node` show what the MockProvider was told its
//! containers use, through the kubelet's `/metrics/resource`, the fake metrics-server
//! and `metrics.k8s.io`.
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use vk_core::provider::PodKey;
use vk_testing::ContainerUsage;

use super::harness::{Cluster, NODE, eventually, mebibytes, millicores, near};

const MIB: u64 = 1024 * 1024;

fn pod(name: &str, app: &str, containers: &[&str]) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
            "containers": containers.iter().map(|c| json!({"name": c, "image": "busybox"})).collect::<Vec<_>>(),
        },
    }))
    .unwrap()
}

/// Two pods on the node: `web` (one container, 250m and 64Mi) and `db` (two containers,
/// 100m + 50m and 32Mi + 16Mi); returns once `metrics.k8s.io` has both.
async fn cluster_with_usage() -> Cluster {
    let c = Cluster::start().await;
    let pods: Api<Pod> = Api::default_namespaced(c.api.client());
    pods.create(&PostParams::default(), &pod("web", "web", &["app"]))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("db", "db", &["main", "side"]))
        .await
        .unwrap();
    let set = |pod: &str, container: &str, milli: u64, mib: u64| {
        c.provider.set_usage(
            &PodKey::new("default", pod),
            container,
            ContainerUsage::new(milli, mib * MIB),
        )
    };
    eventually("the pods to run on the mock backend", || async {
        (set("web", "app", 250, 64) && set("db", "main", 100, 32) && set("db", "side", 50, 16))
            .then_some(())
    })
    .await;
    let client = c.api.client();
    eventually("metrics.k8s.io to list both pods", || async {
        let req = http::Request::get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
            .body(Vec::new())
            .unwrap();
        let list: Value = client.request(req).await.ok()?;
        let items = list["items"].as_array()?;
        // Past the first windows, which straddle the change of usage.
        let web = items.iter().find(|i| i["metadata"]["name"] == "web")?;
        let cpu = web["containers"][0]["usage"]["cpu"].as_str()?;
        (items.len() == 2 && near(nanocores(cpu) / 1_000_000, 250, 2)).then_some(())
    })
    .await;
    c
}

/// Nanocores from a CPU quantity as metrics-server writes it (`12345n`, `1500u`, `25m`).
fn nanocores(q: &str) -> u64 {
    let (num, scale) = match q.chars().last() {
        Some('n') => (&q[..q.len() - 1], 1),
        Some('u') => (&q[..q.len() - 1], 1_000),
        Some('m') => (&q[..q.len() - 1], 1_000_000),
        _ => (q, 1_000_000_000),
    };
    num.parse::<u64>().unwrap_or(0) * scale
}

/// `kubectl top` output as rows of cells, header dropped.
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

async fn top_should_show_the_usage_the_provider_reports(version: &str) {
    let c = cluster_with_usage().await;

    let out = c.kubectl_ok(version, &["top", "pod"], None).await;
    let rows = rows(&out);
    assert_eq!(rows.len(), 2, "{version} top pod:\n{out}");
    let db = &rows[0];
    let web = &rows[1];
    assert_eq!((db[0].as_str(), web[0].as_str()), ("db", "web"), "{out}");
    assert!(
        near(millicores(&web[1]), 250, 3),
        "{version} web cpu: {out}"
    );
    assert_eq!(mebibytes(&web[2]), 64, "{version} web memory: {out}");
    assert!(near(millicores(&db[1]), 150, 3), "{version} db cpu: {out}");
    assert_eq!(mebibytes(&db[2]), 48, "{version} db memory: {out}");

    let out = c
        .kubectl_ok(
            version,
            &["top", "pod", "-l", "app=db", "--containers"],
            None,
        )
        .await;
    let rows = super::top::rows(&out);
    assert_eq!(rows.len(), 2, "{version} top pod -l --containers:\n{out}");
    let main = rows.iter().find(|r| r[1] == "main").expect("main");
    let side = rows.iter().find(|r| r[1] == "side").expect("side");
    assert!(near(millicores(&main[2]), 100, 2), "{out}");
    assert!(near(millicores(&side[2]), 50, 2), "{out}");
    assert_eq!(
        (mebibytes(&main[3]), mebibytes(&side[3])),
        (32, 16),
        "{out}"
    );

    let out = c.kubectl_ok(version, &["top", "pod", "web"], None).await;
    assert_eq!(super::top::rows(&out).len(), 1, "{out}");

    let out = c.kubectl_ok(version, &["top", "node"], None).await;
    let rows = super::top::rows(&out);
    assert_eq!(rows.len(), 1, "{version} top node:\n{out}");
    let node = &rows[0];
    assert_eq!(node[0], NODE);
    assert!(
        near(millicores(&node[1]), 400, 4),
        "{version} node cpu: {out}"
    );
    // 400m of the MockProvider node's 100 cores.
    assert_eq!(node[2], "0%", "{out}");
    assert_eq!(mebibytes(&node[3]), 112, "{version} node memory: {out}");

    // A pod that does not exist.
    let (ok, _, err) = c.kubectl(version, &["top", "pod", "nope"]).await;
    assert!(!ok && err.contains("not found"), "{err}");
}

#[tokio::test]
async fn kubectl_1_33_top_should_show_the_usage_the_provider_reports() {
    top_should_show_the_usage_the_provider_reports("1.33").await;
}

#[tokio::test]
async fn kubectl_1_27_top_should_show_the_usage_the_provider_reports() {
    top_should_show_the_usage_the_provider_reports("1.27").await;
}

#[tokio::test]
async fn metrics_api_should_answer_as_metrics_server_does() {
    let c = cluster_with_usage().await;
    let client = c.api.client();
    let get = |path: &str| {
        let client = client.clone();
        let req = http::Request::get(path).body(Vec::new()).unwrap();
        async move { client.request::<Value>(req).await }
    };
    let groups = get("/apis").await.unwrap();
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "metrics.k8s.io"),
        "{groups}"
    );
    let resources = get("/apis/metrics.k8s.io/v1beta1").await.unwrap();
    assert_eq!(resources["resources"][0]["kind"], "NodeMetrics");
    assert_eq!(resources["resources"][1]["verbs"], json!(["get", "list"]));

    let web = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web")
        .await
        .unwrap();
    assert_eq!(web["kind"], "PodMetrics");
    assert_eq!(web["metadata"]["labels"]["app"], "web");
    assert!(web["window"].as_str().unwrap().ends_with('s'), "{web}");
    assert!(web["timestamp"].as_str().unwrap().ends_with('Z'), "{web}");
    assert_eq!(web["containers"][0]["usage"]["memory"], "64Mi");
    let cpu = web["containers"][0]["usage"]["cpu"].as_str().unwrap();
    assert!(near(nanocores(cpu) / 1_000_000, 250, 2), "{web}");

    let node = get(&format!("/apis/metrics.k8s.io/v1beta1/nodes/{NODE}"))
        .await
        .unwrap();
    assert_eq!(node["kind"], "NodeMetrics");
    assert_eq!(node["usage"]["memory"], "112Mi");

    let filtered = get("/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Dweb")
        .await
        .unwrap();
    assert_eq!(filtered["kind"], "PodMetricsList");
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let by_name = get("/apis/metrics.k8s.io/v1beta1/pods?fieldSelector=metadata.name%3Ddb")
        .await
        .unwrap();
    assert_eq!(by_name["items"][0]["metadata"]["name"], "db");

    let err = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pods \"nope\" not found"), "{err}");
    let pods: Api<Pod> = Api::default_namespaced(c.api.client());
    pods.create(&PostParams::default(), &{
        let mut p = pod("idle", "idle", &["app"]);
        p.spec.as_mut().unwrap().node_selector = Some([("none".to_owned(), "x".to_owned())].into());
        p
    })
    .await
    .unwrap();
    let err = get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/idle")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("podmetrics.metrics.k8s.io \"default/idle\" not found"),
        "{err}"
    );
}
