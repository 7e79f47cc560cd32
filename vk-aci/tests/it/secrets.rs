//! No secret value ever reaches the logs: every log line of a whole pod lifecycle with
//! failures, logs and exec is captured at TRACE and searched.
use std::io::Write;
use std::sync::{Arc, Mutex};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, Secret, SecretKeySelector};
use vk_aci::emulator::{EmulatorConfig, Injected};
use vk_core::provider::{ExecIo, LogOptions, PodKey, PodResources, Provider};

use crate::common::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_should_appear_in_any_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!logs.is_empty(), "logs were captured");
    for secret in ["hunter2-s3cret", SECRET_TOKEN, "Bearer "] {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs");
    }
}
