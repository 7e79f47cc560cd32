//! Every container group in ../shared/aci-spec examples deserializes and round-trips.
//!
//! For each example file: every request `parameters.containerGroup` and every response body that
//! is a container group (or a list of them) deserializes into the model, and serializing it back
//! gives the same JSON: every key in the output has the input's value, and every input key is
//! kept unless it is an empty array/object (the model omits empty lists and maps) or is listed
//! in [`INTENTIONALLY_UNMODELLED`]. The exec, attach, logs, usage and capabilities examples
//! round-trip into their own types the same way.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use vk_translate::container_group::{
    CapabilitiesListResult, CloudError, ContainerAttachResponse, ContainerExecRequest,
    ContainerExecResponse, ContainerGroup, ContainerGroupListResult, InstanceState, Logs,
    ProvisioningState, UsageListResult,
};

/// Keys the model leaves out on purpose, as `/`-separated paths with `*` for array indices.
/// Empty today: the model covers every key the examples use.
const INTENTIONALLY_UNMODELLED: &[&str] = &[];

const CONTAINER_GROUP_TYPE: &str = "Microsoft.ContainerInstance/containerGroups";

/// `shared/` sits beside the repository clone (`<repo>/../shared`); from a git worktree it is
/// further up, so the nearest ancestor holding it wins.
fn examples_dir() -> PathBuf {
    let relative = "shared/aci-spec/2025-09-01/examples";
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .skip(2)
        .map(|dir| dir.join(relative))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| manifest.join("../..").join(relative))
}

