use futures::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
use tokio::time::{Duration, advance, timeout};

use k8s_openapi::api::core::v1::Pod;
use vk_core::provider::{
    ExecIo, LogOptions, PodKey, PodNotifier, PodResources, Provider, ProviderError,
};

use super::annotations::parse_duration;
use super::*;
use vk_core::provider::BoxWrite;

fn pod(name: &str, annotations: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "annotations": annotations},
        "spec": {"containers": [{"name": "c", "image": "busybox", "env": [{"name": "GREETING", "value": "hi"}]}]},
    }))
    .unwrap()
}

fn phase(p: &MockProvider, name: &str) -> Option<String> {
    p.pod(&PodKey::new("default", name))
        .and_then(|p| p.status)
        .and_then(|s| s.phase)
}

async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_pod_should_go_pending_then_running_then_succeed_by_annotation() {
    let p = MockProvider::builder()
        .start_delay(Duration::from_secs(1))
        .build();
    let (notifier, updates) = PodNotifier::channel();
    assert!(p.notify_pods(notifier.clone()));
    let pod = pod("job", json!({EXIT_AFTER_ANNOTATION: "2s"}));
    p.create_pod(&pod, &PodResources::default()).await.unwrap();
    assert_eq!(phase(&p, "job").as_deref(), Some("Pending"));
    settle().await;
    let batch = updates.drain();
    assert_eq!(batch.len(), 1);

    advance(Duration::from_millis(1001)).await;
    settle().await;
    assert_eq!(phase(&p, "job").as_deref(), Some("Running"));
    let status = updates.drain().remove(0).status.unwrap();
    assert!(status.pod_ip.is_some());

    advance(Duration::from_millis(2001)).await;
    settle().await;
    assert_eq!(phase(&p, "job").as_deref(), Some("Succeeded"));
}

#[tokio::test(start_paused = true)]
async fn a_non_zero_exit_code_should_fail_the_pod() {
    let p = MockProvider::builder().start_delay(Duration::ZERO).build();
    let pod = pod(
        "bad",
        json!({EXIT_AFTER_ANNOTATION: "1s", EXIT_CODE_ANNOTATION: "3"}),
    );
    p.create_pod(&pod, &PodResources::default()).await.unwrap();
    advance(Duration::from_millis(10)).await;
    settle().await;
    advance(Duration::from_millis(1001)).await;
    settle().await;
    let status = p.pod(&PodKey::of(&pod)).unwrap().status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    let term = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(term.exit_code, 3);
}

#[tokio::test]
async fn create_errors_should_follow_the_annotation_and_every_call_should_be_recorded() {
    let p = MockProvider::new();
    let err = p
        .create_pod(
            &pod("x", json!({CREATE_ERROR_ANNOTATION: "unsupported"})),
            &PodResources::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unsupported { .. }));
    let err = p
        .create_pod(
            &pod("y", json!({CREATE_ERROR_ANNOTATION: "transient"})),
            &PodResources::default(),
        )
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    p.pod_status(&PodKey::new("default", "x")).await.unwrap();
    let calls = p.calls();
    assert_eq!(calls.len(), 3);
    assert!(matches!(&calls[0], MockCall::CreatePod { key, .. } if key.name == "x"));
    assert_eq!(calls[2], MockCall::PodStatus(PodKey::new("default", "x")));
}

#[tokio::test]
async fn the_failure_rate_should_be_deterministic_for_a_seed() {
    let run = || async {
        let p = MockProvider::builder().failure_rate(0.5).seed(7).build();
        let mut out = Vec::new();
        for i in 0..20 {
            out.push(
                p.create_pod(&pod(&format!("p{i}"), json!({})), &PodResources::default())
                    .await
                    .is_ok(),
            );
        }
        out
    };
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.iter().any(|ok| *ok) && a.iter().any(|ok| !*ok), "{a:?}");
}

fn pipe() -> (BoxWrite, tokio::io::DuplexStream) {
    let (w, r) = duplex(64 * 1024);
    (Box::pin(w), r)
}

async fn run_exec(p: &MockProvider, cmd: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let (out_w, mut out_r) = pipe();
    let (err_w, mut err_r) = pipe();
    let stdin = stdin.map(|s| {
        let (mut w, r) = duplex(1024);
        let s = s.to_owned();
        tokio::spawn(async move {
            w.write_all(s.as_bytes()).await.unwrap();
        });
        Box::pin(r) as vk_core::provider::BoxRead
    });
    let io = ExecIo {
        stdin,
        stdout: Some(out_w),
        stderr: Some(err_w),
        tty: false,
        resize: None,
    };
    let cmd: Vec<String> = cmd.iter().map(|s| (*s).to_owned()).collect();
    let code = p
        .exec(&PodKey::new("default", "web"), "c", &cmd, io)
        .await
        .unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    out_r.read_to_string(&mut out).await.unwrap();
    err_r.read_to_string(&mut err).await.unwrap();
    (code, out, err)
}

