//! What the runtime hands a provider about a pod ([`PodKey`], [`PodResources`]) and what a
//! provider reports about the pods it runs ([`ProviderPod`]).
use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret};

/// Namespace and name of a pod: the key the runtime and providers share.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodKey {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
}

impl PodKey {
    /// A key from namespace and name.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of a pod object (empty strings where metadata is missing).
    #[must_use]
    pub fn of(pod: &Pod) -> Self {
        Self::new(
            pod.metadata.namespace.clone().unwrap_or_default(),
            pod.metadata.name.clone().unwrap_or_default(),
        )
    }
}

impl fmt::Display for PodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The objects a pod references, resolved by the runtime before it calls the provider,
/// so providers never read the API server themselves.
#[derive(Clone, Debug, Default)]
pub struct PodResources {
    /// Secrets by name (env `secretKeyRef`/`envFrom`, secret volumes, projected sources,
    /// image pull secrets).
    pub secrets: BTreeMap<String, Secret>,
    /// ConfigMaps by name.
    pub config_maps: BTreeMap<String, ConfigMap>,
    /// Service account tokens for projected `serviceAccountToken` sources, keyed by
    /// `"<volume name>/<path>"`.
    pub service_account_tokens: BTreeMap<String, String>,
    /// The PersistentVolumeClaims of the pod's `persistentVolumeClaim` volumes, by name
    /// (they live in the pod's namespace). The runtime only calls the provider once every
    /// claim is Bound: a missing or unbound claim keeps the pod Pending.
    pub persistent_volume_claims: BTreeMap<String, PersistentVolumeClaim>,
    /// The PersistentVolumes those claims are bound to, by name.
    pub persistent_volumes: BTreeMap<String, PersistentVolume>,
    /// The Secrets the PersistentVolumes name ([`Provider::volume_secrets`](crate::Provider::volume_secrets)), keyed by
    /// `"<namespace>/<name>"` (a PV's Secret may live in another namespace).
    pub volume_secrets: BTreeMap<String, Secret>,
}

/// What the provider reports about one of its pods when listing them (adoption after a
/// restart, orphan clean-up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderPod {
    /// Namespace and name of the pod it runs.
    pub key: PodKey,
    /// The UID of the pod it was created for, when the backend recorded it.
    pub uid: Option<String>,
    /// When the backend created it, if known (orphans are only removed after a grace period).
    pub created: Option<Timestamp>,
}