fn example_files() -> Vec<(String, Value)> {
    let dir = examples_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

fn response_bodies(example: &Value) -> Vec<(String, &Value)> {
    example["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(status, response)| Some((status.clone(), response.get("body")?)))
        .filter(|(_, body)| !body.is_null())
        .collect()
}

fn is_container_group(body: &Value) -> bool {
    body.get("type").and_then(Value::as_str) == Some(CONTAINER_GROUP_TYPE)
        || (body.get("type").is_none()
            && body.pointer("/properties/containers").is_some()
            && body.get("properties").is_some())
}

/// Deserializes `original` as `T`, serializes it back and records every difference.
fn round_trip<T: DeserializeOwned + Serialize>(
    label: &str,
    original: &Value,
    problems: &mut Vec<String>,
) -> Option<T> {
    let model: T = match serde_json::from_value(original.clone()) {
        Ok(model) => model,
        Err(err) => {
            problems.push(format!("{label}: does not deserialize: {err}"));
            return None;
        }
    };
    let back = serde_json::to_value(&model).unwrap();
    compare(label, "", original, &back, problems);
    Some(model)
}

fn compare(label: &str, path: &str, original: &Value, back: &Value, problems: &mut Vec<String>) {
    match (original, back) {
        (Value::Object(original), Value::Object(back)) => {
            for (key, value) in back {
                let child = format!("{path}/{key}");
                match original.get(key) {
                    Some(before) => compare(label, &child, before, value, problems),
                    None => problems.push(format!("{label}: {child} added: {value}")),
                }
            }
            for (key, value) in original {
                let child = format!("{path}/{key}");
                let empty = matches!(value, Value::Array(items) if items.is_empty())
                    || matches!(value, Value::Object(map) if map.is_empty() && key != "emptyDir");
                if back.contains_key(key) || empty || is_unmodelled(&child) {
                    continue;
                }
                problems.push(format!("{label}: {child} dropped by the model: {value}"));
            }
        }
        (Value::Array(original), Value::Array(back)) => {
            if original.len() != back.len() {
                problems.push(format!(
                    "{label}: {path} has {} items, was {}",
                    back.len(),
                    original.len()
                ));
                return;
            }
            for (index, (before, after)) in original.iter().zip(back).enumerate() {
                compare(label, &format!("{path}/{index}"), before, after, problems);
            }
        }
        (Value::Number(original), Value::Number(back)) => {
            if original.as_f64() != back.as_f64() {
                problems.push(format!("{label}: {path} is {back}, was {original}"));
            }
        }
        (original, back) => {
            if original != back {
                problems.push(format!("{label}: {path} is {back}, was {original}"));
            }
        }
    }
}

fn is_unmodelled(path: &str) -> bool {
    let generic: String = path
        .split('/')
        .map(|part| {
            if part.parse::<usize>().is_ok() {
                "*"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    INTENTIONALLY_UNMODELLED.contains(&generic.as_str())
}

fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_container_group_example_should_deserialize_and_round_trip() {
    let mut problems = Vec::new();
    let mut groups = Vec::new();
    for (file, example) in example_files() {
        if let Some(request) = example.pointer("/parameters/containerGroup") {
            let label = format!("{file} request");
            groups.extend(round_trip::<ContainerGroup>(&label, request, &mut problems));
        }
        for (status, body) in response_bodies(&example) {
            let label = format!("{file} response {status}");
            if is_container_group(body) {
                groups.extend(round_trip::<ContainerGroup>(&label, body, &mut problems));
            } else if let Some(items) = body.get("value").and_then(Value::as_array)
                && items.iter().any(is_container_group)
            {
                let list = round_trip::<ContainerGroupListResult>(&label, body, &mut problems);
                groups.extend(list.into_iter().flat_map(|list| list.value));
            }
        }
    }
    assert_no_problems(&problems);
    // The examples hold 7 request groups, 19 response groups and 2 listed groups; guard against
    // a path or classification mistake that would make this test check less than it claims.
    assert!(
        groups.len() >= 28,
        "only {} container groups found",
        groups.len()
    );
    let volumes = || groups.iter().flat_map(|group| &group.properties.volumes);
    assert!(volumes().any(|volume| volume.empty_dir.is_some()));
    assert!(volumes().any(|volume| volume.secret.is_some()));
    assert!(
        groups
            .iter()
            .any(|group| group.properties.instance_view.is_some())
    );
}

#[test]
fn get_examples_should_carry_their_states() {
    let files = example_files();
    let body = |name: &str| {
        let (_, example) = files.iter().find(|(file, _)| file == name).unwrap();
        serde_json::from_value::<ContainerGroup>(example["responses"]["200"]["body"].clone())
            .unwrap()
    };
    let failed = body("ContainerGroupsGet_Failed.json");
    assert_eq!(
        failed.properties.provisioning_state,
        Some(ProvisioningState::Failed)
    );
    let view = failed.properties.instance_view.unwrap();
    assert_eq!(view.state, Some(InstanceState::Pending));
    assert_eq!(view.events[0].name.as_deref(), Some("FailedMount"));

    let succeeded = body("ContainerGroupsGet_Succeeded.json");
    assert_eq!(
        succeeded.properties.provisioning_state,
        Some(ProvisioningState::Succeeded)
    );
    assert_eq!(
        succeeded.properties.containers[0]
            .properties
            .image
            .as_deref(),
        Some("nginx")
    );
    let ip = succeeded.properties.ip_address.unwrap();
    assert_eq!(ip.ip.as_deref(), Some("10.0.0.1"));
}

#[test]
fn operation_examples_should_deserialize_into_their_types_and_round_trip() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (file, example) in example_files() {
        let bodies = response_bodies(&example);
        for (status, body) in bodies {
            let label = format!("{file} response {status}");
            let ok = match file.as_str() {
                "ContainerExec.json" => {
                    round_trip::<ContainerExecResponse>(&label, body, &mut problems).is_some()
                }
                "ContainerAttach.json" => {
                    round_trip::<ContainerAttachResponse>(&label, body, &mut problems).is_some()
                }
                "ContainerListLogs.json" => {
                    round_trip::<Logs>(&label, body, &mut problems).is_some()
                }
                "ContainerGroupUsage.json" => {
                    round_trip::<UsageListResult>(&label, body, &mut problems).is_some()
                }
                "CapabilitiesList.json" => {
                    round_trip::<CapabilitiesListResult>(&label, body, &mut problems).is_some()
                }
                _ => continue,
            };
            checked += usize::from(ok);
        }
        if let Some(request) = example.pointer("/parameters/containerExecRequest") {
            let label = format!("{file} request");
            checked += usize::from(
                round_trip::<ContainerExecRequest>(&label, request, &mut problems).is_some(),
            );
        }
    }
    assert_no_problems(&problems);
    assert_eq!(
        checked, 6,
        "exec request and response, attach, logs, usage, capabilities"
    );
}

#[test]
fn cloud_error_should_deserialize_with_nested_details() {
    // The spec has no error example; this is the shape ARM documents for every RP.
    let body = serde_json::json!({
        "error": {
            "code": "InaccessibleImage",
            "message": "The image 'private/app:1' in container group 'demo' is not accessible.",
            "target": "containers[0].image",
            "details": [{"code": "RegistryUnauthorized", "message": "unauthorized"}],
            "additionalInfo": [{"type": "PolicyViolation"}]
        }
    });
    let mut problems = Vec::new();
    let error = round_trip::<CloudError>("cloud error", &body, &mut problems).unwrap();
    // `additionalInfo` is not in this spec's CloudErrorBody: it is tolerated and dropped.
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("/error/additionalInfo dropped"));
    let error = error.error.unwrap();
    assert_eq!(error.code.as_deref(), Some("InaccessibleImage"));
    assert_eq!(
        error.details[0].code.as_deref(),
        Some("RegistryUnauthorized")
    );
}
