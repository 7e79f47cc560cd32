use super::*;

async fn run(shell: &mut Shell, line: &str) -> String {
    let mut out = Vec::new();
    shell.run_line(line, &mut NoStdin, &mut out).await;
    String::from_utf8(out).unwrap()
}

fn shell() -> Shell {
    Shell::new(
        [("GREETING".to_owned(), "hello world".to_owned())].into(),
        "demo1",
    )
}

#[tokio::test]
async fn echo_and_printf_should_print_their_arguments() {
    let mut sh = shell();
    assert_eq!(
        run(&mut sh, "echo a  'b  c' \"$GREETING\"").await,
        "a b  c hello world\n"
    );
    assert_eq!(
        run(&mut sh, "printf '%s-%d\\n' x 7 y 8").await,
        "x-7\ny-8\n"
    );
    assert_eq!(run(&mut sh, "echo -n x; echo y").await, "xy\n");
}

#[tokio::test]
async fn status_should_flow_through_and_or_and_dollar_question() {
    let mut sh = shell();
    assert_eq!(run(&mut sh, "false && echo no; echo $?").await, "1\n");
    assert_eq!(run(&mut sh, "false || echo yes").await, "yes\n");
    assert_eq!(
        run(&mut sh, "'sh' '-c' 'exit 3'; printf '%s\\n' \"$?\"").await,
        "3\n"
    );
    assert_eq!(sh.exited, None, "exit inside sh -c ends only the subshell");
}

#[tokio::test]
async fn unknown_programs_should_answer_127() {
    let mut sh = shell();
    assert_eq!(
        run(&mut sh, "ls /; echo $?").await,
        "sh: ls: not found\n127\n"
    );
}

#[tokio::test]
async fn stty_and_exit_should_change_the_session() {
    let mut sh = shell();
    run(&mut sh, "stty -echo").await;
    assert!(!sh.echo);
    run(&mut sh, "exit 4").await;
    assert_eq!(sh.exited, Some(4));
}

#[tokio::test]
async fn env_should_list_variables_and_assignments() {
    let mut sh = shell();
    run(&mut sh, "FOO=bar").await;
    assert_eq!(run(&mut sh, "env").await, "FOO=bar\nGREETING=hello world\n");
}

#[tokio::test]
async fn quoting_should_keep_special_characters() {
    let mut sh = shell();
    assert_eq!(
        run(&mut sh, r#"echo 'it'\''s' "a;b" \$HOME"#).await,
        "it's a;b $HOME\n"
    );
    assert_eq!(
        run(&mut sh, "echo hi >/dev/null; echo shown 2>&1").await,
        "shown\n"
    );
}

#[tokio::test]
async fn syntax_errors_should_not_panic() {
    let mut sh = shell();
    assert!(run(&mut sh, "echo 'open").await.contains("syntax error"));
    assert!(run(&mut sh, "a | b").await.contains("syntax error"));
}
