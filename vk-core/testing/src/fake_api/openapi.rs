//! OpenAPI: v2 is empty (kubectl 1.27 reads it as protobuf and then validates nothing on
//! the client); v3 has the root index and one document per group/version holding the
//! PATCH operations, tagged with their kind and the `fieldValidation` parameter (what
//! kubectl reads to learn the server validates fields itself, so `kubectl apply` leaves
//! validation to the server), and the schemas of the served kinds from k8s-openapi (see
//! `openapi_schemas`), which `kubectl explain` reads.
use serde_json::{Value, json};

use super::resources::{self, RESOURCES, Storage};

/// Content type of the protobuf OpenAPI v2 document.
pub(crate) const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// `/openapi/v2` as JSON: no paths, no definitions.
pub(crate) fn v2_json() -> Value {
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": super::discovery::GIT_VERSION},
        "paths": {},
        "definitions": {},
    })
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`.
pub(crate) fn root() -> Value {
    let mut paths = serde_json::Map::new();
    let mut gvs = vec![(String::new(), "v1".to_owned())];
    gvs.extend(resources::groups().into_iter().flat_map(|(g, versions)| {
        versions
            .into_iter()
            .map(move |v| (g.to_owned(), v.to_owned()))
    }));
    for (g, v) in gvs {
        let p = gv_path(&g, &v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=fake")}),
        );
    }
    json!({ "paths": paths })
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`, if served.
pub(crate) fn group_version(path: &str) -> Option<Value> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version) = match segs.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return None,
    };
    let mut paths = serde_json::Map::new();
    let mut kinds = Vec::new();
    let param = |name: &str, inside: &str| json!({"name": name, "in": inside, "schema": {"type": "string"}});
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version && r.storage == Storage::Stored)
    {
        let base = format!("/{}", gv_path(group, version));
        let p = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{base}/{}/{{name}}", r.plural)
        };
        kinds.push(r.kind);
        let gvk = json!({"group": group, "version": version, "kind": r.kind});
        let op_params = vec![
            param("dryRun", "query"),
            param("fieldManager", "query"),
            param("fieldValidation", "query"),
            param("force", "query"),
        ];
        paths.insert(
            p,
            json!({
                "parameters": [param("name", "path"), param("namespace", "path"), param("fieldValidation", "query")],
                "patch": {
                    "operationId": format!("patch{}", r.kind),
                    "parameters": op_params,
                    "responses": {"200": {"description": "OK"}},
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                },
            }),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": super::discovery::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": super::openapi_schemas::components(group, version, &kinds)},
    }))
}
