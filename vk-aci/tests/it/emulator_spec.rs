//! The emulator's answers held to the spec: examples' key sets, model types, limits, the
//! exec WebSocket, throttling and the call counter.
use std::collections::BTreeSet;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::time::{self, Duration};
use tokio_tungstenite::tungstenite::Message;
use vk_aci::arm::throttle::BucketConfig;
use vk_aci::arm::{Priority, ThrottleConfig};
use vk_aci::emulator::EmulatorConfig;
use vk_translate::container_group::{
    CloudError, ContainerExecResponse, ContainerGroup, ContainerGroupListResult, InstanceState,
    Logs, ProvisioningState, RestartPolicy,
};

use crate::common::*;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Keys with a value: the model leaves out empty lists, which ARM sometimes sends as `[]`.
fn filled_keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| v.as_array().is_none_or(|a| !a.is_empty()))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn group_url(em: &vk_aci::emulator::EmulatorHandle, name: &str, suffix: &str) -> String {
    format!(
        "{}subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.ContainerInstance/containerGroups/{name}{suffix}?api-version=2025-09-01",
        em.url()
    )
}

#[tokio::test]
async fn the_create_example_should_be_accepted_and_answered_in_the_example_shape() {
    let em = emulator(EmulatorConfig::instant()).await;
    let http = reqwest::Client::new();
    let ex = example("ContainerGroupsCreateOrUpdate.json");
    let request = &ex["parameters"]["containerGroup"];
    // The example's identities exist in its subscription; they must here too.
    for id in request["identity"]["userAssignedIdentities"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
    {
        em.add_identity(id);
    }
    let response = http
        .put(group_url(&em, "demo1", ""))
        .json(request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let expected = &ex["responses"]["201"]["body"];
    // `zones` is echoed only when the request names zones; the example's request has none.
    let mut want = keys(expected);
    want.remove("zones");
    assert!(
        want.is_subset(&keys(&body)),
        "{want:?} vs {:?}",
        keys(&body)
    );
    let (want, have) = (
        filled_keys(&expected["properties"]),
        keys(&body["properties"]),
    );
    assert!(want.is_subset(&have), "{want:?} vs {have:?}");
    let group: ContainerGroup = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(group.name.as_deref(), Some("demo1"));
    let text = body.to_string();
    assert!(
        !text.contains("accountKey")
            && !text.contains("SecretValue1InBase64")
            && !text.contains("workspaceKey"),
        "secrets are never returned"
    );

    let got: Value = http
        .get(group_url(&em, "demo1", ""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected = &example("ContainerGroupsGet_Succeeded.json")["responses"]["200"]["body"];
    let mut want = keys(expected);
    want.remove("zones");
    assert!(want.is_subset(&keys(&got)));
    let container = &got["properties"]["containers"][0]["properties"];
    assert!(
        keys(container).contains("instanceView"),
        "GET has container instance views"
    );
}

#[tokio::test]
async fn list_logs_exec_and_errors_should_have_the_spec_shapes() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    arm.begin_create_or_update::<_, ContainerGroup>(
        "shape",
        &group(vec![container("app", &["sh", "-c", "echo hi; sleep 100"])]),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let list_url = format!(
        "{}subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.ContainerInstance/containerGroups?api-version=2025-09-01",
        em.url()
    );
    let list: Value = http
        .get(&list_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ex_list = &example("ContainerGroupsListByResourceGroup.json")["responses"]["200"]["body"];
    assert!(
        keys(&list).is_subset(
            &keys(ex_list)
                .union(&["nextLink".to_owned()].into())
                .cloned()
                .collect()
        )
    );
    let _: ContainerGroupListResult = serde_json::from_value(list).unwrap();

    let logs: Value = http
        .get(group_url(&em, "shape", "/containers/app/logs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        keys(&logs),
        keys(&example("ContainerListLogs.json")["responses"]["200"]["body"])
    );
    let logs: Logs = serde_json::from_value(logs).unwrap();
    assert_eq!(logs.content.as_deref(), Some("hi\n"));

    let exec_request = &example("ContainerExec.json")["parameters"]["containerExecRequest"];
    let exec: Value = http
        .post(group_url(&em, "shape", "/containers/app/exec"))
        .json(exec_request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        keys(&exec),
        keys(&example("ContainerExec.json")["responses"]["200"]["body"])
    );
    let _: ContainerExecResponse = serde_json::from_value(exec).unwrap();

    let usages: Value = http
        .get(format!("{}subscriptions/{SUBSCRIPTION}/providers/Microsoft.ContainerInstance/locations/westus/usages?api-version=2025-09-01", em.url()))
        .send().await.unwrap().json().await.unwrap();
    let ex_usage = &example("ContainerGroupUsage.json")["responses"]["200"]["body"]["value"][0];
    assert_eq!(keys(&usages["value"][0]), keys(ex_usage));
    let caps: Value = http
        .get(format!("{}subscriptions/{SUBSCRIPTION}/providers/Microsoft.ContainerInstance/locations/westus/capabilities?api-version=2025-09-01", em.url()))
        .send().await.unwrap().json().await.unwrap();
    let ex_caps = &example("CapabilitiesList.json")["responses"]["200"]["body"]["value"][0];
    assert_eq!(keys(&caps["value"][0]), keys(ex_caps));

    let missing = http.get(group_url(&em, "nope", "")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let error: CloudError = missing.json().await.unwrap();
    assert_eq!(
        error.error.and_then(|e| e.code).as_deref(),
        Some("ResourceNotFound")
    );

    let no_version = http
        .get(group_url(&em, "shape", "").replace("?api-version=2025-09-01", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), 400);
}

#[tokio::test]
async fn puts_beyond_aci_limits_should_be_refused_with_arm_errors() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    let code = |err: vk_aci::arm::Error| (err.status(), err.code().map(str::to_owned));

    let mut ports = group(vec![container("c", &[])]);
    ports.properties.ip_address = Some(vk_translate::container_group::IpAddress {
        ports: (1..=6)
            .map(|p| vk_translate::container_group::Port {
                port: p,
                ..Default::default()
            })
            .collect(),
        type_: vk_translate::container_group::ContainerGroupIpAddressType::Public,
        ip: None,
        dns_name_label: None,
        auto_generated_domain_name_label_scope: None,
        fqdn: None,
    });
    let err = arm
        .begin_create_or_update::<_, ContainerGroup>("ports", &ports)
        .await
        .unwrap_err();
    assert_eq!(code(err), (Some(400), Some("TooManyPorts".into())));

    let many = group((0..61).map(|i| container(&format!("c{i}"), &[])).collect());
    let err = arm
        .begin_create_or_update::<_, ContainerGroup>("many", &many)
        .await
        .unwrap_err();
    assert_eq!(code(err), (Some(400), Some("InvalidContainerCount".into())));

    let mut big = group(vec![container("c", &[])]);
    if let Some(r) = big.properties.containers[0].properties.resources.as_mut() {
        r.requests.cpu = 32.0;
    }
    let err = arm
        .begin_create_or_update::<_, ContainerGroup>("big", &big)
        .await
        .unwrap_err();
    assert_eq!(
        code(err),
        (Some(400), Some("ResourceRequestsExceedMaximum".into()))
    );

    let dup = group(vec![container("c", &[]), container("c", &[])]);
    let err = arm
        .begin_create_or_update::<_, ContainerGroup>("dup", &dup)
        .await
        .unwrap_err();
    assert_eq!(
        code(err),
        (Some(400), Some("DuplicateContainerName".into()))
    );
}

// On the paused tokio clock (the emulator reads time through tokio): each phase is
// checked just inside its boundaries, with no wait on the real clock.
#[tokio::test(start_paused = true)]
async fn groups_should_move_from_pending_through_creating_to_running() {
    let mut config = EmulatorConfig::instant();
    config.timeline.pending = Duration::from_secs(1);
    config.timeline.creating = Duration::from_secs(2);
    let em = emulator(config).await;
    let arm = client(&em);
    let started = arm
        .begin_create_or_update::<_, ContainerGroup>("life", &group(vec![container("c", &[])]))
        .await
        .unwrap();
    assert_eq!(
        started.resource.properties.provisioning_state,
        Some(ProvisioningState::Pending)
    );
    let phase = |g: ContainerGroup| g.properties.provisioning_state;
    time::advance(Duration::from_millis(900)).await;
    let g: ContainerGroup = arm.get("life", Priority::Foreground).await.unwrap();
    assert_eq!(phase(g), Some(ProvisioningState::Pending), "at 0.9 s");
    time::advance(Duration::from_millis(200)).await;
    let g: ContainerGroup = arm.get("life", Priority::Foreground).await.unwrap();
    assert_eq!(phase(g), Some(ProvisioningState::Creating), "at 1.1 s");
    time::advance(Duration::from_millis(1800)).await;
    let g: ContainerGroup = arm.get("life", Priority::Foreground).await.unwrap();
    assert_eq!(phase(g), Some(ProvisioningState::Creating), "at 2.9 s");
    time::advance(Duration::from_millis(200)).await;
    let g: ContainerGroup = arm.get("life", Priority::Foreground).await.unwrap();
    assert_eq!(
        g.properties.provisioning_state,
        Some(ProvisioningState::Succeeded)
    );
    let state = g.properties.containers[0]
        .properties
        .instance_view
        .clone()
        .unwrap()
        .current_state
        .unwrap();
    assert_eq!(state.state, Some(InstanceState::Running));
    assert!(state.start_time.is_some());
}

#[tokio::test(start_paused = true)]
async fn restart_policies_should_be_honoured() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    let mut never = group(vec![container("c", &["sh", "-c", "exit 3"])]);
    never.properties.restart_policy = Some(RestartPolicy::Never);
    arm.begin_create_or_update::<_, ContainerGroup>("never", &never)
        .await
        .unwrap();
    let mut always = group(vec![container("c", &["sh", "-c", "exit 1"])]);
    always.properties.restart_policy = Some(RestartPolicy::Always);
    arm.begin_create_or_update::<_, ContainerGroup>("always", &always)
        .await
        .unwrap();
    time::advance(Duration::from_millis(2100)).await;

    let g: ContainerGroup = arm.get("never", Priority::Foreground).await.unwrap();
    let view = g.properties.containers[0]
        .properties
        .instance_view
        .clone()
        .unwrap();
    let current = view.current_state.unwrap();
    assert_eq!(
        (current.state, current.exit_code),
        (Some(InstanceState::Terminated), Some(3))
    );
    assert_eq!(
        g.properties.instance_view.unwrap().state,
        Some(InstanceState::Failed)
    );

    let g: ContainerGroup = arm.get("always", Priority::Foreground).await.unwrap();
    let view = g.properties.containers[0]
        .properties
        .instance_view
        .clone()
        .unwrap();
    assert!(view.restart_count.unwrap() >= 2);
    assert_eq!(view.previous_state.unwrap().exit_code, Some(1));
}

#[tokio::test]
async fn the_exec_websocket_should_want_the_password_first_and_echo_like_a_tty() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    arm.begin_create_or_update::<_, ContainerGroup>("ws", &group(vec![container("app", &[])]))
        .await
        .unwrap();

    // Wrong password: closed without output.
    let session = arm.exec("ws", "app", "/bin/sh", 24, 80).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(&session.web_socket_uri)
        .await
        .unwrap();
    ws.send(Message::text("not-it")).await.unwrap();
    let next = time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap();
    assert!(
        matches!(next, Some(Ok(Message::Close(_))) | None | Some(Err(_))),
        "{next:?}"
    );

    let session = arm.exec("ws", "app", "/bin/sh", 24, 80).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(&session.web_socket_uri)
        .await
        .unwrap();
    ws.send(Message::text(session.password.secret()))
        .await
        .unwrap();
    ws.send(Message::binary(
        b"echo \"hi $HOSTNAME\"; hostname\n".to_vec(),
    ))
    .await
    .unwrap();
    ws.send(Message::binary(b"exit\n".to_vec())).await.unwrap();
    let mut out = Vec::new();
    while let Ok(Some(Ok(msg))) = time::timeout(Duration::from_secs(5), ws.next()).await {
        match msg {
            Message::Binary(b) => out.extend_from_slice(&b),
            Message::Text(t) => out.extend_from_slice(t.as_bytes()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("echo \"hi $HOSTNAME\"; hostname\r\n"),
        "the TTY echoes input: {out:?}"
    );
    assert!(out.contains("hi \r\nws\r\n"), "{out:?}");

    // One executable with arguments is not a thing ACI can run.
    let session = arm.exec("ws", "app", "echo hi", 24, 80).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(&session.web_socket_uri)
        .await
        .unwrap();
    ws.send(Message::text(session.password.secret()))
        .await
        .unwrap();
    let first = time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first.into_data()).contains("executable file not found"));
}

#[tokio::test]
async fn arm_buckets_should_answer_429_with_retry_after_and_calls_should_be_counted() {
    let mut config = EmulatorConfig::instant();
    config.throttle = Some(ThrottleConfig {
        reads: BucketConfig {
            capacity: 2.0,
            refill_per_second: 0.5,
            background_reserve: 0.0,
        },
        ..ThrottleConfig::default()
    });
    let em = emulator(config).await;
    let http = reqwest::Client::new();
    let url = group_url(&em, "x", "");
    assert_eq!(http.get(&url).send().await.unwrap().status(), 404);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 404);
    let throttled = http.get(&url).send().await.unwrap();
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);

    let calls: Value = http
        .get(format!("{}_emulator/calls", em.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["container_groups.get"], 3);
}

// === identities, zones, confidential and Spot (issue 14) ===

const UAI: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vk-test/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-id";

#[tokio::test]
#[allow(clippy::too_many_lines)] // one case per refused field, in a row
async fn spot_confidential_zone_and_identity_fields_should_be_refused_as_arm_does() {
    use vk_translate::container_group::{
        ContainerGroupIdentity, ContainerGroupPriority, ContainerGroupSku, ContainerGroupSubnetId,
        DeploymentExtensionSpec, GpuResource, GpuSku, ImageRegistryCredential,
        ResourceIdentityType, UserAssignedIdentities,
    };
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    let refused = |group: ContainerGroup, name: &'static str| {
        let arm = arm.clone();
        async move {
            let err = arm
                .begin_create_or_update::<_, ContainerGroup>(name, &group)
                .await
                .unwrap_err();
            assert_eq!(err.status(), Some(400), "{name}: {err}");
            err.code().unwrap_or_default().to_owned()
        }
    };
    let spot = || {
        let mut g = group(vec![container("c", &[])]);
        g.properties.priority = Some(ContainerGroupPriority::Spot);
        g
    };

    let mut in_subnet = spot();
    in_subnet.properties.subnet_ids = vec![ContainerGroupSubnetId {
        id: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vk-test/providers/Microsoft.Network/virtualNetworks/v/subnets/s".into(),
        name: None,
    }];
    assert_eq!(
        refused(in_subnet, "spot-subnet").await,
        "SpotPriorityContainerGroupNotSupportedForInboundConnectivity"
    );
    let mut confidential_spot = spot();
    confidential_spot.properties.sku = Some(ContainerGroupSku::Confidential);
    assert_eq!(
        refused(confidential_spot, "spot-sku").await,
        "SpotPriorityContainerGroupNotSupportedInSku"
    );
    let mut gpu_spot = spot();
    if let Some(r) = gpu_spot.properties.containers[0]
        .properties
        .resources
        .as_mut()
    {
        r.requests.gpu = Some(GpuResource {
            count: 1,
            sku: GpuSku::V100,
        });
    }
    assert_eq!(
        refused(gpu_spot, "spot-gpu").await,
        "SpotPriorityContainerGroupWithGPUResourcesNotSupported"
    );

    let mut two_zones = group(vec![container("c", &[])]);
    two_zones.location = Some("westus2".into());
    two_zones.zones = vec!["1".into(), "2".into()];
    assert_eq!(
        refused(two_zones, "zones-two").await,
        "MultipleZonesNotSupported"
    );
    let mut zone_4 = group(vec![container("c", &[])]);
    zone_4.location = Some("westus2".into());
    zone_4.zones = vec!["4".into()];
    assert_eq!(
        refused(zone_4, "zone-four").await,
        "InvalidAvailabilityZone"
    );
    let mut zoneless_region = group(vec![container("c", &[])]);
    zoneless_region.zones = vec!["1".into()]; // LOCATION, westus, has no zones
    assert_eq!(
        refused(zoneless_region, "zone-westus").await,
        "InvalidAvailabilityZone"
    );

    let mut with_extension = group(vec![container("c", &[])]);
    with_extension.properties.sku = Some(ContainerGroupSku::Confidential);
    with_extension.properties.extensions = vec![DeploymentExtensionSpec {
        name: "kube-proxy".into(),
        properties: None,
    }];
    assert_eq!(
        refused(with_extension, "cc-extension").await,
        "ExtensionsNotSupportedForConfidentialSku"
    );

    let identity = |id: &str| ContainerGroupIdentity {
        type_: Some(ResourceIdentityType::UserAssigned),
        user_assigned_identities: [(id.to_owned(), UserAssignedIdentities::default())].into(),
        ..ContainerGroupIdentity::default()
    };
    let mut bad_identity = group(vec![container("c", &[])]);
    bad_identity.identity = Some(identity("app-id"));
    assert_eq!(
        refused(bad_identity, "bad-identity").await,
        "LinkedInvalidPropertyId"
    );
    let mut unassigned = group(vec![container("c", &[])]);
    unassigned.properties.image_registry_credentials = vec![ImageRegistryCredential {
        server: "myacr.azurecr.io".into(),
        identity: Some(UAI.into()),
        ..ImageRegistryCredential::default()
    }];
    assert_eq!(
        refused(unassigned, "unassigned").await,
        "InvalidImageRegistryCredentialIdentity"
    );

    // An identity that does not exist.
    let mut ghost = group(vec![container("c", &[])]);
    ghost.identity = Some(identity(UAI));
    assert_eq!(
        refused(ghost, "ghost-identity").await,
        "FailedIdentityOperation"
    );

    // The same fields in shapes ACI takes, the identity created first.
    em.add_identity(UAI);
    let mut fine = spot();
    fine.location = Some("westeurope".into());
    fine.zones = vec!["2".into()];
    fine.identity = Some(identity(UAI));
    fine.properties.image_registry_credentials = vec![ImageRegistryCredential {
        server: "myacr.azurecr.io".into(),
        identity: Some(UAI.into()),
        ..ImageRegistryCredential::default()
    }];
    let created = arm
        .begin_create_or_update::<_, ContainerGroup>("spot-fine", &fine)
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(created.resource.zones, vec!["2".to_owned()]);
}

#[tokio::test]
async fn the_confidential_and_spot_examples_should_be_accepted() {
    let em = emulator(EmulatorConfig::instant()).await;
    let http = reqwest::Client::new();
    for (file, name) in [
        ("ContainerGroupCreateConfidential.json", "confidential"),
        ("ContainerGroupsCreatePriority.json", "spot"),
    ] {
        let ex = example(file);
        let response = http
            .put(group_url(&em, name, ""))
            .json(&ex["parameters"]["containerGroup"])
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "{file}: {status} {}",
            response.text().await.unwrap()
        );
    }
}
