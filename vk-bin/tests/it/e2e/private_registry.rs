//! private-registry-pod.yaml: the container group carries the registry credential.
use super::{Cluster, RESOURCE_GROUP, SUBSCRIPTION};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_registry_pod_should_carry_the_registry_credential() {
    let cluster = Cluster::start().await;
    let name = "vk-e2e-registry";
    let process = cluster.spawn_node(name);
    cluster.ready_node(name, &process).await;
    cluster
        .apply_until_running(
            "1.33",
            "private-registry-pod.yaml",
            "aci-helloworld-private",
            name,
            &process,
        )
        .await;

    let group = cluster.group_name("default", "aci-helloworld-private");
    assert_eq!(cluster.emulator.group_names(), std::slice::from_ref(&group));
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
