//! What the backend keeps per container: name, image, literal environment and usage.
use k8s_openapi::api::core::v1::{Container, EnvVar, Pod};

use super::usage::{ContainerUsage, CpuMeter};

/// A container as the backend keeps it.
#[derive(Clone, Debug)]
pub(super) struct MockContainer {
    pub(super) name: String,
    pub(super) image: String,
    /// Literal environment variables (`valueFrom` is not resolved).
    pub(super) env: Vec<(String, String)>,
    /// Usage set for this container ([`MockProvider::set_usage`]).
    pub(super) usage: Option<ContainerUsage>,
    /// What it uses when nothing was set: a little, drawn at creation.
    pub(super) idle: ContainerUsage,
    /// Its cumulative CPU.
    pub(super) cpu: CpuMeter,
}

impl MockContainer {
    /// The containers of `pod`, each idling at `idle()` unless `default` says otherwise.
    pub(super) fn all(
        pod: &Pod,
        default: Option<ContainerUsage>,
        mut idle: impl FnMut() -> ContainerUsage,
    ) -> Vec<Self> {
        pod.spec
            .iter()
            .flat_map(|s| &s.containers)
            .map(|c| {
                let idle = idle();
                Self {
                    name: c.name.clone(),
                    image: c.image.clone().unwrap_or_default(),
                    env: c
                        .env
                        .iter()
                        .flatten()
                        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
                        .collect(),
                    usage: None,
                    idle,
                    cpu: CpuMeter::new(default.unwrap_or(idle).cpu_nano_cores),
                }
            })
            .collect()
    }

    /// The usage in force given the provider's default.
    pub(super) fn usage(&self, default: Option<ContainerUsage>) -> ContainerUsage {
        self.usage.or(default).unwrap_or(self.idle)
    }

    pub(super) fn to_container(&self) -> Container {
        Container {
            name: self.name.clone(),
            image: Some(self.image.clone()),
            env: (!self.env.is_empty()).then(|| {
                self.env
                    .iter()
                    .map(|(name, value)| EnvVar {
                        name: name.clone(),
                        value: Some(value.clone()),
                        ..EnvVar::default()
                    })
                    .collect()
            }),
            ..Container::default()
        }
    }
}
