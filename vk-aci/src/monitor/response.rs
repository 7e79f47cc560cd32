//! Azure Monitor's metric answers, decoded: the batch API's `MetricResultsResponse` and the
//! per-resource `Response` of `Microsoft.Insights/metrics` share the `Metric` shape, which
//! becomes one [`Series`] per metric and dimension value.
use jiff::Timestamp;
use serde::Deserialize;

/// One time series: a metric of one resource, for one container when split by
/// `containerName`.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The metric, e.g. `CpuUsage`.
    pub metric: String,
    /// The `containerName` dimension value; `None` for metrics without that dimension.
    pub container: Option<String>,
    /// The unit Azure reported (e.g. `Count`, `Bytes`, `MilliCores`).
    pub unit: String,
    /// Points in time order; minutes without data are left out.
    pub points: Vec<Point>,
}

/// One aggregated value: the average over the grain starting at `time`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Start of the grain.
    pub time: Timestamp,
    /// The average over the grain.
    pub average: f64,
}

/// The series of one resource.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceSeries {
    /// The resource ID as Azure wrote it (compare case-insensitively).
    pub resource_id: String,
    /// Its series.
    pub series: Vec<Series>,
}

#[derive(Deserialize)]
pub(crate) struct BatchBody {
    #[serde(default)]
    values: Vec<BatchValue>,
}

#[derive(Deserialize)]
struct BatchValue {
    #[serde(default)]
    resourceid: Option<String>,
    #[serde(default)]
    value: Vec<Metric>,
}

/// The per-resource answer (only `value` is needed).
#[derive(Deserialize)]
pub(crate) struct ResourceBody {
    #[serde(default)]
    value: Vec<Metric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metric {
    #[serde(default)]
    id: Option<String>,
    name: LocalizableString,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    timeseries: Vec<TimeSeries>,
}

#[derive(Deserialize)]
struct LocalizableString {
    value: String,
}

#[derive(Deserialize)]
struct TimeSeries {
    #[serde(default)]
    metadatavalues: Vec<MetadataValue>,
    #[serde(default)]
    data: Vec<Value>,
}

#[derive(Deserialize)]
struct MetadataValue {
    name: LocalizableString,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Value {
    time_stamp: String,
    #[serde(default)]
    average: Option<f64>,
}

/// The dimension that splits ACI's CPU and memory by container (Azure writes it back in
/// lower case).
const CONTAINER_DIMENSION: &str = "containername";

fn series_of(metrics: Vec<Metric>) -> Vec<Series> {
    let mut out = Vec::new();
    for metric in metrics {
        if metric
            .error_code
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case("success"))
        {
            tracing::debug!(metric = %metric.name.value, code = ?metric.error_code, "azure monitor reported an error for a metric");
            continue;
        }
        for ts in metric.timeseries {
            let container = ts
                .metadatavalues
                .into_iter()
                .find(|m| m.name.value.eq_ignore_ascii_case(CONTAINER_DIMENSION))
                .and_then(|m| m.value);
            let mut points: Vec<Point> = ts
                .data
                .into_iter()
                .filter_map(|v| {
                    let average = v.average.filter(|a| a.is_finite() && *a >= 0.0)?;
                    Some(Point {
                        time: v.time_stamp.parse().ok()?,
                        average,
                    })
                })
                .collect();
            points.sort_by_key(|p| p.time);
            out.push(Series {
                metric: metric.name.value.clone(),
                container,
                unit: metric.unit.clone().unwrap_or_default(),
                points,
            });
        }
    }
    out
}

impl BatchBody {
    /// The series of every resource in the answer.
    pub(crate) fn into_resources(self) -> Vec<ResourceSeries> {
        self.values
            .into_iter()
            .map(|v| {
                let resource_id = v
                    .resourceid
                    .or_else(|| {
                        v.value
                            .first()
                            .and_then(|m| m.id.as_deref().map(resource_of))
                    })
                    .unwrap_or_default();
                ResourceSeries {
                    resource_id,
                    series: series_of(v.value),
                }
            })
            .collect()
    }
}

impl ResourceBody {
    /// The series of the one resource asked for.
    pub(crate) fn into_series(self) -> Vec<Series> {
        series_of(self.value)
    }
}

/// The resource ID part of a metric ID (`{resource}/providers/Microsoft.Insights/metrics/X`).
fn resource_of(metric_id: &str) -> String {
    let lower = metric_id.to_ascii_lowercase();
    match lower.find("/providers/microsoft.insights/metrics") {
        Some(i) => metric_id[..i].to_owned(),
        None => metric_id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_answer_should_become_series_per_resource_and_container() {
        let body = r#"{"values":[{"starttime":"2026-01-01T00:00:00Z","endtime":"2026-01-01T00:05:00Z",
          "interval":"PT1M","namespace":"Microsoft.ContainerInstance/containerGroups","resourceregion":"westus",
          "resourceid":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g1",
          "value":[{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g1/providers/Microsoft.Insights/metrics/CpuUsage",
            "type":"Microsoft.Insights/metrics","name":{"value":"CpuUsage","localizedValue":"CPU Usage"},"unit":"Count","errorCode":"Success",
            "timeseries":[{"metadatavalues":[{"name":{"value":"containername","localizedValue":"containername"},"value":"web"}],
              "data":[{"timeStamp":"2026-01-01T00:01:00Z","average":250.0},{"timeStamp":"2026-01-01T00:00:00Z","average":200.0},{"timeStamp":"2026-01-01T00:02:00Z"}]}]},
            {"id":"x","type":"Microsoft.Insights/metrics","name":{"value":"MemoryUsage"},"unit":"Bytes","errorCode":"Throttled","timeseries":[]}]}]}"#;
        let parsed: BatchBody = serde_json::from_str(body).unwrap();
        let resources = parsed.into_resources();
        assert_eq!(resources.len(), 1);
        assert!(resources[0].resource_id.ends_with("/containerGroups/g1"));
        let series = &resources[0].series;
        assert_eq!(series.len(), 1, "the failed metric is left out");
        assert_eq!(series[0].container.as_deref(), Some("web"));
        assert_eq!(
            series[0].points.len(),
            2,
            "a minute without an average is no point"
        );
        assert!(series[0].points[0].time < series[0].points[1].time);
        assert!((series[0].points[1].average - 250.0).abs() < f64::EPSILON);
    }

    #[test]
    fn a_resource_id_should_come_from_the_metric_id_when_missing() {
        assert_eq!(
            resource_of(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g/providers/microsoft.insights/metrics/CpuUsage"
            ),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g"
        );
    }
}
