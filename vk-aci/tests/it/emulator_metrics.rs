//! The emulator's Azure Monitor metrics over real HTTP: `metrics:getBatch` and
//! `Microsoft.Insights/metrics` answers in the specs' shapes, the usage model (env var,
//! `set_usage`, defaults, time-weighted minutes), Azure's validation, the ingestion delay,
//! throttling, faults and the call counter. Time-dependent tests run on a paused clock with
//! the emulator's wall clock fixed at a whole minute, so every bucket's value is exact.
use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::time::{self, Duration};
use vk_aci::arm::throttle::BucketConfig;
use vk_aci::emulator::{
    ContainerUsage, EmulatorConfig, EmulatorHandle, Injected, MetricsThrottleConfig,
};
use vk_translate::container_group::{
    Container, EnvironmentVariable, OperatingSystemTypes, RestartPolicy,
};

use crate::common::*;

/// The emulator's wall clock at start: a whole minute, so buckets line up with seconds.
const T0: &str = "2026-01-01T00:00:00Z";
const NAMESPACE: &str = "Microsoft.ContainerInstance/containerGroups";
const MIB: f64 = 1024.0 * 1024.0;

/// The response structure of `MetricBatchExample.json` (Azure/azure-rest-api-specs,
/// specification/monitor/data-plane/Microsoft.Insights/stable/2024-02-01/examples), its
/// field names and nesting only, values replaced.
const BATCH_SHAPE: &str = r#"{"values": [{
    "starttime": "", "endtime": "", "interval": "", "namespace": "", "resourceregion": "",
    "resourceid": "",
    "value": [{"id": "", "type": "", "name": {"value": "", "localizedValue": ""},
               "displayDescription": "", "unit": "", "errorCode": "",
               "timeseries": [{"metadatavalues": [{"name": {"value": "", "localizedValue": ""},
                                                   "value": ""}],
                               "data": [{"timeStamp": "", "average": 0, "minimum": 0,
                                         "maximum": 0}]}]}]}]}"#;

/// The response structure of `GetMetric.json` (specification/monitor/resource-manager/
/// Microsoft.Insights/stable/2024-02-01/examples), field names and nesting only.
const LIST_SHAPE: &str = r#"{"cost": 0, "timespan": "", "interval": "", "namespace": "",
    "resourceregion": "",
    "value": [{"id": "", "type": "", "name": {"value": "", "localizedValue": ""},
               "displayDescription": "", "unit": "", "errorCode": "",
               "timeseries": [{"metadatavalues": [{"name": {"value": "", "localizedValue": ""},
                                                   "value": ""}],
                               "data": [{"timeStamp": "", "average": 0, "minimum": 0,
                                         "maximum": 0}]}]}]}"#;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every object in `shape` has exactly its keys in `actual` (arrays: the first element).
