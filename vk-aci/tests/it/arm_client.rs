//! The ARM client against the emulator over real HTTP.
use tokio::time::Duration;
use vk_aci::arm::{ArmClient, ArmCredential, Error, Priority, RetryPolicy};
use vk_aci::emulator::{EmulatorConfig, Injected, LroStyle, QuotaWindow};
use vk_translate::container_group::{
    CapabilitiesListResult, ContainerGroup, InstanceState, ProvisioningState, UsageListResult,
};

use crate::common::*;

#[tokio::test]
async fn create_get_list_delete_should_round_trip_a_group() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    let body = group(vec![container("app", &[])]);
    let created: ContainerGroup = arm.create_or_update("demo1", &body).await.unwrap();
    assert_eq!(
        created.properties.provisioning_state,
        Some(ProvisioningState::Succeeded)
    );

    let got: ContainerGroup = arm.get("demo1", Priority::Foreground).await.unwrap();
    let view = got
        .properties
        .instance_view
        .expect("GET has an instance view");
    assert_eq!(view.state, Some(InstanceState::Running));

    let listed: Vec<ContainerGroup> = arm.list(Priority::Background).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].properties.instance_view.is_none(),
        "list has no instance view"
    );

    assert!(arm.delete("demo1").await.unwrap(), "the group existed");
    let err = arm
        .get::<ContainerGroup>("demo1", Priority::Foreground)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        !arm.delete("demo1").await.unwrap(),
        "deleting again finds nothing"
    );
}

// Paused clock: the polls' waits (Retry-After, the poll interval) and the emulator's
// timeline are all tokio time, so nothing waits on the real clock.
#[tokio::test(start_paused = true)]
async fn long_running_operations_should_be_followed_in_every_header_style() {
    for style in [LroStyle::AsyncOperation, LroStyle::Location, LroStyle::None] {
        let mut config = EmulatorConfig::instant();
        config.lro_style = style;
        config.timeline.pending = Duration::from_millis(100);
        config.timeline.creating = Duration::from_millis(100);
        config.timeline.deleting = Duration::from_millis(150);
        let em = emulator(config).await;
        let arm = client(&em);

        let started = arm
            .begin_create_or_update::<_, ContainerGroup>("lro", &group(vec![container("c", &[])]))
            .await
            .unwrap();
        assert_eq!(started.status, 201);
        assert_eq!(
            started.resource.properties.provisioning_state,
            Some(ProvisioningState::Pending)
        );
        let lro = started
            .lro
            .expect("a pending create is a long-running operation");
        assert_eq!(
            lro.is_async_operation(),
            style == LroStyle::AsyncOperation,
            "{style:?}"
        );
        assert_eq!(lro.is_location(), style == LroStyle::Location, "{style:?}");

        let done: ContainerGroup = arm
            .create_or_update("lro2", &group(vec![container("c", &[])]))
            .await
            .unwrap();
        assert_eq!(
            done.properties.provisioning_state,
            Some(ProvisioningState::Succeeded),
            "{style:?}"
        );

        assert!(arm.delete("lro2").await.unwrap());
        assert!(
            arm.get::<ContainerGroup>("lro2", Priority::Foreground)
                .await
                .unwrap_err()
                .is_not_found(),
            "{style:?}"
        );
    }
}

#[tokio::test]
async fn failed_provisioning_should_end_the_operation_with_an_error() {
    let mut config = EmulatorConfig::instant();
    config.timeline.pending = Duration::from_millis(50);
    config.faults.fail_provisioning = true;
    let em = emulator(config).await;
    let err = client(&em)
        .create_or_update::<_, ContainerGroup>("broken", &group(vec![container("c", &[])]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::OperationFailed { ref status, .. } if status == "Failed"),
        "{err}"
    );
}

#[tokio::test]
async fn list_should_follow_next_links() {
    let mut config = EmulatorConfig::instant();
    config.page_size = 2;
    let em = emulator(config).await;
    let arm = client(&em);
    for i in 0..5 {
        arm.begin_create_or_update::<_, ContainerGroup>(
            &format!("g{i}"),
            &group(vec![container("c", &[])]),
        )
        .await
        .unwrap();
    }
    let all: Vec<ContainerGroup> = arm.list(Priority::Foreground).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(
        em.call_count("container_groups.list"),
        3,
        "5 groups in pages of 2"
    );
}

