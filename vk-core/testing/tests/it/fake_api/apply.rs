//! Server-side apply: node status conditions from two managers merge by type.
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use vk_testing::FakeApiServer;

fn node_status(conditions: &[(&str, &str)]) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "vk"},
        "status": {"conditions": conditions.iter().map(|(t, s)| json!({"type": t, "status": s})).collect::<Vec<_>>()},
    })
}

fn conditions(node: &Node) -> Vec<(String, String)> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.type_, c.status))
        .collect()
}

#[tokio::test]
async fn two_managers_applying_node_conditions_should_not_clobber_each_other() {
    let server = FakeApiServer::start().await;
    let nodes: Api<Node> = Api::all(server.client());
    nodes
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "vk"}})).unwrap(),
        )
        .await
        .unwrap();
    let vk = PatchParams::apply("vk-aci").force();
    let other = PatchParams::apply("node-problem-detector").force();
    nodes
        .patch_status(
            "vk",
            &vk,
            &Patch::Apply(node_status(&[
                ("Ready", "True"),
                ("MemoryPressure", "False"),
            ])),
        )
        .await
        .unwrap();
    nodes
        .patch_status(
            "vk",
            &other,
            &Patch::Apply(node_status(&[("KernelDeadlock", "False")])),
        )
        .await
        .unwrap();
    let node = nodes
        .patch_status("vk", &vk, &Patch::Apply(node_status(&[("Ready", "False")])))
        .await
        .unwrap();
    assert_eq!(
        conditions(&node),
        vec![
            ("Ready".into(), "False".into()),
            ("KernelDeadlock".into(), "False".into())
        ],
        "vk's dropped MemoryPressure goes, the other manager's condition stays"
    );
    let managers: Vec<String> = node
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.contains(&"vk-aci".to_owned())
            && managers.contains(&"node-problem-detector".to_owned())
    );
}

#[tokio::test]
async fn apply_without_force_should_conflict_on_another_managers_field() {
    let server = FakeApiServer::start().await;
    let nodes: Api<Node> = Api::all(server.client());
    let spec = |taint: &str| json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "vk", "labels": {"role": taint}}});
    nodes
        .patch("vk", &PatchParams::apply("a"), &Patch::Apply(spec("x")))
        .await
        .unwrap();
    let err = nodes
        .patch("vk", &PatchParams::apply("b"), &Patch::Apply(spec("y")))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!(s.code, 409, "{}", s.message),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let node = nodes
        .patch(
            "vk",
            &PatchParams::apply("b").force(),
            &Patch::Apply(spec("y")),
        )
        .await
        .unwrap();
    assert_eq!(node.metadata.labels.unwrap()["role"], "y");
}
