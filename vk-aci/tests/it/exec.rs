//! `kubectl exec` through the provider's shell driver and the emulator's exec WebSocket.
use std::pin::Pin;

use k8s_openapi::api::core::v1::Pod;
use tokio::io::AsyncReadExt;
use vk_aci::emulator::EmulatorConfig;
use vk_core::provider::{BoxRead, ExecIo, PodKey, PodResources, Provider, ProviderError};

use crate::common::*;

async fn setup(pod: Pod) -> (vk_aci::emulator::EmulatorHandle, vk_aci::AciProvider) {
    let em = emulator(EmulatorConfig::instant()).await;
    let p = provider(&em);
    p.create_pod(&pod, &PodResources::default()).await.unwrap();
    (em, p)
}

/// Run `argv`, returning the exit status (or error) and stdout.
async fn exec(
    p: &vk_aci::AciProvider,
    argv: &[&str],
    stdin: Option<&[u8]>,
) -> (Result<i32, ProviderError>, String) {
    let (writer, mut reader) = tokio::io::duplex(1 << 20);
    let stdin: Option<BoxRead> =
        stdin.map(|s| Box::pin(std::io::Cursor::new(s.to_vec())) as Pin<Box<_>>);
    let io = ExecIo {
        stdin,
        stdout: Some(Box::pin(writer)),
        stderr: None,
        tty: false,
        resize: None,
    };
    let argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
    let result = p
        .exec(&PodKey::new("default", "ex"), "app", &argv, io)
        .await;
    let mut out = String::new();
    reader.read_to_string(&mut out).await.unwrap();
    (result, out)
}

#[tokio::test]
async fn the_exit_status_of_sh_c_should_come_back() {
    let (_em, p) = setup(pod("ex", &[("app", &[])])).await;
    let (status, out) = exec(&p, &["sh", "-c", "exit 3"], None).await;
    assert_eq!(status.unwrap(), 3);
    assert_eq!(out, "");
}

#[tokio::test]
async fn output_should_arrive_without_prompt_echo_or_markers() {
    let (_em, p) = setup(pod("ex", &[("app", &[])])).await;
    let (status, out) = exec(&p, &["echo", "hello", "it's", "$HOME;x"], None).await;
    assert_eq!(status.unwrap(), 0);
    assert_eq!(out, "hello it's $HOME;x\n");

    let (status, out) = exec(&p, &["printf", "%s-%s", "a", "b"], None).await;
    assert_eq!(status.unwrap(), 0);
    assert_eq!(out, "a-b", "no newline is added");

    let (status, out) = exec(&p, &["ls", "/"], None).await;
    assert_eq!(status.unwrap(), 127);
    assert_eq!(
        out, "sh: ls: not found\n",
        "stderr arrives merged into stdout"
    );
}

#[tokio::test]
async fn stdin_should_reach_the_command() {
    let (_em, p) = setup(pod("ex", &[("app", &[])])).await;
    let (status, out) = exec(&p, &["sh", "-c", "cat"], Some(b"line one\nline two\n")).await;
    assert_eq!(status.unwrap(), 0);
    assert_eq!(out, "line one\nline two\n");
}

#[tokio::test]
async fn a_one_word_command_should_go_straight_through() {
    let mut with_env = pod("ex", &[("app", &[])]);
    with_env.spec.as_mut().unwrap().containers[0].env =
        Some(vec![k8s_openapi::api::core::v1::EnvVar {
            name: "GREETING".into(),
            value: Some("hi".into()),
            ..Default::default()
        }]);
    let (em, p) = setup(with_env).await;
    let (status, out) = exec(&p, &["env"], None).await;
    assert_eq!(
        status.unwrap(),
        0,
        "ACI reports no exit status for a direct command"
    );
    assert!(out.contains("GREETING=hi\n"), "{out:?}");
    assert_eq!(em.call_count("containers.execute_command"), 1);
}

#[tokio::test]
async fn an_image_without_the_shell_should_say_so() {
    let mut no_shell = pod("ex", &[("app", &[])]);
    no_shell.metadata.annotations = Some(
        [(
            vk_aci::provider::exec::EXEC_SHELL_ANNOTATION.to_owned(),
            "/bin/nosh".to_owned(),
        )]
        .into(),
    );
    let (_em, p) = setup(no_shell).await;
    let (status, _) = exec(&p, &["echo", "hi"], None).await;
    let err = status.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ProviderError::Unsupported { .. }), "{err:?}");
    assert!(
        text.contains("/bin/nosh") && text.contains("vk-aci.io/exec-shell"),
        "{text}"
    );
}

#[tokio::test]
async fn a_tty_session_should_keep_terminal_line_ends_and_take_the_first_size() {
    let (_em, p) = setup(pod("ex", &[("app", &[])])).await;
    let (writer, mut reader) = tokio::io::duplex(1 << 16);
    let (resize_tx, resize_rx) = tokio::sync::mpsc::channel(1);
    resize_tx
        .send(vk_core::provider::TerminalSize {
            width: 120,
            height: 40,
        })
        .await
        .unwrap();
    let io = ExecIo {
        stdin: None,
        stdout: Some(Box::pin(writer)),
        stderr: None,
        tty: true,
        resize: Some(resize_rx),
    };
    let argv = vec!["echo".to_owned(), "hi".to_owned()];
    let status = p
        .exec(&PodKey::new("default", "ex"), "app", &argv, io)
        .await
        .unwrap();
    let mut out = String::new();
    reader.read_to_string(&mut out).await.unwrap();
    assert_eq!(status, 0);
    assert_eq!(out, "hi\r\n");
}