fn assert_shape(shape: &Value, actual: &Value, at: &str) {
    match (shape, actual) {
        (Value::Object(s), Value::Object(_)) => {
            assert_eq!(keys(shape), keys(actual), "keys at {at}");
            for (k, v) in s {
                assert_shape(v, &actual[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(s), Value::Array(a)) => {
            if let (Some(s), Some(a)) = (s.first(), a.first()) {
                assert_shape(s, a, &format!("{at}[0]"));
            }
        }
        (Value::Array(_) | Value::Object(_), other) => {
            panic!("{at}: expected {shape}, got {other}")
        }
        _ => {}
    }
}

fn t0() -> Timestamp {
    T0.parse().unwrap()
}

/// `T0` plus `secs` seconds, as the query parameters spell times.
fn at(secs: i64) -> String {
    t0().checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap()
        .to_string()
}

/// Instant groups, no throttling, the wall clock fixed at `T0`.
fn config() -> EmulatorConfig {
    EmulatorConfig {
        clock: Arc::new(vk_core::clock::FixedClock::new(t0())),
        ..EmulatorConfig::instant()
    }
}

/// A client that opens a connection per request, so no idle connection keeps a timer on
/// the paused clock.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

fn with_env(mut c: Container, name: &str, value: &str) -> Container {
    c.properties
        .environment_variables
        .push(EnvironmentVariable {
            name: name.into(),
            value: Some(value.into()),
            ..Default::default()
        });
    c
}

fn with_usage(c: Container, spec: &str) -> Container {
    with_env(c, "VK_EMULATOR_USAGE", spec)
}

fn group_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.ContainerInstance/containerGroups/{name}"
    )
}

async fn put(
    em: &EmulatorHandle,
    http: &reqwest::Client,
    name: &str,
    group: &vk_translate::container_group::ContainerGroup,
) {
    let response = http
        .put(format!(
            "{}{}?api-version=2025-09-01",
            em.url(),
            &group_id(name)[1..]
        ))
        .json(group)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// `metrics:getBatch` with `extra` query parameters over `api-version`, the namespace and
/// the metric names.
async fn batch(
    em: &EmulatorHandle,
    http: &reqwest::Client,
    ids: &[String],
    metrics: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut query = vec![
        ("api-version", "2024-02-01"),
        ("metricnamespace", NAMESPACE),
        ("metricnames", metrics),
    ];
    query.extend_from_slice(extra);
    http.post(format!(
        "{}subscriptions/{SUBSCRIPTION}/metrics:getBatch",
        em.url()
    ))
    .query(&query)
    .json(&json!({ "resourceids": ids }))
    .send()
    .await
    .unwrap()
}

async fn list(
    em: &EmulatorHandle,
    http: &reqwest::Client,
    name: &str,
    query: &[(&str, &str)],
) -> reqwest::Response {
    http.get(format!(
        "{}{}/providers/Microsoft.Insights/metrics",
        em.url(),
        &group_id(name)[1..]
    ))
    .query(query)
    .send()
    .await
    .unwrap()
}

/// The series of `metric` in one resource's metrics, by `containername` (`""` unsplit).
fn series<'a>(metrics: &'a Value, metric: &str) -> Vec<(String, &'a Vec<Value>)> {
    let metric = metrics
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"]["value"] == metric)
        .unwrap_or_else(|| panic!("no {metric} in {metrics}"));
    metric["timeseries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let name = s["metadatavalues"][0]["value"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (name, s["data"].as_array().unwrap())
        })
        .collect()
}

fn one<'a>(metrics: &'a Value, metric: &str, container: &str) -> &'a Vec<Value> {
    series(metrics, metric)
        .into_iter()
        .find(|(c, _)| c == container)
        .unwrap_or_else(|| panic!("no {metric} series for '{container}'"))
        .1
}

fn averages(points: &[Value]) -> Vec<Option<f64>> {
    points.iter().map(|p| p["average"].as_f64()).collect()
}

