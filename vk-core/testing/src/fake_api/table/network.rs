//! Table columns and cells of Services, Endpoints, EndpointSlices and Jobs, as
//! kube-apiserver's printers (pkg/printers/internalversion) print them.
use serde_json::{Value, json};

use super::age::age;

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn col(name: &str, priority: u8, description: &str) -> Value {
    let mut c = json!({"name": name, "type": "string", "format": "", "description": description, "priority": priority});
    if name == "Name" {
        c["format"] = json!("name");
    }
    c
}

fn name_col() -> Value {
    col("Name", 0, "Name must be unique within a namespace.")
}

fn age_col() -> Value {
    col(
        "Age",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    )
}

/// Columns of `plural`, or `None` when it is not one of these kinds.
pub(crate) fn columns(plural: &str) -> Option<Vec<Value>> {
    Some(match plural {
        "services" => vec![
            name_col(),
            col("Type", 0, "type determines how the Service is exposed."),
            col(
                "Cluster-IP",
                0,
                "clusterIP is the IP address of the service.",
            ),
            col(
                "External-IP",
                0,
                "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
            ),
            col(
                "Port(s)",
                0,
                "The list of ports that are exposed by this service.",
            ),
            age_col(),
            col(
                "Selector",
                1,
                "Route service traffic to pods with label keys and values matching this selector.",
            ),
        ],
        "endpoints" => vec![
            name_col(),
            col("Endpoints", 0, "Endpoints of the resource."),
            age_col(),
        ],
        "endpointslices" => vec![
            name_col(),
            col(
                "AddressType",
                0,
                "addressType specifies the type of address carried by this EndpointSlice.",
            ),
            col(
                "Ports",
                0,
                "ports specifies the list of network ports exposed by each endpoint in this slice.",
            ),
            col(
                "Endpoints",
                0,
                "endpoints is a list of unique endpoints in this slice.",
            ),
            age_col(),
        ],
        "jobs" => vec![
            name_col(),
            col("Status", 0, "Status of the job."),
            col("Completions", 0, "The completion status of the job."),
            col("Duration", 0, "Time required to complete the job."),
            age_col(),
            col("Containers", 1, "Names of each container in the template."),
            col(
                "Images",
                1,
                "Images referenced by each container in the template.",
            ),
            col(
                "Selector",
                1,
                "A label query over pods that should match the pod count.",
            ),
        ],
        _ => return None,
    })
}

/// Cells of `o`, or `None` when `plural` is not one of these kinds.
pub(crate) fn cells(
    plural: &str,
    o: &Value,
    age: String,
    now: jiff::Timestamp,
) -> Option<Vec<Value>> {
    let name = json!(s(o, "/metadata/name"));
    Some(match plural {
        "services" => vec![
            name,
            json!(s(o, "/spec/type")),
            json!(non_empty(s(o, "/spec/clusterIP"), "<none>")),
            json!(external_ip(o)),
            json!(service_ports(o)),
            json!(age),
            json!(selector(o.pointer("/spec/selector"))),
        ],
        "endpoints" => vec![name, json!(endpoints(o)), json!(age)],
        "endpointslices" => vec![
            name,
            json!(s(o, "/addressType")),
            json!(slice_ports(o)),
            json!(slice_endpoints(o)),
            json!(age),
        ],
        "jobs" => {
            let containers = o
                .pointer("/spec/template/spec/containers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let join = |k: &str| {
                containers
                    .iter()
                    .map(|c| c[k].as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            vec![
                name,
                json!(job_status(o)),
                json!(job_completions(o)),
                json!(job_duration(o, now)),
                json!(age),
                json!(join("name")),
                json!(join("image")),
                json!(selector(o.pointer("/spec/selector/matchLabels"))),
            ]
        }
        _ => return None,
    })
}

fn non_empty<'a>(v: &'a str, or: &'a str) -> &'a str {
    if v.is_empty() { or } else { v }
}

fn selector(sel: Option<&Value>) -> String {
    let pairs: Vec<String> = sel
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

fn external_ip(o: &Value) -> String {
    let external: Vec<&str> = o
        .pointer("/spec/externalIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match s(o, "/spec/type") {
        "ExternalName" => s(o, "/spec/externalName").to_owned(),
        "LoadBalancer" => {
            let mut ips: Vec<String> = o
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|i| non_empty(s(i, "/ip"), s(i, "/hostname")).to_owned())
                        .collect()
                })
                .unwrap_or_default();
            ips.extend(external.iter().map(|s| (*s).to_owned()));
            if ips.is_empty() {
                "<pending>".into()
            } else {
                ips.join(",")
            }
        }
        _ if !external.is_empty() => external.join(","),
        _ => "<none>".into(),
    }
}

fn service_ports(o: &Value) -> String {
    let ports: Vec<String> = o
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p["port"].as_i64().unwrap_or(0);
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64().filter(|n| *n != 0) {
                Some(n) => format!("{port}:{n}/{proto}"),
                None => format!("{port}/{proto}"),
            }
        })
        .collect();
    if ports.is_empty() {
        "<none>".into()
    } else {
        ports.join(",")
    }
}

/// At most three items, then `+ N more...`, as the printers shorten lists.
fn first_three(items: &[String], empty: &str) -> String {
    match items.len() {
        0 => empty.into(),
        n if n <= 3 => items.join(","),
        n => format!("{} + {} more...", items[..3].join(","), n - 3),
    }
}

fn endpoints(o: &Value) -> String {
    let mut out = Vec::new();
    for subset in o
        .pointer("/subsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ports: Vec<i64> = subset["ports"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["port"].as_i64()).collect())
            .unwrap_or_default();
        for a in subset["addresses"].as_array().into_iter().flatten() {
            let ip = a["ip"].as_str().unwrap_or_default();
            if ports.is_empty() {
                out.push(ip.to_owned());
            }
            for p in &ports {
                out.push(format!("{ip}:{p}"));
            }
        }
    }
    first_three(&out, "<none>")
}

fn slice_ports(o: &Value) -> String {
    let ports: Vec<String> = o
        .pointer("/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p["port"].as_i64().map(|n| n.to_string()))
        .collect();
    if ports.is_empty() {
        "<unset>".into()
    } else {
        ports.join(",")
    }
}

fn slice_endpoints(o: &Value) -> String {
    let addrs: Vec<String> = o
        .pointer("/endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    first_three(&addrs, "<unset>")
}

fn has_condition(o: &Value, ty: &str) -> bool {
    o.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == ty && c["status"] == "True"))
}

fn job_status(o: &Value) -> &'static str {
    if has_condition(o, "Complete") {
        "Complete"
    } else if has_condition(o, "Failed") {
        "Failed"
    } else if has_condition(o, "FailureTarget") || has_condition(o, "SuccessCriteriaMet") {
        "Terminating"
    } else if o.pointer("/spec/suspend") == Some(&json!(true)) {
        "Suspended"
    } else {
        "Running"
    }
}

fn job_completions(o: &Value) -> String {
    let succeeded = o
        .pointer("/status/succeeded")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    match o.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = o
                .pointer("/spec/parallelism")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    }
}

fn job_duration(o: &Value, now: jiff::Timestamp) -> String {
    let ts = |p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    };
    let Some(start) = ts("/status/startTime") else {
        return String::new();
    };
    let end = ts("/status/completionTime").unwrap_or(now);
    let end_str = end.to_string();
    let mut d = age(Some(&start.to_string()), end);
    if d == "<unknown>" {
        d = end_str;
    }
    d
}
