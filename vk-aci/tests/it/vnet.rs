//! VNet mode against the emulator over real HTTP: the delegated subnet checked or created at
//! startup, and the extensions of container groups echoed without protected settings.
use serde_json::json;
use vk_aci::arm::Priority;
use vk_aci::arm::network::{ACI_DELEGATION_SERVICE, Cidr, SubnetError, SubnetOutcome, SubnetRef};
use vk_aci::emulator::{EmulatorConfig, EmulatorHandle};
use vk_translate::container_group::ContainerGroup;
use vk_translate::{ClusterCredentials, KubeProxyOptions};

use crate::common::*;

fn subnet() -> SubnetRef {
    SubnetRef {
        subscription_id: SUBSCRIPTION.to_owned(),
        resource_group: "vnet-rg".to_owned(),
        vnet: "aks-vnet".to_owned(),
        subnet: "virtual-node-aci".to_owned(),
    }
}

/// Put [`subnet`] into the emulator with these properties.
fn insert_subnet(em: &EmulatorHandle, properties: serde_json::Value) {
    em.insert_subnet(
        SUBSCRIPTION,
        "vnet-rg",
        "aks-vnet",
        "virtual-node-aci",
        properties,
    );
}

fn cidr(text: &str) -> Option<Cidr> {
    Some(text.parse().unwrap())
}

#[tokio::test]
async fn a_missing_subnet_should_be_created_with_the_aci_delegation() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    let outcome = arm
        .ensure_subnet(&subnet(), cidr("10.241.0.0/16"))
        .await
        .unwrap();
    assert_eq!(outcome, SubnetOutcome::Created);
    let created = em
        .subnet(SUBSCRIPTION, "vnet-rg", "aks-vnet", "virtual-node-aci")
        .expect("the subnet exists");
    assert_eq!(created["properties"]["addressPrefix"], "10.241.0.0/16");
    assert_eq!(
        created["properties"]["delegations"][0],
        json!({"name": "aciDelegation", "properties": {"serviceName": ACI_DELEGATION_SERVICE}})
    );
    assert_eq!(em.call_count("subnets.create_or_update"), 1);

    // The next start finds it as it left it.
    let again = arm
        .ensure_subnet(&subnet(), cidr("10.241.0.0/16"))
        .await
        .unwrap();
    assert_eq!(again, SubnetOutcome::Existing);
    assert_eq!(em.call_count("subnets.create_or_update"), 1);
}

