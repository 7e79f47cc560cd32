//! VNet mode end to end: `vk-aci run` with a subnet creates it (delegated to ACI) before the
//! node registers, and every Linux group carries the kube-proxy extension (and realtime
//! metrics), its kubeconfig pointing at MASTER_URI with a token of kube-proxy's own
//! ServiceAccount (never vk-aci's); bad VNet settings exit 2.
use base64::Engine as _;
use tokio::time::Duration;

use super::{Cluster, SUBSCRIPTION};

const SA_TOKEN: &str = "e2e-sa-token-4711";

/// A service account directory (`ca.crt`, `token`, `namespace`) in the cluster's scratch dir.
fn service_account(cluster: &Cluster) -> std::path::PathBuf {
    let sa = cluster.dir.path().join("serviceaccount");
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::write(sa.join("ca.crt"), "-----BEGIN CERTIFICATE-----\nE2E\n").unwrap();
    std::fs::write(sa.join("token"), SA_TOKEN).unwrap();
    std::fs::write(sa.join("namespace"), "default").unwrap();
    sa
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnet_node_should_create_its_subnet_and_give_groups_the_kube_proxy_extension() {
    let cluster = Cluster::start().await;
    let sa = service_account(&cluster);
    // What deploy/ creates: kube-proxy's ServiceAccount in vk-aci's namespace.
    let accounts: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> =
        kube::Api::namespaced(cluster.api.client(), "default");
    accounts
        .create(
            &kube::api::PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "vk-aci-kube-proxy", "namespace": "default"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let name = "vk-e2e-vnet";
    let process = cluster.spawn_node_with(
        name,
        &[
            "--vnet-name",
            "aks-vnet",
            "--vnet-resource-group",
            "vnet-rg",
            "--subnet-name",
            "virtual-node-aci",
            "--kube-dns-ip",
            "10.0.0.10",
        ],
        &[
            ("ACI_SUBNET_CIDR", "10.241.0.0/16"),
            ("MASTER_URI", "https://10.0.0.1:443"),
            ("CLUSTER_CIDR", "10.244.0.0/16"),
            ("ENABLE_REAL_TIME_METRICS", "true"),
            ("VK_SERVICE_ACCOUNT_DIR", sa.to_str().unwrap()),
        ],
    );
    cluster.ready_node(name, &process).await;
    let subnet = cluster
        .emulator
        .subnet(SUBSCRIPTION, "vnet-rg", "aks-vnet", "virtual-node-aci")
        .expect("the subnet was created before the node registered");
    assert_eq!(subnet["properties"]["addressPrefix"], "10.241.0.0/16");
    assert_eq!(
        subnet["properties"]["delegations"][0]["properties"]["serviceName"],
        "Microsoft.ContainerInstance/containerGroups"
    );

    cluster
        .apply_until_running("1.33", "helloworld-pod.yaml", "helloworld", name, &process)
        .await;

    let group = cluster
        .emulator
        .group_spec(&cluster.group_name("default", "helloworld"))
        .expect("the group exists");
    let props = &group.properties;
    assert_eq!(
        props.subnet_ids[0].id,
        format!(
            "/subscriptions/{SUBSCRIPTION}/resourceGroups/vnet-rg/providers/Microsoft.Network/virtualNetworks/aks-vnet/subnets/virtual-node-aci"
        )
    );
    let names: Vec<&str> = props.extensions.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["kube-proxy", "vk-realtime-metrics"]);
    let proxy = props.extensions[0].properties.as_ref().unwrap();
    assert_eq!(
        proxy.settings,
        Some(serde_json::json!({"clusterCidr": "10.244.0.0/16", "kubeVersion": "v1.9.10"}))
    );
    let encoded = proxy.protected_settings.as_ref().unwrap()["kubeConfig"]
        .as_str()
        .expect("a kubeConfig string");
    let kubeconfig: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        kubeconfig["clusters"][0]["cluster"]["server"],
        "https://10.0.0.1:443"
    );
    // Issue 15, item 9: a token requested for kube-proxy's ServiceAccount, neither the
    // node's kubeconfig token nor vk-aci's service account token.
    let node_kubeconfig = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    let token = kubeconfig["users"][0]["user"]["token"].as_str().unwrap();
    assert_ne!(token, SA_TOKEN, "never vk-aci's service account token");
    assert!(
        !node_kubeconfig.contains(token),
        "never the node's own credentials"
    );
    let reviews: kube::Api<k8s_openapi::api::authentication::v1::TokenReview> =
        kube::Api::all(cluster.api.client());
    let review = reviews
        .create(
            &kube::api::PostParams::default(),
            &serde_json::from_value(serde_json::json!({"spec": {"token": token}})).unwrap(),
        )
        .await
        .unwrap();
    let status = review.status.unwrap();
    assert_eq!(status.authenticated, Some(true));
    assert_eq!(
        status.user.unwrap().username.as_deref(),
        Some("system:serviceaccount:default:vk-aci-kube-proxy")
    );
    assert!(
        !process.log().contains(token),
        "the kube-proxy token is never logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelegated_subnet_or_a_bad_cidr_should_exit_2_before_the_node_registers() {
    let cluster = Cluster::start().await;
    let sa = service_account(&cluster);
    cluster.emulator.insert_subnet(
        SUBSCRIPTION,
        super::RESOURCE_GROUP,
        "aks-vnet",
        "taken",
        serde_json::json!({"addressPrefix": "10.241.0.0/16"}),
    );
    let cases: [(&[&str], &str); 3] = [
        (
            &["--vnet-name", "aks-vnet", "--subnet-name", "taken"],
            "not delegated",
        ),
        (
            &[
                "--vnet-name",
                "aks-vnet",
                "--subnet-name",
                "x",
                "--subnet-cidr",
                "10.1/99",
            ],
            "ACI_SUBNET_CIDR",
        ),
        (&["--subnet-cidr", "10.241.0.0/16"], "needs ACI_SUBNET_NAME"),
    ];
    for (args, expected) in cases {
        let mut process = cluster.spawn_node_with(
            "vk-e2e-bad-vnet",
            args,
            &[("VK_SERVICE_ACCOUNT_DIR", sa.to_str().unwrap())],
        );
        let status = tokio::time::timeout(Duration::from_secs(60), process.child.wait())
            .await
            .expect("vk-aci exits")
            .unwrap();
        let log = process.log();
        assert_eq!(status.code(), Some(2), "{args:?}: {log}");
        assert!(log.contains(expected), "{args:?}: {log}");
    }
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(cluster.api.client());
    assert!(
        nodes.get_opt("vk-e2e-bad-vnet").await.unwrap().is_none(),
        "no node was registered"
    );
}
