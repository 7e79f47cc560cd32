//! `imagePullSecrets` (`kubernetes.io/dockerconfigjson` and `kubernetes.io/dockercfg`) to
//! ACI image registry credentials.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::api::core::v1 as k8s;
use serde::Deserialize;

use crate::container_group::ImageRegistryCredential;
use crate::error::Findings;
use crate::pod_context::{ReferencedObjects, secret_bytes};

const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
const DOCKER_CFG: &str = "kubernetes.io/dockercfg";

#[derive(Deserialize)]
struct DockerConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

#[derive(Deserialize, Default)]
struct DockerAuth {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    auth: Option<String>,
    /// An OAuth2 refresh token (`docker login` against ACR with an identity).
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Credentials of every registry in the pod's pull secrets, one per server (first wins, like
/// the kubelet's keyring order).
pub(crate) fn image_registry_credentials(
    spec: &k8s::PodSpec,
    objects: &ReferencedObjects,
    findings: &mut Findings,
) -> Vec<ImageRegistryCredential> {
    let mut out: Vec<ImageRegistryCredential> = Vec::new();
    for (i, reference) in spec.image_pull_secrets.iter().flatten().enumerate() {
        let field = format!("spec.imagePullSecrets[{i}]");
        let Some(secret) = objects.secrets.get(&reference.name) else {
            // The kubelet also goes on without a missing pull secret; the pull fails later
            // only if the registry needs it.
            findings.warn(
                field,
                format!(
                    "secret {:?} not found: images are pulled without it",
                    reference.name
                ),
            );
            continue;
        };
        let type_ = secret.type_.as_deref().unwrap_or("Opaque");
        let (key, auths) = match type_ {
            DOCKER_CONFIG_JSON => (
                ".dockerconfigjson",
                secret_bytes(secret, ".dockerconfigjson")
                    .map(|b| serde_json::from_slice::<DockerConfigJson>(&b).map(|c| c.auths)),
            ),
            DOCKER_CFG => (
                ".dockercfg",
                secret_bytes(secret, ".dockercfg")
                    .map(|b| serde_json::from_slice::<BTreeMap<String, DockerAuth>>(&b)),
            ),
            other => {
                findings.invalid(
                    field,
                    format!(
                        "secret {:?} has type {other:?}; pull secrets must be {DOCKER_CONFIG_JSON} or {DOCKER_CFG}",
                        reference.name
                    ),
                );
                continue;
            }
        };
        let auths = match auths {
            None => {
                findings.invalid(
                    field,
                    format!("secret {:?} has no key {key:?}", reference.name),
                );
                continue;
            }
            // The parse error may quote the secret: only its position is reported.
            Some(Err(e)) => {
                findings.invalid(
                    field,
                    format!(
                        "secret {:?} key {key:?} is not valid docker config JSON (line {}, column {})",
                        reference.name,
                        e.line(),
                        e.column()
                    ),
                );
                continue;
            }
            Some(Ok(auths)) => auths,
        };
        for (server, auth) in auths {
            let server_name = registry_server(&server);
            if auth.identitytoken.as_deref().is_some_and(|t| !t.is_empty())
                && credentials(&auth).is_none()
            {
                findings.unsupported(
                    &*field,
                    format!(
                        "secret {:?} holds an identity token for {server_name:?}: ACI pulls with a username and password (or a managed identity) only",
                        reference.name
                    ),
                );
                continue;
            }
            let Some((username, password)) = credentials(&auth) else {
                findings.invalid(
                    &*field,
                    format!(
                        "secret {:?} has no username and password for {server_name:?}",
                        reference.name
                    ),
                );
                continue;
            };
            if server_name.is_empty() || out.iter().any(|c| c.server == server_name) {
                continue;
            }
            out.push(ImageRegistryCredential {
                server: server_name,
                username: Some(username),
                password: Some(password),
                ..ImageRegistryCredential::default()
            });
        }
    }
    out
}

/// `https://index.docker.io/v1/` -> `index.docker.io`.
fn registry_server(raw: &str) -> String {
    let raw = raw.trim();
    let raw = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .unwrap_or(raw);
    raw.split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Username and password from the fields, else from `auth` (base64 `user:password`, padded or
/// not).
fn credentials(auth: &DockerAuth) -> Option<(String, String)> {
    if let (Some(u), Some(p)) = (&auth.username, &auth.password)
        && !u.is_empty()
    {
        return Some((u.clone(), p.clone()));
    }
    let encoded = auth.auth.as_deref()?.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (u, p) = decoded.split_once(':')?;
    (!u.is_empty()).then(|| (u.to_owned(), p.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_should_lose_scheme_and_path() {
        assert_eq!(
            registry_server("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(
            registry_server("myregistry.azurecr.io"),
            "myregistry.azurecr.io"
        );
        assert_eq!(
            registry_server("http://Reg.example:5000/x"),
            "reg.example:5000"
        );
    }

    #[test]
    fn auth_should_decode_padded_or_not() {
        for auth in ["dXNlcjpwYXNz", "dXNlcjpwYXNzMQ==", "dXNlcjpwYXNzMQ"] {
            let a = DockerAuth {
                auth: Some(auth.to_owned()),
                ..DockerAuth::default()
            };
            let (u, p) = credentials(&a).unwrap();
            assert_eq!(u, "user");
            assert!(p.starts_with("pass"));
        }
    }
}