#[tokio::test(start_paused = true)]
async fn throttled_calls_should_be_retried_after_retry_after() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    arm.begin_create_or_update::<_, ContainerGroup>("t", &group(vec![container("c", &[])]))
        .await
        .unwrap();
    em.inject(Injected::status(429, "SubscriptionRequestsThrottled").retry_after(1));
    let start = tokio::time::Instant::now();
    let got: ContainerGroup = arm.get("t", Priority::Foreground).await.unwrap();
    // The retry waited Retry-After (1 s), not the policy's 20 ms back-off.
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(got.name.as_deref(), Some("t"));
    assert_eq!(em.call_count("container_groups.get"), 2);
    assert_eq!(arm.metrics().count("container_groups.get", "429"), 1);
    assert_eq!(arm.metrics().count("container_groups.get", "200"), 1);
}

#[tokio::test]
async fn server_errors_should_be_retried_with_backoff_then_reported() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    arm.begin_create_or_update::<_, ContainerGroup>("s", &group(vec![container("c", &[])]))
        .await
        .unwrap();
    em.inject(Injected::status(500, "InternalServerError"));
    em.inject(Injected::status(503, "ServiceUnavailable"));
    assert!(
        arm.get::<ContainerGroup>("s", Priority::Foreground)
            .await
            .is_ok()
    );
    assert_eq!(em.call_count("container_groups.get"), 3);

    for _ in 0..4 {
        em.inject(Injected::status(500, "InternalServerError"));
    }
    let err = arm
        .get::<ContainerGroup>("s", Priority::Foreground)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(err.code(), Some("InternalServerError"));
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_slow_answer_should_time_out() {
    let em = emulator(EmulatorConfig::instant()).await;
    let config = config(&em)
        .timeout(Duration::from_millis(200))
        .retry(RetryPolicy::none());
    let arm = ArmClient::new(config, ArmCredential::fixed(SECRET_TOKEN)).unwrap();
    em.inject(Injected::delay(Duration::from_secs(3)));
    let err = arm
        .get::<ContainerGroup>("slow", Priority::Foreground)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(arm.metrics().count("container_groups.get", "timeout"), 1);
}

#[tokio::test]
async fn the_aci_create_quota_should_come_back_at_once_with_its_retry_after() {
    let mut config = EmulatorConfig::instant();
    config.quota = vec![QuotaWindow {
        period: Duration::from_secs(300),
        limit: 1,
    }];
    let em = emulator(config).await;
    let arm = client(&em);
    arm.begin_create_or_update::<_, ContainerGroup>("q1", &group(vec![container("c", &[])]))
        .await
        .unwrap();
    let err = arm
        .begin_create_or_update::<_, ContainerGroup>("q2", &group(vec![container("c", &[])]))
        .await
        .unwrap_err();
    assert!(err.is_quota() && err.is_throttled(), "{err}");
    assert!(err.retry_after().unwrap() > Duration::from_secs(200));
    assert_eq!(
        em.call_count("container_groups.create_or_update"),
        2,
        "quota is not retried"
    );
}

#[tokio::test]
async fn invalid_groups_and_api_versions_should_give_typed_arm_errors() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    let err = arm
        .begin_create_or_update::<_, ContainerGroup>("Bad_Name", &group(vec![container("c", &[])]))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(400), Some("InvalidContainerGroupName"))
    );

    let old = ArmClient::new(
        config(&em).api_version("2018-10-01"),
        ArmCredential::fixed("x"),
    )
    .unwrap();
    let err = old
        .get::<ContainerGroup>("any", Priority::Foreground)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidApiVersionParameter"));
}

#[tokio::test]
async fn logs_should_honour_tail_and_timestamps() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    let c = container(
        "app",
        &["sh", "-c", "echo one; echo two; echo three; sleep 1000"],
    );
    arm.begin_create_or_update::<_, ContainerGroup>("logs", &group(vec![c]))
        .await
        .unwrap();
    assert_eq!(
        arm.logs("logs", "app", None, false).await.unwrap(),
        "one\ntwo\nthree\n"
    );
    assert_eq!(
        arm.logs("logs", "app", Some(2), false).await.unwrap(),
        "two\nthree\n"
    );
    let stamped = arm.logs("logs", "app", Some(1), true).await.unwrap();
    let (stamp, line) = stamped.trim_end().split_once(' ').unwrap();
    assert!(stamp.parse::<jiff::Timestamp>().is_ok(), "{stamp}");
    assert_eq!(line, "three");
}

