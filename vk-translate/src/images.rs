//! Image configs resolved by the caller: the ENTRYPOINT and CMD a container's command is built
//! from when the pod gives `args` without `command`.
//!
//! ACI's `command` replaces the image's ENTRYPOINT, and ACI has no `args`. A Kubernetes
//! container with `args` and no `command` runs `ENTRYPOINT + args`, so the translator needs the
//! image's ENTRYPOINT, which only the registry knows. The translator stays pure: the caller
//! reads the configs (see [`images_to_resolve`] and [`pull_credentials`]) and passes them to
//! [`crate::translate_pod_with_images`] as [`ResolvedImages`].

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1 as k8s;

use crate::error::Findings;
use crate::pod_context::ReferencedObjects;

pub use crate::image_config::{ImageConfig, ResolvedImages};

/// The images whose config the translation needs: those of containers (init containers
/// included) with `args` and no `command`.
#[must_use]
pub fn images_to_resolve(pod: &k8s::Pod) -> BTreeSet<String> {
    let Some(spec) = pod.spec.as_ref() else {
        return BTreeSet::new();
    };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter(|c| needs_entrypoint(c))
        .filter_map(|c| c.image.as_deref().map(str::trim))
        .filter(|image| !image.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether the container's command depends on its image's ENTRYPOINT.
pub(crate) fn needs_entrypoint(c: &k8s::Container) -> bool {
    c.command.as_ref().is_none_or(Vec::is_empty) && c.args.as_ref().is_some_and(|a| !a.is_empty())
}

/// A registry login from the pod's image pull secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct PullCredential {
    /// Registry host (and port), e.g. `myregistry.azurecr.io`.
    pub server: String,
    /// User name.
    pub username: String,
    /// Password or token (secret; redacted by `Debug`).
    pub password: String,
}

impl std::fmt::Debug for PullCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullCredential")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The logins in the pod's pull secrets (`kubernetes.io/dockerconfigjson` and
/// `kubernetes.io/dockercfg`), one per server, first wins; unusable entries are skipped (the
/// translation reports them).
#[must_use]
pub fn pull_credentials(pod: &k8s::Pod, objects: &ReferencedObjects) -> Vec<PullCredential> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let mut ignored = Findings::default();
    crate::registry::image_registry_credentials(spec, objects, &mut ignored)
        .into_iter()
        .filter_map(|c| {
            Some(PullCredential {
                server: c.server,
                username: c.username?,
                password: c.password?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(command: Option<&[&str]>, args: Option<&[&str]>) -> k8s::Container {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        k8s::Container {
            name: "c".to_owned(),
            image: Some("registry.example/app:1".to_owned()),
            command: command.map(owned),
            args: args.map(owned),
            ..k8s::Container::default()
        }
    }

    #[test]
    fn only_args_without_command_should_need_the_entrypoint() {
        assert!(needs_entrypoint(&container(None, Some(&["a"]))));
        assert!(needs_entrypoint(&container(Some(&[]), Some(&["a"]))));
        assert!(!needs_entrypoint(&container(Some(&["sh"]), Some(&["a"]))));
        assert!(!needs_entrypoint(&container(None, None)));
        assert!(!needs_entrypoint(&container(None, Some(&[]))));
    }

    #[test]
    fn pull_credentials_should_not_show_passwords_in_debug() {
        let c = PullCredential {
            server: "r".to_owned(),
            username: "u".to_owned(),
            password: "hunter2".to_owned(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