#[tokio::test]
async fn an_existing_subnet_with_another_prefix_should_be_an_error() {
    let em = emulator(EmulatorConfig::instant()).await;
    insert_subnet(
        &em,
        json!({
            "addressPrefix": "10.242.0.0/16",
            "delegations": [{"name": "d", "properties": {"serviceName": ACI_DELEGATION_SERVICE}}],
        }),
    );
    let err = client(&em)
        .ensure_subnet(&subnet(), cidr("10.241.0.0/16"))
        .await
        .unwrap_err();
    assert!(matches!(err, SubnetError::PrefixMismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("10.242.0.0/16") && message.contains("10.241.0.0/16"),
        "{message}"
    );
    assert_eq!(em.call_count("subnets.create_or_update"), 0);
}

#[tokio::test]
async fn an_existing_undelegated_subnet_should_be_an_error_and_left_alone() {
    let em = emulator(EmulatorConfig::instant()).await;
    insert_subnet(
        &em,
        json!({"addressPrefix": "10.241.0.0/16", "networkSecurityGroup": {"id": "nsg"}}),
    );
    let err = client(&em)
        .ensure_subnet(&subnet(), cidr("10.241.0.0/16"))
        .await
        .unwrap_err();
    assert!(matches!(err, SubnetError::NotDelegated { .. }), "{err}");
    assert!(err.to_string().contains(ACI_DELEGATION_SERVICE), "{err}");
    assert_eq!(em.call_count("subnets.create_or_update"), 0);
}

#[tokio::test]
async fn a_delegated_subnet_without_a_cidr_should_be_accepted() {
    let em = emulator(EmulatorConfig::instant()).await;
    insert_subnet(
        &em,
        json!({
            "addressPrefix": "10.241.0.0/16",
            "delegations": [{"name": "d", "properties": {"serviceName": ACI_DELEGATION_SERVICE}}],
        }),
    );
    let outcome = client(&em).ensure_subnet(&subnet(), None).await.unwrap();
    assert_eq!(outcome, SubnetOutcome::Existing);
}

#[tokio::test]
async fn a_missing_subnet_without_a_cidr_should_be_an_error() {
    let em = emulator(EmulatorConfig::instant()).await;
    let err = client(&em)
        .ensure_subnet(&subnet(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, SubnetError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("ACI_SUBNET_CIDR"), "{err}");
}

#[tokio::test]
async fn group_extensions_should_be_echoed_without_protected_settings() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    let credentials = ClusterCredentials {
        ca_pem: b"CA".to_vec(),
        token: Some(SECRET_TOKEN.to_owned()),
        client_certificate_pem: None,
        client_key_pem: None,
    };
    let mut body = group(vec![container("app", &[])]);
    body.properties.extensions = vec![
        KubeProxyOptions::new("10.240.0.0/16", "10.0.0.1", &credentials).extension(),
        vk_translate::extensions::realtime_metrics_extension(),
    ];
    let _: ContainerGroup = arm.create_or_update("vnet1", &body).await.unwrap();
    let got: serde_json::Value = arm.get("vnet1", Priority::Foreground).await.unwrap();
    let extensions = &got["properties"]["extensions"];
    assert_eq!(extensions[0]["name"], "kube-proxy");
    assert_eq!(
        extensions[0]["properties"]["settings"]["clusterCidr"],
        "10.240.0.0/16"
    );
    assert!(extensions[0]["properties"]["protectedSettings"].is_null());
    assert_eq!(
        extensions[1]["properties"]["extensionType"],
        "realtime-metrics"
    );
    let stored = em.group_spec("vnet1").unwrap();
    assert!(
        stored.properties.extensions[0]
            .properties
            .as_ref()
            .unwrap()
            .protected_settings
            .is_some(),
        "ARM received the kubeconfig"
    );
}

fn kubeconfig_token(group: &ContainerGroup) -> String {
    use base64::Engine as _;
    let proxy = group.properties.extensions[0].properties.as_ref().unwrap();
    let encoded = proxy.protected_settings.as_ref().unwrap()["kubeConfig"]
        .as_str()
        .unwrap();
    let config: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    config["users"][0]["user"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn each_group_should_get_the_current_service_account_token_and_never_log_it() {
    use vk_aci::provider::kube_proxy::{KubeProxyCredentials, KubeProxySource};
    use vk_core::provider::{PodResources, Provider};

    let (captured, _guard) = CapturedLogs::start();

    let sa = tempfile::tempdir().unwrap();
    std::fs::write(sa.path().join("ca.crt"), "CA").unwrap();
    std::fs::write(sa.path().join("token"), "first-sa-t0ken").unwrap();
    let em = emulator(EmulatorConfig::instant()).await;
    let mut config = provider_config();
    config.node = config
        .node
        .private_ip([subnet().id()])
        .realtime_metrics(true);
    config.kube_proxy = Some(KubeProxySource {
        master_uri: "10.0.0.1".to_owned(),
        cluster_cidr: "10.240.0.0/16".to_owned(),
        credentials: KubeProxyCredentials::ServiceAccount(sa.path().to_owned()),
    });
    let p = vk_aci::AciProvider::new(
        client(&em),
        config,
        std::sync::Arc::new(vk_core::clock::SystemClock),
    );
    p.create_pod(&pod("one", &[("app", &[])]), &PodResources::default())
        .await
        .unwrap();
    std::fs::write(sa.path().join("token"), "second-sa-t0ken").unwrap();
    p.create_pod(&pod("two", &[("app", &[])]), &PodResources::default())
        .await
        .unwrap();

    let one = em.group_spec("default-one").unwrap();
    let two = em.group_spec("default-two").unwrap();
    assert_eq!(kubeconfig_token(&one), "first-sa-t0ken");
    assert_eq!(kubeconfig_token(&two), "second-sa-t0ken");
    assert_eq!(two.properties.extensions[1].name, "vk-realtime-metrics");

    // An unreadable token keeps the pod pending (a transient error), naming the file.
    std::fs::remove_file(sa.path().join("token")).unwrap();
    let err = p
        .create_pod(&pod("three", &[("app", &[])]), &PodResources::default())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("token"), "{err}");

    let logs = captured.text();
    assert!(!logs.is_empty());
    assert!(!logs.contains("sa-t0ken"), "a token was logged");
}
