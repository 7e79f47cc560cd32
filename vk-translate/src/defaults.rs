//! The defaults the API server gives a pod before anything else sees it
//! (`SetDefaults_Pod`, `SetDefaults_PodSpec`, `SetDefaults_Container` and their kin in
//! kubernetes/pkg/apis/core/v1/defaults.go), so that an offline `vk-aci check` or
//! `vk-aci translate` of a manifest judges the pod a running node receives: an unset
//! `dnsPolicy` is `ClusterFirst`, `restartPolicy` `Always`, a probe's period 10 s...
//!
//! Admission (the ServiceAccount plugin's token volume, default tolerations) is not
//! applied: it depends on the cluster.

use k8s_openapi::api::core::v1 as k8s;

/// `corev1.TerminationMessageReadFile`'s path.
const TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";
/// The mode of secret, configMap, projected and downward API volume files (0644).
const DEFAULT_MODE: i32 = 0o644;

fn set<T>(field: &mut Option<T>, value: impl FnOnce() -> T) {
    if field.is_none() {
        *field = Some(value());
    }
}

/// Give `pod` the API server's defaults, in place; set fields are left as they are.
pub fn apply_api_server_defaults(pod: &mut k8s::Pod) {
    let spec = pod.spec.get_or_insert_with(Default::default);
    set(&mut spec.dns_policy, || "ClusterFirst".to_owned());
    set(&mut spec.restart_policy, || "Always".to_owned());
    set(&mut spec.termination_grace_period_seconds, || 30);
    set(&mut spec.scheduler_name, || "default-scheduler".to_owned());
    set(&mut spec.security_context, Default::default);
    set(&mut spec.enable_service_links, || true);
    if spec.host_network == Some(true) {
        for c in &mut spec.containers {
            for p in c.ports.iter_mut().flatten() {
                set(&mut p.host_port, || p.container_port);
            }
        }
    }
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        container(c);
    }
    for v in spec.volumes.iter_mut().flatten() {
        volume(v);
    }
}

fn container(c: &mut k8s::Container) {
    set(&mut c.termination_message_path, || {
        TERMINATION_MESSAGE_PATH.to_owned()
    });
    set(&mut c.termination_message_policy, || "File".to_owned());
    let image = c.image.as_deref().unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or(image);
    let latest = !image.contains('@') && (!last.contains(':') || last.ends_with(":latest"));
    set(&mut c.image_pull_policy, || {
        if latest { "Always" } else { "IfNotPresent" }.to_owned()
    });
    set(&mut c.resources, Default::default);
    for p in c.ports.iter_mut().flatten() {
        set(&mut p.protocol, || "TCP".to_owned());
    }
    for probe in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        set(&mut probe.timeout_seconds, || 1);
        set(&mut probe.period_seconds, || 10);
        set(&mut probe.success_threshold, || 1);
        set(&mut probe.failure_threshold, || 3);
        if let Some(get) = &mut probe.http_get {
            set(&mut get.path, || "/".to_owned());
            set(&mut get.scheme, || "HTTP".to_owned());
        }
    }
    for env in c.env.iter_mut().flatten() {
        if let Some(field) = env.value_from.as_mut().and_then(|f| f.field_ref.as_mut()) {
            set(&mut field.api_version, || "v1".to_owned());
        }
    }
}

fn volume(v: &mut k8s::Volume) {
    if let Some(s) = &mut v.secret {
        set(&mut s.default_mode, || DEFAULT_MODE);
    }
    if let Some(c) = &mut v.config_map {
        set(&mut c.default_mode, || DEFAULT_MODE);
    }
    if let Some(p) = &mut v.projected {
        set(&mut p.default_mode, || DEFAULT_MODE);
    }
    if let Some(d) = &mut v.downward_api {
        set(&mut d.default_mode, || DEFAULT_MODE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> k8s::Pod {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn an_unset_dns_policy_should_be_cluster_first_and_probes_should_get_their_periods() {
        let mut p = pod("
metadata: {name: web}
spec:
  containers:
  - name: web
    image: nginx
    ports: [{containerPort: 80}]
    readinessProbe: {httpGet: {port: 80}}
  volumes:
  - {name: s, secret: {secretName: s}}
");
        apply_api_server_defaults(&mut p);
        let spec = p.spec.unwrap();
        assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.termination_grace_period_seconds, Some(30));
        let c = &spec.containers[0];
        assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(
            c.ports.as_ref().unwrap()[0].protocol.as_deref(),
            Some("TCP")
        );
        let probe = c.readiness_probe.as_ref().unwrap();
        assert_eq!(probe.period_seconds, Some(10));
        assert_eq!(
            probe.http_get.as_ref().unwrap().scheme.as_deref(),
            Some("HTTP")
        );
        let secret = spec.volumes.unwrap()[0].secret.clone().unwrap();
        assert_eq!(secret.default_mode, Some(0o644));
    }

    #[test]
    fn set_fields_should_be_kept() {
        let mut p = pod("
spec:
  dnsPolicy: Default
  restartPolicy: Never
  containers: [{name: c, image: 'busybox:1.36', imagePullPolicy: Never}]
");
        apply_api_server_defaults(&mut p);
        let spec = p.spec.unwrap();
        assert_eq!(spec.dns_policy.as_deref(), Some("Default"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(
            spec.containers[0].image_pull_policy.as_deref(),
            Some("Never")
        );
    }
}
