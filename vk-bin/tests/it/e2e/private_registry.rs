//! private-registry-pod.yaml: the container group carries the registry credential.
use tokio::time::Duration;

use super::{Cluster, RESOURCE_GROUP, SUBSCRIPTION, eventually, running_on, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_registry_pod_should_carry_the_registry_credential() {
    let cluster = Cluster::start().await;
    let name = "vk-e2e-registry";
    let process = cluster.spawn_node(name);
    cluster.ready_node(name, &process).await;
    let fixture = Cluster::fixture("private-registry-pod.yaml");
    let out = cluster
        .kubectl("1.33", &["apply", "-f", fixture.to_str().unwrap()])
        .await;
    assert!(out.status.success(), "apply: {}", text(&out.stderr));

    let pods = cluster.pods("default");
    eventually(Duration::from_secs(60), "the private pod Running", || {
        let pods = pods.clone();
        async move {
            pods.get_opt("aci-helloworld-private")
                .await
                .ok()
                .flatten()
                .is_some_and(|p| running_on(&p, name))
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n--- vk-aci log ---\n{}", process.log()));

    let group = "default-aci-helloworld-private";
    assert_eq!(cluster.emulator.group_names(), [group]);
    let url = cluster
        .emulator
        .url()
        .join(&format!(
            "subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.ContainerInstance/containerGroups/{group}?api-version={}",
            vk_aci::arm::DEFAULT_API_VERSION
        ))
        .unwrap();
    let body: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let creds = &body["properties"]["imageRegistryCredentials"];
    assert_eq!(creds[0]["server"], "myregistry.azurecr.io", "{body:#}");
    assert_eq!(creds[0]["username"], "puller", "{body:#}");
    // The password went in the PUT; ARM never returns it, and neither does the log.
    assert!(!process.log().contains("s3cret"));
}
