//! Resolution of the Secrets, ConfigMaps and service account tokens a pod references.
//!
//! References come from container env (`secretKeyRef`, `configMapKeyRef`), `envFrom`,
//! secret / configMap / projected volumes and image pull secrets. `optional: true`
//! references that are missing are skipped, like the kubelet does; a required one that is
//! missing is a retryable failure (`CreateContainerConfigError`, the kubelet's reason).
//! Image pull secrets that are missing are skipped (the kubelet only warns).
//! PersistentVolumeClaims, their volumes and the volumes' Secrets are read by [`claims`].
//!
//! [`claims`]: super::claims
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, ServiceAccount};
use kube::api::{Api, PostParams};

use super::status::PodFailure;
use crate::api_call::{ApiCall, api_call};
use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::provider::{PodResources, SharedProvider};

/// A Secret or ConfigMap a pod references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Refs {
    /// Secret name -> required (some reference is not optional).
    pub(crate) secrets: BTreeMap<String, bool>,
    /// ConfigMap name -> required.
    pub(crate) config_maps: BTreeMap<String, bool>,
    /// Required keys: (secret name, key) of non-optional env references.
    pub(crate) secret_keys: Vec<(String, String)>,
    /// Required keys of ConfigMaps.
    pub(crate) config_map_keys: Vec<(String, String)>,
    /// Projected service account tokens: (key `"<volume>/<path>"`, audience, expiry).
    pub(crate) tokens: Vec<(String, Option<String>, Option<i64>)>,
}

fn note(map: &mut BTreeMap<String, bool>, name: &str, optional: Option<bool>) {
    if name.is_empty() {
        return;
    }
    let required = !optional.unwrap_or(false);
    let e = map.entry(name.to_owned()).or_insert(false);
    *e |= required;
}

fn container_refs(c: &Container, refs: &mut Refs) {
    for env in c.env.iter().flatten() {
        let Some(from) = &env.value_from else {
            continue;
        };
        if let Some(s) = &from.secret_key_ref {
            note(&mut refs.secrets, &s.name, s.optional);
            if !s.optional.unwrap_or(false) {
                refs.secret_keys.push((s.name.clone(), s.key.clone()));
            }
        }
        if let Some(m) = &from.config_map_key_ref {
            note(&mut refs.config_maps, &m.name, m.optional);
            if !m.optional.unwrap_or(false) {
                refs.config_map_keys.push((m.name.clone(), m.key.clone()));
            }
        }
    }
    for from in c.env_from.iter().flatten() {
        if let Some(s) = &from.secret_ref {
            note(&mut refs.secrets, &s.name, s.optional);
        }
        if let Some(m) = &from.config_map_ref {
            note(&mut refs.config_maps, &m.name, m.optional);
        }
    }
}

/// Everything `pod` references.
pub(crate) fn references(pod: &Pod) -> Refs {
    let mut refs = Refs::default();
    let Some(spec) = &pod.spec else {
        return refs;
    };
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
    {
        container_refs(c, &mut refs);
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(s) = &v.secret {
            note(
                &mut refs.secrets,
                s.secret_name.as_deref().unwrap_or_default(),
                s.optional,
            );
        }
        if let Some(m) = &v.config_map {
            note(&mut refs.config_maps, &m.name, m.optional);
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &src.secret {
                note(&mut refs.secrets, &s.name, s.optional);
            }
            if let Some(m) = &src.config_map {
                note(&mut refs.config_maps, &m.name, m.optional);
            }
            if let Some(t) = &src.service_account_token {
                refs.tokens.push((
                    format!("{}/{}", v.name, t.path),
                    t.audience.clone(),
                    t.expiration_seconds,
                ));
            }
        }
    }
    for s in spec.image_pull_secrets.iter().flatten() {
        note(&mut refs.secrets, &s.name, Some(true));
    }
    refs
}

/// Reads referenced objects from the API server.
pub(crate) struct Resolver {
    pub(crate) client: kube::Client,
    pub(crate) metrics: Metrics,
    /// Names the Secrets of PersistentVolumes ([`crate::provider::Provider::volume_secrets`]).
    pub(crate) provider: SharedProvider,
}

/// A resolution failure, as the pod will show it.
fn missing(kind: &str, ns: &str, name: &str) -> PodFailure {
    PodFailure::retry(
        "CreateContainerConfigError",
        format!("{kind} \"{name}\" not found in namespace \"{ns}\""),
    )
}

fn api_failure(e: &RuntimeError) -> PodFailure {
    PodFailure::retry(
        "CreateContainerConfigError",
        format!("could not read the pod's references: {e}"),
    )
}

