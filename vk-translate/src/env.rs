//! Container environment: `env`, `envFrom`, Secret and ConfigMap keys, the downward API,
//! and `$(VAR)` expansion in values and in the command.
//!
//! Values from Secrets go to `secureValue` only, and so does any value that expands a secret
//! variable. A command may not expand a secret variable: ACI shows the command in the
//! group's properties.

use k8s_openapi::api::core::v1 as k8s;

use crate::container_group::EnvironmentVariable;
use crate::downward::{self, DownwardProblem};
use crate::error::Findings;
use crate::expansion;
use crate::pod_context::{PodContext, secret_bytes};

/// One resolved variable.
#[derive(Clone, Debug)]
pub(crate) struct EnvValue {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) secure: bool,
}

/// The resolved environment of one container, in Kubernetes order (envFrom, then env;
/// later definitions replace earlier ones in place).
#[derive(Debug, Default)]
pub(crate) struct Environment {
    vars: Vec<EnvValue>,
}

impl Environment {
    fn set(&mut self, var: EnvValue) {
        match self.vars.iter_mut().find(|v| v.name == var.name) {
            Some(existing) => *existing = var,
            None => self.vars.push(var),
        }
    }

    fn get(&self, name: &str) -> Option<&EnvValue> {
        self.vars.iter().find(|v| v.name == name)
    }

    /// The ACI form.
    pub(crate) fn to_aci(&self) -> Vec<EnvironmentVariable> {
        self.vars
            .iter()
            .map(|v| EnvironmentVariable {
                name: v.name.clone(),
                value: (!v.secure).then(|| v.value.clone()),
                secure_value: v.secure.then(|| v.value.clone()),
                ..EnvironmentVariable::default()
            })
            .collect()
    }

    /// Expands `$(VAR)` like the kubelet (see [`crate::expansion`]); returns the result and
    /// whether a secret variable was used.
    pub(crate) fn expand(&self, input: &str) -> (String, bool) {
        let mut secure = false;
        let out = expansion::expand(input, |name| {
            let var = self.get(name)?;
            secure |= var.secure;
            Some(var.value.as_str())
        });
        (out, secure)
    }

    /// Expands `$(VAR)` with the non-secret variables only: references to secret ones stay
    /// verbatim.
    pub(crate) fn expand_public(&self, input: &str) -> String {
        expansion::expand(input, |name| {
            self.get(name)
                .filter(|v| !v.secure)
                .map(|v| v.value.as_str())
        })
    }

    /// Names of the secret variables a string would expand.
    pub(crate) fn secret_references(&self, input: &str) -> Vec<String> {
        expansion::references(input)
            .into_iter()
            .filter(|name| self.get(name).is_some_and(|v| v.secure))
            .map(str::to_owned)
            .collect()
    }
}

/// Resolves a container's environment.
pub(crate) fn container_environment(
    ctx: &PodContext<'_>,
    container: &k8s::Container,
    field: &str,
    findings: &mut Findings,
) -> Environment {
    let mut env = Environment::default();
    for (i, source) in container.env_from.iter().flatten().enumerate() {
        let field = format!("{field}.envFrom[{i}]");
        let prefix = source.prefix.as_deref().unwrap_or_default();
        if let Some(reference) = &source.config_map_ref {
            match ctx.objects.config_maps.get(&reference.name) {
                Some(map) => {
                    for (key, value) in map.data.iter().flatten() {
                        set_from_source(
                            &mut env,
                            prefix,
                            key,
                            value.clone(),
                            false,
                            &field,
                            findings,
                        );
                    }
                }
                None if reference.optional == Some(true) => {}
                None => findings.missing(
                    format!("{field}.configMapRef"),
                    format!("config map {:?} not found", reference.name),
                ),
            }
        }
        if let Some(reference) = &source.secret_ref {
            match ctx.objects.secrets.get(&reference.name) {
                Some(secret) => {
                    let keys: std::collections::BTreeSet<&String> = secret
                        .data
                        .iter()
                        .flatten()
                        .map(|(k, _)| k)
                        .chain(secret.string_data.iter().flatten().map(|(k, _)| k))
                        .collect();
                    for key in keys {
                        let bytes = secret_bytes(secret, key).unwrap_or_default();
                        match String::from_utf8(bytes) {
                            Ok(value) => {
                                set_from_source(
                                    &mut env, prefix, key, value, true, &field, findings,
                                );
                            }
                            Err(_) => findings.invalid(
                                format!("{field}.secretRef"),
                                format!(
                                    "key {key:?} of secret {:?} is not UTF-8 text",
                                    reference.name
                                ),
                            ),
                        }
                    }
                }
                None if reference.optional == Some(true) => {}
                None => findings.missing(
                    format!("{field}.secretRef"),
                    format!("secret {:?} not found", reference.name),
                ),
            }
        }
    }

    for (i, var) in container.env.iter().flatten().enumerate() {
        let field = format!("{field}.env[{i}]");
        if let Some(resolved) = env_var(ctx, container, var, &env, &field, findings) {
            env.set(resolved);
        }
    }
    env
}

