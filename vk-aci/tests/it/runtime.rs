//! End to end: vk-core's runtime on the fake API server, AciProvider, and the emulator.
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use tokio::sync::oneshot;
use tokio::time::{self, Duration};
use vk_aci::emulator::EmulatorConfig;
use vk_testing::FakeApiServer;

use crate::common::*;

const NODE: &str = "vk-aci-e2e";
const PATIENCE: Duration = Duration::from_secs(60);

fn api_pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}],
        },
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_pods_should_run_on_aci_and_deletes_should_remove_their_groups() {
    let api = FakeApiServer::start().await;
    let em = emulator(runtime_emulator_config()).await;
    let runtime = aci_runtime(&api, &em, NODE, Duration::from_secs(10));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));

    let pods: Api<Pod> = Api::namespaced(api.client(), "default");
    for i in 0..100 {
        pods.create(&PostParams::default(), &api_pod(&format!("p{i}")))
            .await
            .unwrap();
    }
    time::timeout(PATIENCE, async {
        loop {
            let list = pods.list(&ListParams::default()).await.unwrap();
            let running = list
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .count();
            if running == 100 {
                return;
            }
            time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("all 100 pods Running in the API");
    assert_eq!(em.group_names().len(), 100);
    let p0 = pods.get("p0").await.unwrap();
    assert!(
        p0.status.unwrap().pod_ip.is_some(),
        "the group's IP is the pod IP"
    );

    pods.delete("p0", &DeleteParams::default()).await.unwrap();
    time::timeout(PATIENCE, async {
        while em.group_names().iter().any(|n| n.contains("p0")) {
            time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the deleted pod's group is gone");

    let calls = em.calls();
    assert_eq!(calls["container_groups.create_or_update"], 100, "{calls:?}");
    let _ = stop.send(());
    time::timeout(PATIENCE, task)
        .await
        .expect("runtime shutdown probably deadlocked")
        .unwrap()
        .unwrap();
}

/// One TLS handshake with `addr` as `server_name`, trusting only `ca_pem` (blocking I/O on
/// a blocking thread: vk-aci has no tokio-rustls).
async fn handshake(addr: std::net::SocketAddr, server_name: &str, ca_pem: String) -> bool {
    use rustls::pki_types::pem::PemObject as _;
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned()).unwrap();
    tokio::task::spawn_blocking(move || {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return false;
            }
        }
        true
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_server_certificates_should_serve_a_cluster_signed_certificate_for_the_node() {
    use vk_aci::virtual_node::{VirtualNode, VirtualNodeConfig};
    use vk_core::server::{ServingCert, ServingCsr, TlsConfig};

    let api = FakeApiServer::start().await;
    api.knobs().auto_approve_csrs(true);
    let em = emulator(EmulatorConfig::instant()).await;
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    let mut config = VirtualNodeConfig::default();
    config.node.name = NODE.to_owned();
    config.node.internal_ip = Some(loopback);
    config.node.kubelet_port = 0;
    config.aci.node = config.aci.node.clone().node_name(NODE);
    config.arm = crate::common::config(&em);
    config.images = None;
    config.kubelet_listen = std::net::SocketAddr::new(loopback, 0);
    config.health_listen = Some(std::net::SocketAddr::new(loopback, 0));
    // As `vk-aci run --rotate-server-certificates` sets it: names and IP come from the node.
    config.tls = TlsConfig {
        serving: ServingCert::CertificateSigningRequest(ServingCsr::new("")),
        ..TlsConfig::self_signed(vec![], vec![])
    };
    config.lease_timing = (
        Duration::from_secs(15),
        Duration::from_secs(5),
        Duration::from_millis(500),
    );
    let node = VirtualNode::bind(config, api.client(), vk_aci::arm::ArmCredential::fixed("t"))
        .await
        .unwrap();
    let addr = node.kubelet_addr();
    let health = node.health_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(node.run(async {
        let _ = stopped.await;
    }));

    // The certificate chains to the cluster CA and names the node and its InternalIP.
    time::timeout(PATIENCE, async {
        while !handshake(addr, "127.0.0.1", api.ca_pem()).await {
            time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the kubelet port never served a cluster-signed certificate");
    assert!(handshake(addr, NODE, api.ca_pem()).await);
    assert!(!handshake(addr, "elsewhere.example", api.ca_pem()).await);

    let csrs =
        Api::<k8s_openapi::api::certificates::v1::CertificateSigningRequest>::all(api.client())
            .list(&ListParams::default())
            .await
            .unwrap();
    let request = &csrs.items[0].spec;
    assert_eq!(request.signer_name, "kubernetes.io/kubelet-serving");

    // Its expiry is a metric, to alert on.
    let metrics = reqwest::get(format!("http://{health}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expiry = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vk_serving_certificate_expiration_seconds "))
        .unwrap_or_else(|| panic!("no expiry metric in {metrics}"));
    assert!(expiry.parse::<i64>().unwrap() > 0, "{expiry}");

    let _ = stop.send(());
    time::timeout(PATIENCE, task)
        .await
        .expect("the node did not stop")
        .unwrap()
        .unwrap();
}