impl Resolver {
    /// Resolve everything `pod` references.
    pub(crate) async fn resolve(&self, pod: &Pod) -> Result<PodResources, PodFailure> {
        let refs = references(pod);
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let mut out = PodResources::default();
        super::claims::resolve(&self.client, &self.metrics, &self.provider, pod, &mut out).await?;
        if refs.secrets.is_empty() && refs.config_maps.is_empty() && refs.tokens.is_empty() {
            return Ok(out);
        }
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &ns);
        for (name, required) in &refs.secrets {
            let got = api_call(&self.metrics, ApiCall::ReadReference, secrets.get_opt(name))
                .await
                .map_err(|e| api_failure(&e))?;
            match got {
                Some(s) => {
                    out.secrets.insert(name.clone(), s);
                }
                None if *required => return Err(missing("secret", &ns, name)),
                None => {}
            }
        }
        let config_maps: Api<ConfigMap> = Api::namespaced(self.client.clone(), &ns);
        for (name, required) in &refs.config_maps {
            let got = api_call(
                &self.metrics,
                ApiCall::ReadReference,
                config_maps.get_opt(name),
            )
            .await
            .map_err(|e| api_failure(&e))?;
            match got {
                Some(m) => {
                    out.config_maps.insert(name.clone(), m);
                }
                None if *required => return Err(missing("configmap", &ns, name)),
                None => {}
            }
        }
        for (name, key) in &refs.secret_keys {
            let has = out.secrets.get(name).is_some_and(|s| {
                s.data.as_ref().is_some_and(|d| d.contains_key(key))
                    || s.string_data.as_ref().is_some_and(|d| d.contains_key(key))
            });
            if !has {
                return Err(PodFailure::retry(
                    "CreateContainerConfigError",
                    format!("couldn't find key {key} in Secret {ns}/{name}"),
                ));
            }
        }
        for (name, key) in &refs.config_map_keys {
            let has = out.config_maps.get(name).is_some_and(|m| {
                m.data.as_ref().is_some_and(|d| d.contains_key(key))
                    || m.binary_data.as_ref().is_some_and(|d| d.contains_key(key))
            });
            if !has {
                return Err(PodFailure::retry(
                    "CreateContainerConfigError",
                    format!("couldn't find key {key} in ConfigMap {ns}/{name}"),
                ));
            }
        }
        if !refs.tokens.is_empty() {
            let sa_name = pod
                .spec
                .as_ref()
                .and_then(|s| s.service_account_name.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "default".to_owned());
            let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &ns);
            for (key, audience, expiry) in &refs.tokens {
                // Built as JSON: the TokenRequest types differ between Kubernetes versions
                // and library crates pick none.
                let request = serde_json::json!({
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": {
                        // No audience means the API server's own (an empty list).
                        "audiences": audience.iter().collect::<Vec<_>>(),
                        // The kubelet's default for projected tokens is 1 h.
                        "expirationSeconds": expiry.unwrap_or(3600),
                        "boundObjectRef": {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "name": pod.metadata.name,
                            "uid": pod.metadata.uid,
                        },
                    },
                });
                let answer: serde_json::Value = api_call(
                    &self.metrics,
                    ApiCall::TokenRequest,
                    accounts.create_subresource(
                        "token",
                        &sa_name,
                        &PostParams::default(),
                        &request,
                    ),
                )
                .await
                .map_err(|e| {
                    PodFailure::retry(
                        "CreateContainerConfigError",
                        format!("could not request a token for service account \"{sa_name}\": {e}"),
                    )
                })?;
                let token = answer["status"]["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                out.service_account_tokens.insert(key.clone(), token);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn references_come_from_env_volumes_projections_and_pull_secrets() {
        let p = pod(r"
metadata: {name: p, namespace: ns}
spec:
  imagePullSecrets: [{name: regcred}]
  initContainers:
  - name: init
    envFrom: [{configMapRef: {name: init-cm}}]
  containers:
  - name: app
    env:
    - name: A
      valueFrom: {secretKeyRef: {name: s1, key: k}}
    - name: B
      valueFrom: {configMapKeyRef: {name: cm1, key: k, optional: true}}
    envFrom: [{secretRef: {name: s2, optional: true}}]
  volumes:
  - name: v1
    secret: {secretName: s3}
  - name: v2
    configMap: {name: cm2}
  - name: kube-api-access
    projected:
      sources:
      - serviceAccountToken: {path: token, expirationSeconds: 3607}
      - configMap: {name: kube-root-ca.crt}
      - secret: {name: s4, optional: true}
");
        let r = references(&p);
        let secrets: Vec<_> = r.secrets.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            secrets,
            [
                ("regcred", false),
                ("s1", true),
                ("s2", false),
                ("s3", true),
                ("s4", false)
            ]
        );
        let cms: Vec<_> = r
            .config_maps
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            cms,
            [
                ("cm1", false),
                ("cm2", true),
                ("init-cm", true),
                ("kube-root-ca.crt", true)
            ]
        );
        assert_eq!(r.secret_keys, [("s1".to_owned(), "k".to_owned())]);
        assert!(r.config_map_keys.is_empty());
        assert_eq!(
            r.tokens,
            [("kube-api-access/token".to_owned(), None, Some(3607))]
        );
    }

    #[test]
    fn a_required_reference_wins_over_an_optional_one() {
        let p = pod(r"
metadata: {name: p, namespace: ns}
spec:
  containers:
  - name: app
    envFrom: [{secretRef: {name: s, optional: true}}, {secretRef: {name: s}}]
");
        assert!(references(&p).secrets["s"]);
    }
}
