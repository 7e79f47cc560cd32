//! Kubernetes manifests (multi-document YAML) to workloads, their translations, and the
//! `check` report.
//!
//! Pods and the pod templates of Deployments, ReplicaSets, StatefulSets, Jobs, CronJobs,
//! DaemonSets and ReplicationControllers are workloads; Secrets, ConfigMaps,
//! PersistentVolumeClaims and PersistentVolumes in the same documents resolve their
//! references; every other kind is ignored. Pure: it takes strings.
//!
//! Manifests rarely carry a claim's status, so a claim counts as Bound when the files show
//! its volume: its `spec.volumeName` names a PersistentVolume of the files, or a
//! PersistentVolume's `claimRef` names the claim. Other claims wait for binding (a
//! [`FieldErrorKind::NotReady`](crate::FieldErrorKind) error, reported as "waits").

mod error;
mod report;
mod workloads;
mod yaml;

pub use error::ManifestError;
pub use report::{any_cannot_run, check_report};
pub use workloads::{Manifests, Origin, Outcome, Workload, WorkloadResult};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_yaml_should_name_the_document() {
        let mut m = Manifests::default();
        let err = m.add("x.yaml", "kind: Pod\n---\nkind: [\n").unwrap_err();
        let text = format!("{err}");
        assert!(text.contains("x.yaml: document 2"), "{text}");
    }

    #[test]
    fn invalid_object_should_name_kind_and_name() {
        let mut m = Manifests::default();
        let err = m
            .add(
                "x.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: [x]\n",
            )
            .unwrap_err();
        let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(text.contains("document 1 (Pod \"p\")"), "{text}");
        assert!(text.contains("line 7"), "{text}");
    }

    #[test]
    fn yaml_1_1_octal_modes_should_be_read_as_octal() {
        let mut m = Manifests::default();
        m.add(
            "x.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: x\n  volumes:\n  - name: s\n    secret:\n      secretName: s\n      defaultMode: 0400\n",
        )
        .unwrap();
        let volumes = m.workloads[0]
            .pod
            .spec
            .as_ref()
            .unwrap()
            .volumes
            .clone()
            .unwrap();
        assert_eq!(
            volumes[0].secret.as_ref().unwrap().default_mode,
            Some(0o400)
        );
    }

    #[test]
    fn empty_documents_and_other_kinds_should_be_skipped() {
        let mut m = Manifests::default();
        m.add(
            "x.yaml",
            "---\n# nothing\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
        )
        .unwrap();
        assert!(m.workloads.is_empty());
    }
}
