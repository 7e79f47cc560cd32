//! No secret value ever reaches the logs: every log line of a whole pod lifecycle with
//! failures, logs and exec is captured at TRACE and searched.
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, Secret, SecretKeySelector};
use vk_aci::emulator::{EmulatorConfig, Injected};
use vk_core::provider::{ExecIo, LogOptions, PodKey, PodResources, Provider};

use crate::common::*;

#[tokio::test]
async fn no_secret_should_appear_in_any_log_line() {
    let (captured, _guard) = CapturedLogs::start();

    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    let mut secretive = pod("secretive", &[("app", &[])]);
    secretive.spec.as_mut().unwrap().containers[0].env = Some(vec![EnvVar {
        name: "PASSWORD".into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: "db".into(),
                key: "password".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    let mut resources = PodResources::default();
    resources.secrets.insert(
        "db".into(),
        Secret {
            data: Some(
                [(
                    "password".to_owned(),
                    ByteString(b"hunter2-s3cret".to_vec()),
                )]
                .into(),
            ),
            ..Default::default()
        },
    );
    em.inject(Injected::status(503, "ServiceUnavailable"));
    em.inject(Injected::status(429, "SubscriptionRequestsThrottled").retry_after(1));
    p.create_pod(&secretive, &resources).await.unwrap();
    let key = PodKey::new("default", "secretive");
    p.pod_status(&key).await.unwrap();
    let _ = p.logs(&key, "app", &LogOptions::default()).await.unwrap();
    let (out, _keep) = tokio::io::duplex(1 << 16);
    let io = ExecIo {
        stdin: None,
        stdout: Some(Box::pin(out)),
        stderr: None,
        tty: false,
        resize: None,
    };
    let status = p
        .exec(
            &key,
            "app",
            &["sh".into(), "-c".into(), "exit 4".into()],
            io,
        )
        .await
        .unwrap();
    assert_eq!(status, 4);
    p.delete_pod(&secretive).await.unwrap();

    let logs = captured.text();
    assert!(!logs.is_empty(), "logs were captured");
    for secret in ["hunter2-s3cret", SECRET_TOKEN, "Bearer "] {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs");
    }
}
