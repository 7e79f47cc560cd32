//! The Secrets a PersistentVolume needs to be mounted, for [`super::Provider::volume_secrets`]'s
//! default.
use k8s_openapi::api::core::v1::PersistentVolume;

/// The Secrets a CSI PersistentVolume names for mounting it (`nodeStageSecretRef`,
/// `nodePublishSecretRef`); a reference without a namespace is in `namespace`.
#[must_use]
pub fn csi_secret_refs(pv: &PersistentVolume, namespace: &str) -> Vec<(String, String)> {
    let Some(csi) = pv.spec.as_ref().and_then(|s| s.csi.as_ref()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for secret in [&csi.node_stage_secret_ref, &csi.node_publish_secret_ref]
        .into_iter()
        .flatten()
    {
        let Some(name) = secret.name.clone().filter(|n| !n.is_empty()) else {
            continue;
        };
        let ns = secret
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| namespace.to_owned());
        if !out.contains(&(ns.clone(), name.clone())) {
            out.push((ns, name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csi_secret_references_should_default_to_the_pod_namespace() {
        let pv: PersistentVolume = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pv"},
            "spec": {"csi": {
                "driver": "example.csi",
                "volumeHandle": "h",
                "nodeStageSecretRef": {"name": "stage"},
                "nodePublishSecretRef": {"name": "publish", "namespace": "other"},
            }},
        }))
        .unwrap();
        assert_eq!(
            csi_secret_refs(&pv, "ns"),
            [
                ("ns".to_owned(), "stage".to_owned()),
                ("other".to_owned(), "publish".to_owned())
            ]
        );
        let nfs: PersistentVolume = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pv"},
            "spec": {"nfs": {"server": "s", "path": "/"}},
        }))
        .unwrap();
        assert!(csi_secret_refs(&nfs, "ns").is_empty());
    }
}
