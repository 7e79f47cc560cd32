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