fn set_from_source(
    env: &mut Environment,
    prefix: &str,
    key: &str,
    value: String,
    secure: bool,
    field: &str,
    findings: &mut Findings,
) {
    let name = format!("{prefix}{key}");
    if !is_env_name(&name) {
        // The kubelet skips such keys and records an event.
        findings.warn(
            field,
            format!("key {key:?} is not a valid variable name: skipped, as the kubelet does"),
        );
        return;
    }
    env.set(EnvValue {
        name,
        value,
        secure,
    });
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_graphic() && c != '=')
}

fn env_var(
    ctx: &PodContext<'_>,
    container: &k8s::Container,
    var: &k8s::EnvVar,
    env: &Environment,
    field: &str,
    findings: &mut Findings,
) -> Option<EnvValue> {
    let plain = |value: String, secure: bool| EnvValue {
        name: var.name.clone(),
        value,
        secure,
    };
    let Some(source) = &var.value_from else {
        let (value, secure) = env.expand(var.value.as_deref().unwrap_or_default());
        return Some(plain(value, secure));
    };
    if let Some(selector) = &source.secret_key_ref {
        let Some(secret) = ctx.objects.secrets.get(&selector.name) else {
            if selector.optional != Some(true) {
                findings.missing(
                    format!("{field}.valueFrom.secretKeyRef"),
                    format!("secret {:?} not found", selector.name),
                );
            }
            return None;
        };
        let Some(bytes) = secret_bytes(secret, &selector.key) else {
            if selector.optional != Some(true) {
                findings.missing(
                    format!("{field}.valueFrom.secretKeyRef"),
                    format!("secret {:?} has no key {:?}", selector.name, selector.key),
                );
            }
            return None;
        };
        return match String::from_utf8(bytes) {
            Ok(value) => Some(plain(value, true)),
            Err(_) => {
                findings.invalid(
                    format!("{field}.valueFrom.secretKeyRef"),
                    format!(
                        "key {:?} of secret {:?} is not UTF-8 text",
                        selector.key, selector.name
                    ),
                );
                None
            }
        };
    }
    if let Some(selector) = &source.config_map_key_ref {
        let Some(map) = ctx.objects.config_maps.get(&selector.name) else {
            if selector.optional != Some(true) {
                findings.missing(
                    format!("{field}.valueFrom.configMapKeyRef"),
                    format!("config map {:?} not found", selector.name),
                );
            }
            return None;
        };
        let Some(value) = map.data.as_ref().and_then(|d| d.get(&selector.key)) else {
            if selector.optional != Some(true) {
                findings.missing(
                    format!("{field}.valueFrom.configMapKeyRef"),
                    format!(
                        "config map {:?} has no key {:?}",
                        selector.name, selector.key
                    ),
                );
            }
            return None;
        };
        return Some(plain(value.clone(), false));
    }
    if let Some(selector) = &source.field_ref {
        return match downward::field_value(ctx, &selector.field_path, false) {
            Ok(value) => Some(plain(value, false)),
            Err(DownwardProblem::NotYetKnown(message)) => {
                findings.warn(format!("{field}.valueFrom.fieldRef"), message);
                None
            }
            Err(DownwardProblem::Invalid(message)) => {
                findings.invalid(format!("{field}.valueFrom.fieldRef"), message);
                None
            }
        };
    }
    if let Some(selector) = &source.resource_field_ref {
        return match downward::resource_value(ctx, selector, &container.name) {
            Ok(value) => Some(plain(value, false)),
            Err(DownwardProblem::NotYetKnown(message)) => {
                findings.warn(format!("{field}.valueFrom.resourceFieldRef"), message);
                None
            }
            Err(DownwardProblem::Invalid(message)) => {
                findings.invalid(format!("{field}.valueFrom.resourceFieldRef"), message);
                None
            }
        };
    }
    if source.file_key_ref.is_some() {
        findings.unsupported(
            format!("{field}.valueFrom.fileKeyRef"),
            "ACI cannot read variables from a file in a volume",
        );
        return None;
    }
    findings.invalid(format!("{field}.valueFrom"), "no source given");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str, bool)]) -> Environment {
        let mut e = Environment::default();
        for (n, v, s) in vars {
            e.set(EnvValue {
                name: (*n).to_owned(),
                value: (*v).to_owned(),
                secure: *s,
            });
        }
        e
    }

    #[test]
    fn expansion_should_follow_kubelet_rules() {
        let e = env(&[("A", "x", false), ("S", "secret", true)]);
        assert_eq!(
            e.expand("$(A)-$(B)-$$(A)-$"),
            ("x-$(B)-$(A)-$".to_owned(), false)
        );
        assert_eq!(e.expand("p=$(S)"), ("p=secret".to_owned(), true));
        assert_eq!(e.expand("$(A"), ("$(A".to_owned(), false));
        assert_eq!(e.secret_references("$(S) $$(S) $(A)"), vec!["S".to_owned()]);
    }

    #[test]
    fn later_definitions_should_replace_earlier_in_place() {
        let e = env(&[("A", "1", false), ("B", "2", false), ("A", "3", true)]);
        let aci = e.to_aci();
        assert_eq!(aci.len(), 2);
        assert_eq!(aci[0].name, "A");
        assert_eq!(aci[0].secure_value.as_deref(), Some("3"));
        assert!(aci[0].value.is_none());
    }
}