#[tokio::test]
async fn exec_should_answer_a_websocket_and_a_password_that_debug_hides() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    arm.begin_create_or_update::<_, ContainerGroup>("ex", &group(vec![container("app", &[])]))
        .await
        .unwrap();
    let session = arm.exec("ex", "app", "/bin/sh", 24, 80).await.unwrap();
    assert!(session.web_socket_uri.starts_with("ws://"));
    assert!(!session.password.secret().is_empty());
    assert!(!format!("{session:?}").contains(session.password.secret()));
}

#[tokio::test]
async fn usages_and_capabilities_should_decode_into_the_model() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    let usages: UsageListResult = arm.usages().await.unwrap();
    assert!(!usages.value.is_empty());
    let caps: CapabilitiesListResult = arm.capabilities().await.unwrap();
    assert!(!caps.value.is_empty());
}

#[tokio::test]
async fn the_client_credentials_flow_should_get_and_cache_a_token() {
    let mut config = EmulatorConfig::instant();
    config.auth = Some(("app-id".into(), "app-s3cret".into()));
    let em = emulator(config).await;
    let credential = ArmCredential::client_credentials(
        &em.authority(),
        "tenant",
        "app-id".into(),
        azure_core::credentials::Secret::new("app-s3cret"),
        "https://management.azure.com/.default".into(),
    );
    let arm = ArmClient::new(crate::common::config(&em), credential).unwrap();
    for _ in 0..3 {
        let _: Vec<ContainerGroup> = arm.list(Priority::Foreground).await.unwrap();
    }
    assert_eq!(em.call_count("token"), 1, "the token is cached");

    let wrong = ArmCredential::client_credentials(
        &em.authority(),
        "tenant",
        "app-id".into(),
        azure_core::credentials::Secret::new("wrong-s3cret"),
        "scope".into(),
    );
    let arm = ArmClient::new(crate::common::config(&em), wrong).unwrap();
    let err = arm
        .list::<ContainerGroup>(Priority::Foreground)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Credential(_)), "{err}");
    let text = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
    assert!(!text.contains("wrong-s3cret"), "{text}");

    let unauthenticated = client(&em);
    let err = unauthenticated
        .list::<ContainerGroup>(Priority::Foreground)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
}

