//! ARM and translation errors become `ProviderError`s here, and only here.
use vk_core::provider::ProviderError;
use vk_translate::TranslateError;

use crate::arm;

/// Map an ARM error of an operation on `what` (e.g. `container group x`).
///
/// - ACI's create quota -> `Transient` `QuotaExceeded` (the pod stays Pending, retried);
/// - ARM throttling (429) -> `Transient` `ProviderThrottled` with `Retry-After`;
/// - 404 -> `NotFound`;
/// - 400 (ACI refused the group) -> `Unsupported` `ProviderFailed` with ACI's code and
///   message;
/// - 5xx, timeouts, network, 401/403/409 -> `Transient`;
/// - the rest -> `Other`.
///
/// Messages hold ARM's code and message only: never a token, a request body or a secret.
#[must_use]
pub fn from_arm(error: arm::Error, what: &str) -> ProviderError {
    let retry_after = error.retry_after();
    if error.is_quota() {
        return ProviderError::Transient {
            reason: "QuotaExceeded".into(),
            message: format!(
                "ACI's container group quota for this region is used up (by default 100 creates \
                 per 5 minutes and 300 per hour); {what} stays Pending and is retried: {}",
                error.code().unwrap_or_default()
            ),
            retry_after,
            source: Some(Box::new(error)),
        };
    }
    if error.is_throttled() {
        return ProviderError::Transient {
            reason: "ProviderThrottled".into(),
            message: format!("Azure Resource Manager throttled the request for {what}"),
            retry_after,
            source: Some(Box::new(error)),
        };
    }
    match error.status() {
        Some(404) => ProviderError::NotFound(what.to_owned()),
        Some(400) => ProviderError::Unsupported {
            reason: "ProviderFailed".into(),
            message: format!("ACI refused {what}: {error}"),
        },
        Some(401 | 403) => ProviderError::Transient {
            reason: "ProviderUnauthorized".into(),
            message: format!("Azure refused the credentials used for {what}: {error}"),
            retry_after: None,
            source: Some(Box::new(error)),
        },
        _ if error.is_transient() || error.status() == Some(409) => ProviderError::Transient {
            reason: "ProviderUnavailable".into(),
            message: format!("Azure Container Instances is not answering for {what}"),
            retry_after,
            source: Some(Box::new(error)),
        },
        _ => ProviderError::Other(Box::new(error)),
    }
}

/// A pod that cannot become a container group: `Unsupported` (the pod fails), except a pod
/// that only waits for something (a claim not Bound yet, [`TranslateError::is_waiting`]):
/// `Transient` with that reason, so it stays Pending and is retried.
#[must_use]
pub fn from_translate(error: &TranslateError) -> ProviderError {
    if error.is_waiting() {
        return ProviderError::transient(error.reason(), error.to_string());
    }
    ProviderError::Unsupported {
        reason: error.reason().to_owned(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Duration;

    fn api(status: u16, code: &str, retry: Option<u64>) -> arm::Error {
        arm::Error::Api {
            operation: "op",
            status,
            code: code.into(),
            message: "m".into(),
            retry_after: retry.map(Duration::from_secs),
        }
    }

    #[test]
    fn the_create_quota_should_be_transient_with_a_clear_reason() {
        let e = from_arm(
            api(429, "ContainerGroupQuotaReached", Some(120)),
            "pod default/a",
        );
        match e {
            ProviderError::Transient {
                reason,
                retry_after,
                message,
                ..
            } => {
                assert_eq!(reason, "QuotaExceeded");
                assert_eq!(retry_after, Some(Duration::from_secs(120)));
                assert!(message.contains("stays Pending"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_claim_not_bound_yet_should_keep_the_pod_pending_with_its_reason() {
        let error = TranslateError::Fields(vec![vk_translate::FieldError {
            field: "spec.volumes[0].persistentVolumeClaim".into(),
            kind: vk_translate::FieldErrorKind::NotReady,
            message: "persistentvolumeclaim \"data\" is not bound".into(),
        }]);
        match from_translate(&error) {
            ProviderError::Transient {
                reason, message, ..
            } => {
                assert_eq!(reason, "PersistentVolumeClaimNotBound");
                assert!(message.contains("data"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_status_should_map_to_its_class() {
        assert!(matches!(
            from_arm(api(404, "ResourceNotFound", None), "x"),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            from_arm(api(400, "InvalidContainerGroupName", None), "x"),
            ProviderError::Unsupported { .. }
        ));
        assert!(from_arm(api(503, "ServiceUnavailable", None), "x").is_retryable());
        assert!(from_arm(api(429, "SubscriptionRequestsThrottled", Some(3)), "x").is_retryable());
    }
}
