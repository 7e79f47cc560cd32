//! The calls the runtime made on the provider, as recorded.
use vk_core::provider::{LogOptions, PodKey};

/// One call the runtime made on the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MockCall {
    /// `create_pod`, with the number of resolved secrets and config maps.
    CreatePod {
        /// The pod.
        key: PodKey,
        /// Its UID.
        uid: String,
        /// Names of the secrets handed over.
        secrets: Vec<String>,
        /// Names of the config maps handed over.
        config_maps: Vec<String>,
    },
    /// `update_pod`.
    UpdatePod(PodKey),
    /// `delete_pod`.
    DeletePod(PodKey),
    /// `pod_status`.
    PodStatus(PodKey),
    /// `list_pods`.
    ListPods,
    /// `notify_pods`.
    NotifyPods,
    /// `ping`.
    Ping,
    /// `logs`.
    Logs {
        /// The pod.
        key: PodKey,
        /// The container.
        container: String,
        /// The options.
        opts: LogOptions,
    },
    /// `exec`.
    Exec {
        /// The pod.
        key: PodKey,
        /// The container.
        container: String,
        /// The command.
        command: Vec<String>,
        /// Whether a TTY was asked for.
        tty: bool,
    },
    /// `attach`.
    Attach {
        /// The pod.
        key: PodKey,
        /// The container.
        container: String,
    },
    /// `port_forward`.
    PortForward {
        /// The pod.
        key: PodKey,
        /// The port.
        port: u16,
    },
    /// `stats`.
    Stats,
}

impl MockCall {
    /// The pod the call was about, if any.
    #[must_use]
    pub fn key(&self) -> Option<&PodKey> {
        match self {
            Self::CreatePod { key, .. }
            | Self::UpdatePod(key)
            | Self::DeletePod(key)
            | Self::PodStatus(key)
            | Self::Logs { key, .. }
            | Self::Exec { key, .. }
            | Self::Attach { key, .. }
            | Self::PortForward { key, .. } => Some(key),
            _ => None,
        }
    }
}