#[tokio::test]
async fn exec_should_run_the_tiny_command_set() {
    let p = MockProvider::builder().start_delay(Duration::ZERO).build();
    p.create_pod(&pod("web", json!({})), &PodResources::default())
        .await
        .unwrap();
    assert_eq!(
        run_exec(&p, &["echo", "hello", "big world"], None).await,
        (0, "hello big world\n".into(), String::new())
    );
    assert_eq!(
        run_exec(&p, &["sh", "-c", "echo 'a  b'"], None).await.1,
        "a  b\n"
    );
    assert_eq!(run_exec(&p, &["cat"], Some("typed\n")).await.1, "typed\n");
    assert!(
        run_exec(&p, &["env"], None)
            .await
            .1
            .contains("GREETING=hi\n")
    );
    assert_eq!(run_exec(&p, &["sh", "-c", "exit 4"], None).await.0, 4);
    assert_eq!(run_exec(&p, &["false"], None).await.0, 1);
    let (code, _, err) = run_exec(&p, &["nope"], None).await;
    assert_eq!((code, err.as_str()), (127, "sh: nope: not found\n"));
}

#[tokio::test(start_paused = true)]
async fn logs_should_tail_and_follow_until_the_pod_ends() {
    let p = MockProvider::builder()
        .start_delay(Duration::ZERO)
        .log_lines(5)
        .log_interval(Duration::from_secs(1))
        .build();
    let key = PodKey::new("default", "web");
    p.create_pod(&pod("web", json!({})), &PodResources::default())
        .await
        .unwrap();
    advance(Duration::from_millis(1)).await;
    settle().await;

    let opts = LogOptions {
        tail_lines: Some(2),
        ..LogOptions::default()
    };
    let all: Vec<_> = p.logs(&key, "c", &opts).await.unwrap().collect().await;
    let text: String = all
        .into_iter()
        .map(|b| String::from_utf8(b.unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(
        text,
        "mock log line 4 from default/web/c\nmock log line 5 from default/web/c\n"
    );

    let opts = LogOptions {
        follow: true,
        tail_lines: Some(0),
        ..LogOptions::default()
    };
    let mut s = p.logs(&key, "c", &opts).await.unwrap();
    let next = timeout(Duration::from_secs(5), s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&next[..], b"mock log line 6 from default/web/c\n");
    p.finish(&key, 0);
    let end = timeout(Duration::from_secs(5), s.next()).await.unwrap();
    assert!(end.is_none(), "the follow ends with the pod");
}

#[tokio::test]
async fn attach_should_echo_stdin_and_port_forward_should_echo_bytes() {
    let p = MockProvider::builder()
        .start_delay(Duration::ZERO)
        .log_lines(1)
        .build();
    let key = PodKey::new("default", "web");
    p.create_pod(&pod("web", json!({})), &PodResources::default())
        .await
        .unwrap();
    let (out_w, mut out_r) = pipe();
    let (mut in_w, in_r) = duplex(1024);
    in_w.write_all(b"ping\n").await.unwrap();
    drop(in_w);
    let io = ExecIo {
        stdin: Some(Box::pin(in_r)),
        stdout: Some(out_w),
        stderr: None,
        tty: false,
        resize: None,
    };
    assert_eq!(p.attach(&key, "c", io).await.unwrap(), 0);
    let mut out = String::new();
    out_r.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, "mock log line 1 from default/web/c\nping\n");

    let (mut client, server) = duplex(1024);
    let p2 = p.clone();
    let k2 = key.clone();
    let task = tokio::spawn(async move { p2.port_forward(&k2, 8080, Box::new(server)).await });
    client.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");
    drop(client);
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn stats_should_report_running_pods_with_plausible_numbers() {
    let p = MockProvider::builder().start_delay(Duration::ZERO).build();
    p.create_pod(&pod("web", json!({})), &PodResources::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stats = p.stats().await.unwrap();
    assert_eq!(stats.len(), 1);
    let c = &stats[0].containers[0];
    assert!(c.cpu_usage_nano_cores.unwrap() > 1_000_000);
    assert!(c.memory_working_set_bytes.unwrap() > 1024 * 1024);
}

#[test]
fn durations_parse_from_annotations() {
    assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
    assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
    assert_eq!(parse_duration("x"), None);
}
