//! The schemas of the served kinds, from k8s-openapi's JSON schemas (its `schemars`
//! feature), as OpenAPI v3 `components.schemas` with the `x-kubernetes-group-version-kind`
//! extensions kubectl looks kinds up by (`kubectl explain`); and the server-side field
//! validation (`fieldValidation=Strict`) that walks an object against them.
use k8s_openapi::schemars::JsonSchema;
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use k8s_openapi::api::{
    apps::v1 as apps, authentication::v1 as authn, authorization::v1 as authz,
    autoscaling::v1 as autoscaling_v1, autoscaling::v2 as autoscaling_v2, batch::v1 as batch,
    certificates::v1 as certificates, coordination::v1 as coordination, core::v1 as core,
    discovery::v1 as discovery, events::v1 as events,
};

/// Add `T`'s schema (and everything it refers to) to `generator`; its definition name.
fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// Add the schema of `kind` in `group`/`version` to `generator`; its definition name, or
/// `None` for a kind without a schema here.
fn add_kind(
    generator: &mut SchemaGenerator,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<String> {
    let g = generator;
    Some(match (group, version, kind) {
        ("", "v1", "Namespace") => add::<core::Namespace>(g),
        ("", "v1", "Pod") => add::<core::Pod>(g),
        ("", "v1", "Node") => add::<core::Node>(g),
        ("", "v1", "Event") => add::<core::Event>(g),
        ("", "v1", "Secret") => add::<core::Secret>(g),
        ("", "v1", "ConfigMap") => add::<core::ConfigMap>(g),
        ("", "v1", "Service") => add::<core::Service>(g),
        ("", "v1", "Endpoints") => add::<core::Endpoints>(g),
        ("", "v1", "ServiceAccount") => add::<core::ServiceAccount>(g),
        ("", "v1", "PersistentVolumeClaim") => add::<core::PersistentVolumeClaim>(g),
        ("", "v1", "PersistentVolume") => add::<core::PersistentVolume>(g),
        ("coordination.k8s.io", "v1", "Lease") => add::<coordination::Lease>(g),
        ("events.k8s.io", "v1", "Event") => add::<events::Event>(g),
        ("apps", "v1", "Deployment") => add::<apps::Deployment>(g),
        ("apps", "v1", "ReplicaSet") => add::<apps::ReplicaSet>(g),
        ("batch", "v1", "Job") => add::<batch::Job>(g),
        ("discovery.k8s.io", "v1", "EndpointSlice") => add::<discovery::EndpointSlice>(g),
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
            add::<autoscaling_v2::HorizontalPodAutoscaler>(g)
        }
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => {
            add::<autoscaling_v1::HorizontalPodAutoscaler>(g)
        }
        ("autoscaling", "v1", "Scale") => add::<autoscaling_v1::Scale>(g),
        ("certificates.k8s.io", "v1", "CertificateSigningRequest") => {
            add::<certificates::CertificateSigningRequest>(g)
        }
        ("authentication.k8s.io", "v1", "TokenReview") => add::<authn::TokenReview>(g),
        ("authorization.k8s.io", "v1", "SubjectAccessReview") => {
            add::<authz::SubjectAccessReview>(g)
        }
        ("authorization.k8s.io", "v1", "SelfSubjectAccessReview") => {
            add::<authz::SelfSubjectAccessReview>(g)
        }
        _ => return None,
    })
}

fn generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|s| s.meta_schema = None)
        .into_generator()
}

/// `components.schemas` for `kinds` of `group`/`version`: each kind's schema carries its
/// `x-kubernetes-group-version-kind`.
pub(crate) fn components(group: &str, version: &str, kinds: &[&str]) -> Map<String, Value> {
    let mut g = generator();
    let mut named = Vec::new();
    for kind in kinds {
        if let Some(name) = add_kind(&mut g, group, version, kind) {
            named.push((name, *kind));
        }
    }
    let mut defs = g.take_definitions(true);
    for (name, kind) in named {
        if let Some(Value::Object(schema)) = defs.get_mut(&name) {
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": group, "kind": kind, "version": version}]),
            );
        }
    }
    defs
}

/// The fields of `obj` (of `kind` in `group`/`version`) its schema does not declare, as
/// `spec.template.spec.containers[0].foo` paths; `None` when the kind has no schema here.
pub(crate) fn unknown_fields(
    group: &str,
    version: &str,
    kind: &str,
    obj: &Value,
) -> Option<Vec<String>> {
    let mut g = generator();
    let name = add_kind(&mut g, group, version, kind)?;
    let defs = g.take_definitions(true);
    let root = defs.get(&name)?;
    let mut out = Vec::new();
    walk(&defs, root, obj, "", &mut out, 0);
    Some(out)
}

/// The schema `schema` stands for: through `$ref` and a single-`allOf` wrapper.
fn resolve<'a>(defs: &'a Map<String, Value>, mut schema: &'a Value) -> &'a Value {
    for _ in 0..16 {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            match r.rsplit('/').next().and_then(|n| defs.get(n)) {
                Some(s) => schema = s,
                None => return schema,
            }
        } else if let Some([only]) = schema
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            schema = only;
        } else {
            break;
        }
    }
    schema
}

fn walk(
    defs: &Map<String, Value>,
    schema: &Value,
    v: &Value,
    path: &str,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    let schema = resolve(defs, schema);
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true)) {
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, child) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match props.get(k) {
                        Some(s) => walk(defs, s, child, &p, out, depth + 1),
                        None => out.push(p),
                    }
                }
            } else if let Some(add) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for (k, child) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(defs, add, child, &p, out, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (i, child) in items.iter().enumerate() {
                    walk(defs, item, child, &format!("{path}[{i}]"), out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_schemas_should_carry_their_kind_and_refer_to_object_meta() {
        let defs = components("", "v1", &["Pod"]);
        let pod = &defs["io.k8s.api.core.v1.Pod"];
        assert_eq!(pod["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
        assert!(defs.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        assert!(defs.contains_key("io.k8s.api.core.v1.Container"));
        let containers = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["type"], "array");
    }

    #[test]
    fn unknown_fields_should_be_found_at_any_depth() {
        let deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "colour": "blue"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx", "imagePolicy": "x",
                        "resources": {"requests": {"cpu": "1"}}}]}}},
        });
        let unknown = unknown_fields("apps", "v1", "Deployment", &deploy).unwrap();
        assert_eq!(
            unknown,
            vec![
                "metadata.colour",
                "spec.template.spec.containers[0].imagePolicy"
            ]
        );
        assert_eq!(unknown_fields("apps", "v1", "Widget", &deploy), None);
    }
}