#[tokio::test]
async fn errors_should_never_carry_the_token_or_secure_values() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    let mut body = group(vec![container("c", &[])]);
    body.properties.containers[0]
        .properties
        .environment_variables = vec![vk_translate::container_group::EnvironmentVariable {
        name: "PASSWORD".into(),
        secure_value: Some("env-s3cret".into()),
        ..Default::default()
    }];
    let started = arm
        .begin_create_or_update::<_, serde_json::Value>("sec", &body)
        .await
        .unwrap();
    assert!(
        !started.resource.to_string().contains("env-s3cret"),
        "ARM never returns secure values"
    );
    let mut errors = Vec::new();
    em.inject(Injected::status(500, "InternalServerError"));
    let arm_once = ArmClient::new(
        config(&em).retry(RetryPolicy::none()),
        ArmCredential::fixed(SECRET_TOKEN),
    )
    .unwrap();
    errors.push(
        arm_once
            .get::<ContainerGroup>("sec", Priority::Foreground)
            .await
            .unwrap_err(),
    );
    errors.push(
        arm.get::<ContainerGroup>("missing", Priority::Foreground)
            .await
            .unwrap_err(),
    );
    body.location = None;
    errors.push(
        arm.begin_create_or_update::<_, ContainerGroup>("sec2", &body)
            .await
            .unwrap_err(),
    );
    for err in errors {
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains(SECRET_TOKEN) && !text.contains("env-s3cret"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn standing_faults_should_fail_or_slow_every_call() {
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    em.set_faults(vk_aci::emulator::FaultConfig {
        error_rate: 1.0,
        ..Default::default()
    });
    let err = arm
        .get::<ContainerGroup>("any", Priority::Foreground)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InternalServerError"));
    assert_eq!(
        em.call_count("container_groups.get"),
        4,
        "every attempt failed"
    );

    em.set_faults(vk_aci::emulator::FaultConfig {
        latency: Duration::from_millis(300),
        ..Default::default()
    });
    let slow = ArmClient::new(
        config(&em)
            .timeout(Duration::from_millis(100))
            .retry(RetryPolicy::none()),
        ArmCredential::fixed(SECRET_TOKEN),
    )
    .unwrap();
    let err = slow
        .get::<ContainerGroup>("any", Priority::Foreground)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
}

/// One HTTP request read from a raw listener (headers only), answered with `body`.
async fn capture_one_request(listener: tokio::net::TcpListener, body: &'static str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed before sending its headers");
        request.extend_from_slice(&buf[..n]);
    }
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(answer.as_bytes()).await.unwrap();
    String::from_utf8_lossy(&request).into_owned()
}

#[tokio::test]
async fn the_extra_user_agent_should_be_appended_to_every_arm_call() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let server = tokio::spawn(capture_one_request(listener, r#"{"name":"demo1"}"#));
    let config = vk_aci::arm::ArmConfig::new(SUBSCRIPTION, RESOURCE_GROUP, LOCATION)
        .base_url(url)
        .timeout(Duration::from_secs(10))
        .extra_user_agent("helm-chart/aks/virtual-kubelet-azure-aci/1.6.1");
    let arm = ArmClient::new(config, ArmCredential::fixed(SECRET_TOKEN)).unwrap();
    let _: serde_json::Value = arm.get("demo1", Priority::Foreground).await.unwrap();
    let request = server.await.unwrap().to_ascii_lowercase();
    let user_agent = request
        .lines()
        .find_map(|l| l.strip_prefix("user-agent: "))
        .expect("a user-agent header");
    assert_eq!(
        user_agent,
        format!(
            "vk-aci/{} helm-chart/aks/virtual-kubelet-azure-aci/1.6.1",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn a_blank_extra_user_agent_should_leave_the_default() {
    let config =
        vk_aci::arm::ArmConfig::new(SUBSCRIPTION, RESOURCE_GROUP, LOCATION).extra_user_agent("  ");
    assert_eq!(
        config.user_agent(),
        concat!("vk-aci/", env!("CARGO_PKG_VERSION"))
    );
}

/// Issue 16: one `arm call` span per call, at debug level, with the operation, the group,
/// and the attempts and final status recorded when it ends.
#[tokio::test(start_paused = true)]
async fn each_arm_call_should_have_a_span_with_its_operation_group_attempts_and_status() {
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let em = emulator(EmulatorConfig::instant()).await;
    let arm = client(&em);
    arm.begin_create_or_update::<_, ContainerGroup>("spanned", &group(vec![container("c", &[])]))
        .await
        .unwrap();
    em.inject(Injected::status(429, "SubscriptionRequestsThrottled").retry_after(1));
    let _: ContainerGroup = arm.get("spanned", Priority::Foreground).await.unwrap();
    let text = captured.text();
    let closed = |what: &str| {
        text.lines()
            .any(|l| l.contains(&format!("arm call{{{what}}}")) && l.contains("close"))
    };
    assert!(
        closed(
            r#"operation="container_groups.create_or_update" resource="spanned" attempts=1 status=201"#
        ),
        "{text}"
    );
    // The 429 and its retry are one call: one span, two attempts.
    assert!(
        closed(r#"operation="container_groups.get" resource="spanned" attempts=2 status=200"#),
        "{text}"
    );
    // Neither the token nor the URL (a followed link may be signed) is in a span.
    assert!(!text.contains(SECRET_TOKEN), "{text}");
    assert!(
        text.lines()
            .filter_map(|l| l.split_once("arm call{").map(|(_, rest)| rest))
            .map(|rest| rest.split_once("}:").map_or(rest, |(fields, _)| fields))
            .all(|fields| !fields.contains("api-version") && !fields.contains("http")),
        "{text}"
    );
}
