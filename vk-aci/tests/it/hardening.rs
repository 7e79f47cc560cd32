//! Issue 15's races and unsafe calls on the ACI side, each first shown failing: deletes
//! that must not remove another pod's group, calls that must not be repeated.
use k8s_openapi::api::core::v1::Pod;
use vk_aci::emulator::{EmulatorConfig, Injected};
use vk_core::provider::{PodResources, Provider};
use vk_translate::container_group::ContainerGroup;

use crate::common::*;

fn with_uid(mut pod: Pod, uid: &str) -> Pod {
    pod.metadata.uid = Some(uid.to_owned());
    pod
}

#[tokio::test]
async fn a_delete_for_an_old_uid_should_never_remove_the_group_of_a_new_pod() {
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    // A StatefulSet pod force-deleted and recreated under the same name: the new pod's
    // group exists, and a delete for the old pod (the runtime's, or the orphan sweep's
    // with an old listing) arrives late.
    let new = with_uid(pod("web-0", &[("app", &[])]), "uid-new");
    p.create_pod(&new, &PodResources::default()).await.unwrap();
    let old = with_uid(pod("web-0", &[("app", &[])]), "uid-old");
    p.delete_pod(&old).await.unwrap();
    assert_eq!(
        em.group_names(),
        [vk_translate::container_group_name("default", "web-0")],
        "the new pod's group must stay"
    );
    // The new pod's own delete still removes it.
    p.delete_pod(&new).await.unwrap();
    assert!(em.group_names().is_empty());
}

#[tokio::test]
async fn exec_should_not_be_retried_after_a_server_error() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    arm.begin_create_or_update::<_, ContainerGroup>("ex", &group(vec![container("app", &[])]))
        .await
        .unwrap();
    // The POST may have started a session: sending it again is not safe.
    em.inject(Injected::status(500, "InternalServerError"));
    assert!(arm.exec("ex", "app", "/bin/sh", 24, 80).await.is_err());
    assert_eq!(em.call_count("containers.execute_command"), 1);
}

fn authenticated(em: &vk_aci::emulator::EmulatorHandle) -> vk_aci::arm::ArmClient {
    let credential = vk_aci::arm::ArmCredential::client_credentials(
        &em.authority(),
        "tenant",
        "app-id".into(),
        azure_core::credentials::Secret::new("app-s3cret"),
        "https://management.azure.com/.default".into(),
    );
    vk_aci::arm::ArmClient::new(config(em), credential).unwrap()
}

fn with_auth(mut config: EmulatorConfig) -> EmulatorConfig {
    config.auth = Some(("app-id".into(), "app-s3cret".into()));
    config
}

#[tokio::test]
async fn a_401_should_fetch_a_new_token_once_and_go_through() {
    let em = emulator(with_auth(EmulatorConfig::instant())).await;
    let arm = authenticated(&em);
    let _: Vec<ContainerGroup> = arm.list(vk_aci::arm::Priority::Foreground).await.unwrap();
    // The credential was rotated: every token issued so far is refused.
    em.revoke_tokens();
    let _: Vec<ContainerGroup> = arm
        .list(vk_aci::arm::Priority::Foreground)
        .await
        .expect("a refused token is replaced, not returned as an error");
    assert_eq!(em.call_count("token"), 2);
}

// Paused clock: the token cache, the emulator's token lifetime and its slow answer are
// all tokio time. Calls that waited behind the refresh would let the clock run to the
// 5 s timeout and fail.
#[tokio::test(start_paused = true)]
async fn a_slow_token_refresh_should_not_hold_up_calls_while_the_token_is_valid() {
    use tokio::time::{self, Duration};
    let mut config = with_auth(EmulatorConfig::instant());
    // Due for refresh (5 min before expiry) two seconds after it is issued.
    config.token_lifetime =
        vk_aci::arm::credentials::REFRESH_BEFORE_EXPIRY + Duration::from_secs(2);
    let em = emulator(config).await;
    let arm = authenticated(&em);
    let _: Vec<ContainerGroup> = arm.list(vk_aci::arm::Priority::Foreground).await.unwrap();
    time::advance(Duration::from_millis(2500)).await;
    // The identity provider now hangs; the cached token is still valid for minutes.
    em.set_token_delay(Duration::from_secs(25));
    let calls = async {
        for _ in 0..3 {
            let _: Vec<ContainerGroup> = arm.list(vk_aci::arm::Priority::Foreground).await.unwrap();
        }
    };
    assert!(
        time::timeout(Duration::from_secs(5), calls).await.is_ok(),
        "calls waited behind a token refresh they did not need"
    );
}

fn provider_of_cluster(
    em: &vk_aci::emulator::EmulatorHandle,
    cluster: &str,
) -> vk_aci::AciProvider {
    let mut config = provider_config();
    config.node = config.node.cluster_id(cluster);
    vk_aci::AciProvider::new(
        client(em),
        config,
        std::sync::Arc::new(vk_core::clock::SystemClock),
    )
}

#[tokio::test]
async fn two_clusters_in_one_resource_group_should_neither_share_nor_adopt_groups() {
    let em = emulator(EmulatorConfig::instant()).await;
    // Same resource group, same (default) node name, same pod name.
    let a = provider_of_cluster(&em, "cluster-a");
    let b = provider_of_cluster(&em, "cluster-b");
    let web = pod("web", &[("app", &[])]);
    a.create_pod(&web, &PodResources::default()).await.unwrap();
    b.create_pod(&web, &PodResources::default()).await.unwrap();
    assert_eq!(
        em.group_names().len(),
        2,
        "one group per cluster, not one overwritten"
    );
    let listed = a.list_pods().await.unwrap();
    assert_eq!(
        listed.len(),
        1,
        "cluster A sees only its own group: {listed:?}"
    );
    // A's orphan sweep (a delete through A) never reaches B's group.
    a.delete_pod(&web).await.unwrap();
    assert_eq!(em.group_names().len(), 1);
    assert_eq!(b.list_pods().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_adopted_group_from_before_the_cluster_identity_should_keep_its_name_on_update() {
    let em = emulator(EmulatorConfig::instant()).await;
    // Created by a node without a cluster identity (upstream's names).
    let before = provider(&em);
    let web = pod("web", &[("app", &[])]);
    before
        .create_pod(&web, &PodResources::default())
        .await
        .unwrap();
    let legacy = vk_translate::container_group_name("default", "web");
    assert_eq!(em.group_names(), std::slice::from_ref(&legacy));
    // The upgraded node has one; it adopts the group, then the pod's image changes.
    let after = provider_of_cluster(&em, "cluster-a");
    assert_eq!(after.list_pods().await.unwrap().len(), 1);
    let mut updated = web.clone();
    updated.spec.as_mut().unwrap().containers[0].image = Some("busybox:1.37".into());
    after
        .update_pod(&updated, &PodResources::default())
        .await
        .unwrap();
    assert_eq!(
        em.group_names(),
        std::slice::from_ref(&legacy),
        "no second group for the pod"
    );
    let spec = em.group_spec(&legacy).unwrap();
    assert_eq!(
        spec.properties.containers[0].properties.image.as_deref(),
        Some("busybox:1.37")
    );
}