async fn bad_request(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .or(body["code"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(start_paused = true)]
async fn a_batch_of_two_groups_should_report_each_container_with_its_usage() {
    let em = emulator(config()).await;
    let http = http();
    put(
        &em,
        &http,
        "g1",
        &group(vec![
            with_usage(container("a", &[]), "cpu=250m,memory=64Mi"),
            container("b", &[]),
        ]),
    )
    .await;
    put(
        &em,
        &http,
        "g2",
        &group(vec![
            with_usage(container("c", &[]), "cpu=1,memory=1Gi"),
            container("d", &[]),
        ]),
    )
    .await;
    time::advance(Duration::from_secs(60)).await;
    em.set_usage(
        "g2",
        "d",
        ContainerUsage {
            cpu_millicores: 500.0,
            memory_bytes: 100.0 * MIB,
        },
    );
    time::advance(Duration::from_secs(30)).await;
    em.set_usage(
        "g2",
        "d",
        ContainerUsage {
            cpu_millicores: 100.0,
            memory_bytes: 50.0 * MIB,
        },
    );
    time::advance(Duration::from_secs(30)).await;

    let ids = [group_id("g1"), group_id("g2")];
    let response = batch(
        &em,
        &http,
        &ids,
        "CpuUsage,MemoryUsage",
        &[
            ("aggregation", "average,minimum,maximum"),
            ("interval", "PT1M"),
            ("starttime", &at(0)),
            ("endtime", &at(120)),
            ("filter", "containerName eq '*'"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_shape(&serde_json::from_str(BATCH_SHAPE).unwrap(), &body, "$");
    let values = body["values"].as_array().unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[0]["resourceid"], ids[0].as_str());
    assert_eq!(values[1]["resourceregion"], "westus");
    assert_eq!(values[0]["interval"], "PT1M");
    let (g1, g2) = (&values[0]["value"], &values[1]["value"]);

    let a = one(g1, "CpuUsage", "a");
    assert_eq!(a[0]["timeStamp"], "2026-01-01T00:00:00Z");
    assert_eq!(a[1]["timeStamp"], "2026-01-01T00:01:00Z");
    assert_eq!(averages(a), [Some(250.0), Some(250.0)]);
    assert_eq!(averages(one(g1, "MemoryUsage", "a")), [Some(64.0 * MIB); 2]);
    // No env var, no override: the documented default, 1m and 16Mi.
    assert_eq!(averages(one(g1, "CpuUsage", "b")), [Some(1.0); 2]);
    assert_eq!(averages(one(g1, "MemoryUsage", "b")), [Some(16.0 * MIB); 2]);
    assert_eq!(averages(one(g2, "CpuUsage", "c")), [Some(1000.0); 2]);
    assert_eq!(
        averages(one(g2, "MemoryUsage", "c")),
        [Some(1024.0 * MIB); 2]
    );
    // The first change at the minute boundary; the second mid-minute: half at 500m, half
    // at 100m.
    let d = one(g2, "CpuUsage", "d");
    assert_eq!(averages(d), [Some(1.0), Some(300.0)]);
    assert_eq!(
        (d[1]["minimum"].as_f64(), d[1]["maximum"].as_f64()),
        (Some(100.0), Some(500.0))
    );
    assert_eq!(averages(one(g2, "MemoryUsage", "d"))[1], Some(75.0 * MIB));
    let metadata = &g2[0]["timeseries"][0]["metadatavalues"][0];
    assert_eq!(metadata["name"]["value"], "containername");

    // One container by name, and no split: one series summed over the containers.
    let only: Value = batch(
        &em,
        &http,
        &ids[..1],
        "CpuUsage",
        &[
            ("starttime", &at(0)),
            ("endtime", &at(120)),
            ("filter", "containerName eq 'a'"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let only = series(&only["values"][0]["value"], "CpuUsage");
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].0, "a");
    let summed: Value = batch(
        &em,
        &http,
        &ids[1..],
        "CpuUsage",
        &[("starttime", &at(0)), ("endtime", &at(120))],
    )
    .await
    .json()
    .await
    .unwrap();
    let summed = series(&summed["values"][0]["value"], "CpuUsage");
    assert_eq!(summed.len(), 1);
    assert_eq!(summed[0].0, "", "an unsplit series has no metadata");
    assert_eq!(averages(summed[0].1), [Some(1001.0), Some(1300.0)]);
}

#[tokio::test(start_paused = true)]
async fn the_batch_api_should_refuse_what_azure_monitor_refuses() {
    let em = emulator(config()).await;
    let http = http();
    put(&em, &http, "g1", &group(vec![container("a", &[])])).await;
    let ids = vec![group_id("g1")];
    let range = [("starttime", at(0)), ("endtime", at(60))];
    let range: Vec<(&str, &str)> = range.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let many: Vec<String> = (0..51).map(|i| group_id(&format!("g{i}"))).collect();
    assert_eq!(
        bad_request(batch(&em, &http, &many, "CpuUsage", &range).await).await,
        "BadRequest"
    );
    let unknown = batch(&em, &http, &ids, "CpuUsage,GpuUsage", &range).await;
    assert_eq!(bad_request(unknown).await, "BadRequest");
    let reversed = [("starttime", at(60)), ("endtime", at(0))];
    let reversed: Vec<(&str, &str)> = reversed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        bad_request(batch(&em, &http, &ids, "CpuUsage", &reversed).await).await,
        "BadRequest"
    );
    for interval in ["PT30S", "PT2M", "sometimes"] {
        let mut q = range.clone();
        q.push(("interval", interval));
        assert_eq!(
            bad_request(batch(&em, &http, &ids, "CpuUsage", &q).await).await,
            "BadRequest"
        );
    }
    let mut network_split = range.clone();
    network_split.push(("filter", "containerName eq '*'"));
    let response = batch(
        &em,
        &http,
        &ids,
        "NetworkBytesReceivedPerSecond",
        &network_split,
    )
    .await;
    assert_eq!(bad_request(response).await, "BadRequest");
    let other_sub =
        vec![group_id("g1").replace(SUBSCRIPTION, "11111111-1111-1111-1111-111111111111")];
    assert_eq!(
        bad_request(batch(&em, &http, &other_sub, "CpuUsage", &range).await).await,
        "BadRequest"
    );

    let url = format!("{}subscriptions/{SUBSCRIPTION}/metrics:getBatch", em.url());
    let old_version = http
        .post(&url)
        .query(&[
            ("api-version", "2019-07-01"),
            ("metricnamespace", NAMESPACE),
            ("metricnames", "CpuUsage"),
        ])
        .json(&json!({ "resourceids": ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_request(old_version).await, "InvalidApiVersionParameter");
    let camel_case_body = http
        .post(&url)
        .query(&[
            ("api-version", "2024-02-01"),
            ("metricnamespace", NAMESPACE),
            ("metricnames", "CpuUsage"),
        ])
        .json(&json!({ "resourceIds": ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_request(camel_case_body).await, "BadRequest");
}

#[tokio::test(start_paused = true)]
async fn the_per_resource_call_should_answer_in_the_get_metric_shape() {
    let em = emulator(config()).await;
    let http = http();
    put(
        &em,
        &http,
        "g1",
        &group(vec![
            with_usage(container("a", &[]), "cpu=200m"),
            with_usage(container("b", &[]), "cpu=50m"),
        ]),
    )
    .await;
    time::advance(Duration::from_secs(150)).await;
    let timespan = format!("{}/{}", at(0), at(150));
    let response = list(&em, &http, "g1", &[
        ("api-version", "2024-02-01"),
        ("metricnames", "CpuUsage,MemoryUsage,NetworkBytesReceivedPerSecond,NetworkBytesTransmittedPerSecond"),
        ("timespan", &timespan),
        ("interval", "PT1M"),
        ("aggregation", "Average,Minimum,Maximum"),
        ("metricnamespace", NAMESPACE),
    ])
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_shape(&serde_json::from_str(LIST_SHAPE).unwrap(), &body, "$");
    assert_eq!(body["timespan"], format!("{T0}/2026-01-01T00:02:30Z"));
    assert_eq!(
        body["namespace"],
        "microsoft.containerinstance/containergroups"
    );
    let value = &body["value"];
    assert_eq!(value[0]["unit"], "MilliCores");
    assert_eq!(value[1]["unit"], "Bytes");
    assert_eq!(
        value[0]["id"],
        format!(
            "{}/providers/Microsoft.Insights/metrics/CpuUsage",
            group_id("g1")
        )
    );
    // Without $filter: one series, summed over the containers; the open minute averaged over
    // its elapsed half.
    let cpu = series(value, "CpuUsage");
    assert_eq!(cpu.len(), 1);
    assert_eq!(averages(cpu[0].1), [Some(250.0); 3]);
    let received = series(value, "NetworkBytesReceivedPerSecond");
    assert_eq!(averages(received[0].1), [Some(256.0); 3]);
    let transmitted = series(value, "NetworkBytesTransmittedPerSecond");
    assert_eq!(averages(transmitted[0].1), [Some(128.0); 3]);

    let split: Value = list(
        &em,
        &http,
        "g1",
        &[
            ("api-version", "2024-02-01"),
            ("metricnames", "CpuUsage"),
            ("timespan", &timespan),
            ("$filter", "containerName eq '*'"),
            ("top", "1"),
            ("orderby", "average desc"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let top = series(&split["value"], "CpuUsage");
    assert_eq!(top.len(), 1, "top=1 keeps one series");
    assert_eq!(top[0].0, "a", "the busiest container first");

    let missing = list(
        &em,
        &http,
        "nope",
        &[("api-version", "2024-02-01"), ("metricnames", "CpuUsage")],
    )
    .await;
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["code"], "ResourceNotFound");
    let unknown = list(
        &em,
        &http,
        "g1",
        &[("api-version", "2024-02-01"), ("metricnames", "Nope")],
    )
    .await;
    assert_eq!(bad_request(unknown).await, "BadRequest");

    // A missing group in a batch: its entry, without data.
    let ids = [group_id("g1"), group_id("gone")];
    let body: Value = batch(
        &em,
        &http,
        &ids,
        "CpuUsage",
        &[("starttime", &at(0)), ("endtime", &at(150))],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["values"][1]["resourceid"], ids[1].as_str());
    assert_eq!(body["values"][1]["value"][0]["timeseries"], json!([]));
}

#[tokio::test(start_paused = true)]
async fn windows_groups_and_groups_not_yet_running_should_have_no_data() {
    let mut config = config();
    config.timeline.pending = Duration::from_secs(60);
    let em = emulator(config).await;
    let http = http();
    let mut windows = group(vec![container("w", &[])]);
    windows.properties.os_type = Some(OperatingSystemTypes::Windows);
    put(&em, &http, "win", &windows).await;
    put(&em, &http, "slow", &group(vec![container("s", &[])])).await;
    let mut brief = group(vec![with_env(
        with_usage(container("x", &[]), "cpu=400m"),
        "EMULATOR_RUN_SECONDS",
        "30",
    )]);
    brief.properties.restart_policy = Some(RestartPolicy::Never);
    put(&em, &http, "brief", &brief).await;
    let ids = [group_id("win"), group_id("slow"), group_id("brief")];
    let metrics = "CpuUsage,MemoryUsage,NetworkBytesReceivedPerSecond";
    let body: Value = batch(
        &em,
        &http,
        &ids,
        metrics,
        &[("starttime", &at(0)), ("endtime", &at(30))],
    )
    .await
    .json()
    .await
    .unwrap();
    for entry in body["values"].as_array().unwrap() {
        for metric in entry["value"].as_array().unwrap() {
            assert_eq!(
                metric["timeseries"],
                json!([]),
                "{} still Pending",
                entry["resourceid"]
            );
        }
    }

    // Running from 60 s: the Linux groups have data from then on, Windows never; `brief`
    // exits 30 s after it started and has none after.
    time::advance(Duration::from_secs(180)).await;
    let body: Value = batch(
        &em,
        &http,
        &ids,
        "CpuUsage,MemoryUsage",
        &[
            ("starttime", &at(0)),
            ("endtime", &at(180)),
            ("filter", "containerName eq '*'"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let values = body["values"].as_array().unwrap();
    for metric in values[0]["value"].as_array().unwrap() {
        assert_eq!(
            metric["timeseries"],
            json!([]),
            "Windows groups have no platform metrics"
        );
    }
    assert_eq!(
        averages(one(&values[1]["value"], "CpuUsage", "s")),
        [None, Some(1.0), Some(1.0)]
    );
    assert_eq!(
        averages(one(&values[2]["value"], "CpuUsage", "x")),
        [None, Some(400.0), None]
    );
}

#[tokio::test(start_paused = true)]
async fn the_metrics_delay_should_hide_the_latest_minutes() {
    let em = emulator(EmulatorConfig {
        metrics_delay: Duration::from_secs(120),
        ..config()
    })
    .await;
    let http = http();
    put(
        &em,
        &http,
        "g1",
        &group(vec![with_usage(container("a", &[]), "cpu=300m")]),
    )
    .await;
    time::advance(Duration::from_secs(330)).await;
    let query = [
        ("starttime", at(0)),
        ("endtime", at(330)),
        ("filter", "containerName eq '*'".into()),
    ];
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body: Value = batch(&em, &http, &[group_id("g1")], "CpuUsage", &query)
        .await
        .json()
        .await
        .unwrap();
    let points = one(&body["values"][0]["value"], "CpuUsage", "a");
    // Visible up to 3:30: whole minutes 0-2, half of minute 3; 4 and 5 not yet.
    assert_eq!(
        averages(points),
        [
            Some(300.0),
            Some(300.0),
            Some(300.0),
            Some(300.0),
            None,
            None
        ]
    );
    assert_eq!(points[5]["timeStamp"], "2026-01-01T00:05:00Z");
    assert_eq!(
        keys(&points[5]),
        ["timeStamp".to_owned()].into(),
        "a bucket without data is a bare timestamp"
    );

    // Two minutes later the same buckets are filled in.
    time::advance(Duration::from_secs(120)).await;
    let body: Value = batch(&em, &http, &[group_id("g1")], "CpuUsage", &query)
        .await
        .json()
        .await
        .unwrap();
    let points = one(&body["values"][0]["value"], "CpuUsage", "a");
    assert_eq!(averages(points), [Some(300.0); 6]);
}

#[tokio::test(start_paused = true)]
async fn metrics_calls_should_have_their_own_buckets_and_answer_429_with_retry_after() {
    let tiny = BucketConfig {
        capacity: 2.0,
        refill_per_second: 0.1,
        background_reserve: 0.0,
    };
    let em = emulator(EmulatorConfig {
        metrics_throttle: Some(MetricsThrottleConfig {
            batch: tiny,
            list: tiny,
        }),
        ..config()
    })
    .await;
    let http = http();
    put(&em, &http, "g1", &group(vec![container("a", &[])])).await;
    let ids = [group_id("g1")];
    for _ in 0..2 {
        assert_eq!(batch(&em, &http, &ids, "CpuUsage", &[]).await.status(), 200);
    }
    let throttled = batch(&em, &http, &ids, "CpuUsage", &[]).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "10");
    let body: Value = throttled.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    // The per-resource bucket and ARM's are separate.
    let q = [("api-version", "2024-02-01"), ("metricnames", "CpuUsage")];
    assert_eq!(list(&em, &http, "g1", &q).await.status(), 200);
    let get = http
        .get(format!(
            "{}{}?api-version=2025-09-01",
            em.url(),
            &group_id("g1")[1..]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    time::advance(Duration::from_secs(10)).await;
    assert_eq!(batch(&em, &http, &ids, "CpuUsage", &[]).await.status(), 200);
}

#[tokio::test(start_paused = true)]
async fn metrics_calls_should_be_counted_faulted_and_authenticated_like_arm_calls() {
    let em = emulator(EmulatorConfig {
        auth: Some(("app".into(), "secret".into())),
        ..config()
    })
    .await;
    let http = http();
    let token: Value = http
        .post(format!("{}tenant/oauth2/v2.0/token", em.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            "grant_type=client_credentials&client_id=app&client_secret=secret\
             &scope=https%3A%2F%2Fmetrics.monitor.azure.com%2F.default",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let url = format!("{}subscriptions/{SUBSCRIPTION}/metrics:getBatch", em.url());
    let query = [
        ("api-version", "2024-02-01"),
        ("metricnamespace", NAMESPACE),
        ("metricnames", "CpuUsage"),
    ];
    let body = json!({ "resourceids": [group_id("g1")] });
    let call = |auth: Option<&str>| {
        let mut request = http.post(&url).query(&query).json(&body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    assert_eq!(call(None).await.unwrap().status(), 401);
    assert_eq!(call(Some(&bearer)).await.unwrap().status(), 200);
    em.inject(Injected::status(503, "ServiceUnavailable").retry_after(3));
    let injected = call(Some(&bearer)).await.unwrap();
    assert_eq!(injected.status(), 503);
    assert_eq!(injected.headers()["retry-after"], "3");
    let list = http
        .get(format!(
            "{}{}/providers/Microsoft.Insights/metrics",
            em.url(),
            &group_id("g1")[1..]
        ))
        .query(&[("api-version", "2024-02-01"), ("metricnames", "CpuUsage")])
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 404, "no such group");

    assert_eq!(em.call_count("metrics.batch"), 3);
    assert_eq!(em.call_count("metrics.list"), 1);
    let calls: Value = http
        .get(format!("{}_emulator/calls", em.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            calls["metrics.batch"].as_u64(),
            calls["metrics.list"].as_u64()
        ),
        (Some(3), Some(1))
    );
}
