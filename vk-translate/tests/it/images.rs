//! Resolved image configs: a container with `args` and no `command` runs ENTRYPOINT + args.

use k8s_openapi::api::core::v1 as k8s;
use vk_translate::images::{images_to_resolve, pull_credentials};
use vk_translate::{
    ImageConfig, NodeOptions, ReferencedObjects, ResolvedImages, translate_pod,
    translate_pod_with_images,
};

fn pod(json: serde_json::Value) -> k8s::Pod {
    serde_json::from_value(json).unwrap()
}

fn args_pod() -> k8s::Pod {
    pod(serde_json::json!({
        "metadata": {"name": "dapr", "namespace": "apps"},
        "spec": {"containers": [
            {"name": "sidecar", "image": "registry.example/daprd:1.14",
             "args": ["--app-id", "$(APP_ID)", "--x", "$$(APP_ID)"],
             "env": [{"name": "APP_ID", "value": "orders"}]},
            {"name": "plain", "image": "registry.example/daprd:1.14"},
            {"name": "own", "image": "busybox", "command": ["sleep"], "args": ["1"]}
        ]}
    }))
}

fn resolved() -> ResolvedImages {
    ResolvedImages::from([(
        "registry.example/daprd:1.14".to_owned(),
        ImageConfig {
            entrypoint: vec!["/daprd".to_owned(), "$(NOT_EXPANDED)".to_owned()],
            cmd: vec!["--default".to_owned()],
        },
    )])
}

fn commands(translation: &vk_translate::Translation) -> Vec<Vec<String>> {
    translation
        .container_group
        .properties
        .containers
        .iter()
        .map(|c| c.properties.command.clone())
        .collect()
}

#[test]
fn args_without_command_should_run_after_the_image_entrypoint() {
    let t = translate_pod_with_images(
        &args_pod(),
        &ReferencedObjects::default(),
        &NodeOptions::default(),
        &resolved(),
    )
    .unwrap();
    assert_eq!(
        commands(&t),
        vec![
            vec![
                "/daprd",
                "$(NOT_EXPANDED)",
                "--app-id",
                "orders",
                "--x",
                "$(APP_ID)"
            ],
            vec!["/daprd", "$(NOT_EXPANDED)", "--default"],
            vec!["sleep", "1"],
        ]
    );
    assert!(
        t.warnings.iter().all(|w| !w.field.ends_with(".args")),
        "{:?}",
        t.warnings
    );
}

#[test]
fn unresolved_images_should_run_args_alone_with_a_warning() {
    let t = translate_pod(
        &args_pod(),
        &ReferencedObjects::default(),
        &NodeOptions::default(),
    )
    .unwrap();
    assert_eq!(
        commands(&t)[0],
        vec!["--app-id", "orders", "--x", "$(APP_ID)"]
    );
    assert!(commands(&t)[1].is_empty());
    assert!(
        t.warnings
            .iter()
            .any(|w| w.field == "spec.containers[0].args")
    );
}

#[test]
fn only_args_only_images_should_be_resolved() {
    let images = images_to_resolve(&args_pod());
    assert_eq!(
        images.into_iter().collect::<Vec<_>>(),
        vec!["registry.example/daprd:1.14".to_owned()]
    );
}

#[test]
fn pull_credentials_should_come_from_the_pull_secrets() {
    let mut pod = args_pod();
    pod.spec.as_mut().unwrap().image_pull_secrets = Some(vec![k8s::LocalObjectReference {
        name: "pull".to_owned(),
    }]);
    let secret: k8s::Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "pull"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson":
            r#"{"auths": {"https://registry.example/v1/": {"auth": "dXNlcjpodW50ZXIy"}}}"#}
    }))
    .unwrap();
    let objects = ReferencedObjects {
        secrets: [("pull".to_owned(), secret)].into(),
        ..ReferencedObjects::default()
    };
    let creds = pull_credentials(&pod, &objects);
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].server, "registry.example");
    assert_eq!(creds[0].username, "user");
    assert_eq!(creds[0].password, "hunter2");
}
