//! The emulator is as strict as ARM where the provider's correctness depends on it: a group
//! being deleted refuses a PUT, ACI refuses updates it cannot apply in place, and an answer
//! can be lost after the request took effect.
use tokio::time::Duration;
use vk_aci::arm::{ArmClient, ArmCredential, Priority, RetryPolicy};
use vk_aci::emulator::{EmulatorConfig, FaultConfig, Injected};
use vk_translate::container_group::{ContainerGroup, RestartPolicy};

use crate::common::*;

fn app() -> ContainerGroup {
    group(vec![container("app", &[])])
}

#[tokio::test]
async fn a_put_to_a_group_being_deleted_should_be_a_409_conflict() {
    let mut config = EmulatorConfig::instant();
    config.timeline.deleting = Duration::from_secs(30);
    let em = emulator(config).await;
    let arm = client(&em);
    arm.begin_create_or_update::<_, ContainerGroup>("g", &app())
        .await
        .unwrap();
    arm.begin_delete("g").await.unwrap();
    let err = arm
        .begin_create_or_update::<_, ContainerGroup>("g", &app())
        .await
        .expect_err("ARM does not bring back a group it is deleting");
    assert_eq!(err.status(), Some(409), "{err}");
    assert_eq!(err.code(), Some("ContainerGroupTransitioning"));
}

#[tokio::test]
async fn updates_aci_cannot_apply_in_place_should_be_refused() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    arm.begin_create_or_update::<_, ContainerGroup>("g", &app())
        .await
        .unwrap();
    let mut restart = app();
    restart.properties.restart_policy = Some(RestartPolicy::Never);
    let mut bigger = app();
    if let Some(r) = bigger.properties.containers[0]
        .properties
        .resources
        .as_mut()
    {
        r.requests.cpu = 2.0;
    }
    for (what, changed) in [("restart policy", restart), ("cpu", bigger)] {
        let err = arm
            .begin_create_or_update::<_, ContainerGroup>("g", &changed)
            .await
            .expect_err(what);
        assert_eq!(err.status(), Some(409), "{what}: {err}");
    }
    let mut image = app();
    image.properties.containers[0].properties.image = Some("busybox:1.37".into());
    let updated = arm
        .begin_create_or_update::<_, ContainerGroup>("g", &image)
        .await
        .expect("an image change is an update ACI makes in place");
    assert_eq!(updated.status, 200);
}

#[tokio::test]
async fn a_lost_answer_should_still_have_applied_the_request() {
    let em = emulator(EmulatorConfig::instant()).await;
    let once = ArmClient::new(
        config(&em).retry(RetryPolicy::none()),
        ArmCredential::fixed(SECRET_TOKEN),
    )
    .unwrap();
    em.inject(Injected::lost());
    let err = once
        .begin_create_or_update::<_, ContainerGroup>("g", &app())
        .await
        .expect_err("the answer was lost");
    assert!(err.is_transient(), "{err}");
    assert_eq!(em.group_names(), ["g"], "the PUT took effect all the same");

    em.inject(Injected::lost());
    assert!(once.begin_delete("g").await.is_err());
    assert!(
        em.group_names().is_empty(),
        "the DELETE took effect all the same"
    );

    // Standing: every write is applied and its answer lost.
    em.set_faults(FaultConfig {
        lost_response_rate: 1.0,
        ..FaultConfig::default()
    });
    let _ = once
        .begin_create_or_update::<_, ContainerGroup>("h", &app())
        .await
        .expect_err("lost");
    assert_eq!(em.group_names(), ["h"]);
    let _: ContainerGroup = once
        .get("h", Priority::Foreground)
        .await
        .expect("reads answer");
}
