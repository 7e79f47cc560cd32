use super::*;

/// An ARM client that reaches nothing and does not retry.
fn unreachable_arm() -> ArmClient {
    let config = crate::arm::ArmConfig::new("sub", "rg", "westus")
        .base_url(url::Url::parse("http://127.0.0.1:1").unwrap())
        .timeout(Duration::from_secs(2))
        .retry(crate::arm::RetryPolicy {
            max_attempts: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            max_retry_after: Duration::from_millis(1),
        });
    ArmClient::new(config, crate::arm::ArmCredential::fixed("t")).unwrap()
}

#[tokio::test]
async fn a_retried_delete_should_not_run_pre_stop_hooks_twice() {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"containers": [
            {"name": "a", "lifecycle": {"preStop": {"exec": {"command": ["x"]}}}},
        ]},
    }))
    .unwrap();
    let hooks = Hooks::default();
    let (notifier, updates) = PodNotifier::channel();
    hooks.set_notifier(notifier.clone());
    let arm = unreachable_arm();
    pre_stop(&arm, &hooks, &pod, "ns-p", None).await;
    let events = updates.next_events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason(), FAILED_PRE_STOP_HOOK);
    // The DELETE failed and the runtime retries: the hooks ran already.
    pre_stop(&arm, &hooks, &pod, "ns-p", None).await;
    assert!(
        time::timeout(Duration::from_millis(50), updates.next_events())
            .await
            .is_err(),
        "no second run"
    );
    // Once the group is deleted the UID is forgotten.
    hooks.deleted("u1");
    assert!(hooks.pre_stopped().is_empty());
}

#[test]
fn pre_stop_hooks_should_come_from_exec_and_sleep_handlers() {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "terminationGracePeriodSeconds": 7,
            "containers": [
                {"name": "a", "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "x"]}}}},
                {"name": "b", "lifecycle": {"preStop": {"sleep": {"seconds": 3}}}},
                {"name": "c", "lifecycle": {"preStop": {"httpGet": {"port": 80}}}},
                {"name": "d"},
            ],
        },
    }))
    .unwrap();
    let hooks = pre_stop_hooks(&pod);
    assert_eq!(hooks.len(), 2);
    assert_eq!(hooks[0].0, "a");
    assert_eq!(hooks[1].1, HookAction::Sleep { seconds: 3 });
    assert_eq!(grace(&pod), Duration::from_secs(7));
}
