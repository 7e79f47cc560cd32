//! Reading an HPA and its target: fields, the controller's key for it, its metrics
//! (defaulted) and a target's label selector as selector text.
use jiff::Timestamp;
use serde_json::{Value, json};

pub(super) fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

pub(super) fn i32_at(v: &Value, p: &str) -> Option<i32> {
    v.pointer(p)
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
}

pub(super) fn stamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(super) fn key_of(hpa: &Value) -> String {
    format!(
        "{}/{}",
        s(hpa, "/metadata/namespace"),
        s(hpa, "/metadata/name")
    )
}

/// `spec.metrics`, or the API server's default (80% CPU utilization) when empty.
pub(super) fn metric_specs(spec: &Value) -> Vec<Value> {
    match spec.get("metrics").and_then(Value::as_array) {
        Some(m) if !m.is_empty() => m.clone(),
        _ => vec![
            json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}),
        ],
    }
}

/// A label selector object (`matchLabels`, `matchExpressions`) as selector text.
pub(super) fn selector_text(sel: &Value) -> String {
    let mut parts: Vec<String> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = s(e, "/key");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        parts.push(match s(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "DoesNotExist" => format!("!{key}"),
            _ => key.to_owned(),
        });
    }
    parts.sort();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_api::selectors::LabelSelector;

    #[test]
    fn selectors_should_read_as_label_selector_text() {
        let sel = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        });
        let text = selector_text(&sel);
        assert_eq!(text, "!canary,app=web,tier in (a,b)");
        let parsed = LabelSelector::parse(&text).unwrap();
        assert!(parsed.matches(&json!({"metadata": {"labels": {"app": "web", "tier": "b"}}})));
        assert!(
            !parsed.matches(
                &json!({"metadata": {"labels": {"app": "web", "tier": "b", "canary": "1"}}})
            )
        );
    }
}
