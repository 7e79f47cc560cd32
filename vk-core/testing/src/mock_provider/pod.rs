//! What the backend keeps per pod (not the pod object), and the Pod and PodStatus made
//! from it.
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vk_core::provider::PodKey;

use tokio::time::Duration;

use super::container::MockContainer;
use super::status;

/// When the containers exit and with which code (`mock.vk.io/exit-after`, `exit-code`).
pub(super) type ExitRule = Option<(Duration, i32)>;

/// What a pod's status is made from (a typed `PodStatus` is a few KiB; this is not).
#[derive(Clone, Debug)]
pub(super) enum Shown {
    /// Accepted at `at`, containers being created.
    Pending { at: Timestamp },
    /// Running since `started`.
    Running { started: Timestamp },
    /// Every container exited with `code` at `at`.
    Terminated {
        started: Timestamp,
        at: Timestamp,
        code: i32,
    },
    /// Set by hand ([`MockProvider::set_status`]): its phase and the status, JSON-encoded.
    Set {
        phase: Option<String>,
        json: Box<[u8]>,
    },
}

#[derive(Clone, Debug)]
pub(super) struct MockPod {
    pub(super) uid: Option<String>,
    pub(super) containers: Vec<MockContainer>,
    pub(super) exit: ExitRule,
    pub(super) shown: Shown,
    pub(super) ip: String,
    pub(super) created: Timestamp,
    pub(super) started: Option<Timestamp>,
    /// Bumped on every (re)creation so stale timers do nothing.
    pub(super) epoch: u64,
}

impl MockPod {
    pub(super) fn status(&self) -> PodStatus {
        match &self.shown {
            Shown::Pending { at } => status::pending(&self.containers, *at),
            Shown::Running { started } => {
                status::running(&self.containers, &self.ip, *started, *started)
            }
            Shown::Terminated { started, at, code } => {
                status::terminated(&self.containers, &self.ip, *started, *at, *code)
            }
            Shown::Set { json, .. } => serde_json::from_slice(json).unwrap_or_default(),
        }
    }

    pub(super) fn phase(&self) -> Option<&str> {
        match &self.shown {
            Shown::Pending { .. } => Some("Pending"),
            Shown::Running { .. } => Some("Running"),
            Shown::Terminated { code: 0, .. } => Some("Succeeded"),
            Shown::Terminated { .. } => Some("Failed"),
            Shown::Set { phase, .. } => phase.as_deref(),
        }
    }

    pub(super) fn is_running(&self) -> bool {
        self.phase() == Some("Running")
    }

    /// The pod as the backend sees it.
    pub(super) fn to_pod(&self, key: &PodKey) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(key.name.clone()),
                namespace: Some(key.namespace.clone()),
                uid: self.uid.clone(),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: self
                    .containers
                    .iter()
                    .map(MockContainer::to_container)
                    .collect(),
                ..PodSpec::default()
            }),
            status: Some(self.status()),
        }
    }
}
