use super::*;

fn params(query: &str) -> Params {
    Params::new(Some(query))
}

fn now() -> Timestamp {
    "2026-01-01T12:00:30Z".parse().unwrap()
}

#[test]
fn iso_durations_should_round_trip_for_the_supported_grains() {
    for (seconds, _) in GRAINS {
        assert_eq!(parse_iso_duration(&iso_duration(seconds)), Some(seconds));
    }
    assert_eq!(iso_duration(60), "PT1M");
    assert_eq!(iso_duration(4 * 3600), "PT4H");
    assert_eq!(iso_duration(86_400), "P1D");
    assert_eq!(parse_iso_duration("P1DT12H"), Some(129_600));
    for bad in [
        "",
        "P",
        "PT",
        "1M",
        "PTM",
        "PT1X",
        "PT1M1H",
        "P1M",
        "PT99999999999M",
    ] {
        assert_eq!(parse_iso_duration(bad), None, "{bad}");
    }
}

#[test]
fn only_supported_grains_and_full_should_be_accepted() {
    assert_eq!(grain("PT1M"), Ok(Grain::Every(60)));
    assert_eq!(grain("pt1h"), Ok(Grain::Every(3600)));
    assert_eq!(grain("FULL"), Ok(Grain::Full));
    for bad in ["PT30S", "PT2M", "P2D", "nonsense"] {
        assert!(grain(bad).is_err(), "{bad}");
    }
}

#[test]
fn filters_should_split_by_container_name() {
    let cpu = &[&METRICS[0]][..];
    assert_eq!(parse_filter("containerName eq '*'", cpu), Ok(Split::All));
    assert_eq!(
        parse_filter("ContainerName eq 'a' or containername eq 'b'", cpu),
        Ok(Split::Only(vec!["a".into(), "b".into()]))
    );
    for bad in [
        "containerName eq 'a' and containerName eq 'b'",
        "containerName ne 'a'",
        "containerName eq a",
        "containerName eq 'a",
        "pod eq '*'",
    ] {
        assert!(parse_filter(bad, cpu).is_err(), "{bad}");
    }
    let network = &[&METRICS[2]][..];
    let error = parse_filter("containerName eq '*'", network).unwrap_err();
    assert!(
        error.contains("does not support requested dimension combination"),
        "{error}"
    );
}

#[test]
fn batch_queries_should_validate_like_azure_monitor() {
    let q = Query::parse(
        &params("metricnamespace=Microsoft.ContainerInstance/containerGroups&metricnames=CpuUsage,memoryusage&aggregation=average,Maximum&starttime=2026-01-01T11:00:00.000Z&endtime=2026-01-01T12:00:00Z&filter=containerName eq '*'"),
        Api::Batch,
        now(),
    )
    .unwrap();
    assert_eq!(q.metrics.len(), 2);
    assert_eq!(
        q.aggregations,
        vec![Aggregation::Average, Aggregation::Maximum]
    );
    assert_eq!((&q.split, q.top), (&Split::All, 10));
    assert_eq!(q.buckets().len(), 60);
    for bad in [
        "metricnames=CpuUsage",
        "metricnamespace=Microsoft.Storage/storageAccounts&metricnames=CpuUsage",
        "metricnamespace=Microsoft.ContainerInstance/containerGroups&metricnames=Nope",
        "metricnamespace=Microsoft.ContainerInstance/containerGroups&metricnames=CpuUsage&aggregation=total",
        "metricnamespace=Microsoft.ContainerInstance/containerGroups&metricnames=CpuUsage&endtime=2026-01-01T12:00:00Z",
        "metricnamespace=Microsoft.ContainerInstance/containerGroups&metricnames=CpuUsage&starttime=2026-01-01T12:00:00Z&endtime=2026-01-01T11:00:00Z",
        "metricnamespace=Microsoft.ContainerInstance/containerGroups&metricnames=CpuUsage&interval=PT30S",
        "metricnamespace=Microsoft.ContainerInstance/containerGroups&metricnames=CpuUsage&top=0",
    ] {
        assert!(
            Query::parse(&params(bad), Api::Batch, now()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn buckets_should_start_at_the_minute_and_cover_the_open_one() {
    let q = Query::parse(
        &params("metricnames=CpuUsage&timespan=2026-01-01T11:58:10Z/2026-01-01T12:00:30Z"),
        Api::List,
        now(),
    )
    .unwrap();
    let stamps: Vec<String> = q
        .buckets()
        .iter()
        .map(|(t, _, _)| Timestamp::from_nanosecond(*t).unwrap().to_string())
        .collect();
    assert_eq!(
        stamps,
        [
            "2026-01-01T11:58:00Z",
            "2026-01-01T11:59:00Z",
            "2026-01-01T12:00:00Z"
        ]
    );
    let full = Query::parse(
        &params(
            "metricnames=CpuUsage&interval=FULL&timespan=2026-01-01T08:00:00Z/2026-01-01T12:00:00Z",
        ),
        Api::List,
        now(),
    )
    .unwrap();
    assert_eq!(full.buckets().len(), 1);
    assert_eq!(full.interval(), "PT4H");
}
