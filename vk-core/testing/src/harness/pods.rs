//! The pod helpers: create pods bound to the node, wait for their phase or condition,
//! delete them.
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use kube::api::{Api, DeleteParams, PostParams};

use super::Harness;
use super::watch::{watch_until, yaml};

// === impl Harness ===

impl Harness {
    /// Pods of `namespace`.
    #[must_use]
    pub fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Create `pod` bound to the node (its `nodeName` set; namespace `default` unless it
    /// has one) and return it as created.
    ///
    /// # Panics
    /// When the API server refuses it.
    pub async fn create_pod(&self, mut pod: Pod) -> Pod {
        let namespace = pod
            .metadata
            .namespace
            .get_or_insert_with(|| "default".to_owned())
            .clone();
        pod.spec.get_or_insert_with(PodSpec::default).node_name = Some(self.node_name.clone());
        let name = pod.metadata.name.clone().unwrap_or_default();
        self.pods(&namespace)
            .create(&PostParams::default(), &pod)
            .await
            .unwrap_or_else(|e| panic!("creating pod {namespace}/{name}: {e}"))
    }

    /// [`create_pod`](Self::create_pod) from a YAML or JSON manifest.
    ///
    /// # Panics
    /// When the manifest is not a pod, or the API server refuses it.
    pub async fn create_pod_yaml(&self, manifest: &str) -> Pod {
        let pod: Pod = serde_yaml::from_str(manifest)
            .unwrap_or_else(|e| panic!("not a pod manifest: {e}\n{manifest}"));
        self.create_pod(pod).await
    }

    /// Wait until pod `pod` (`name` in `default`, or `namespace/name`) is in `phase`, and
    /// return it.
    ///
    /// # Panics
    /// When the patience runs out, or the pod ends in another phase (`Succeeded` or
    /// `Failed`), or is deleted, first; the message shows the pod's last status.
    pub async fn wait_for_phase(&self, pod: &str, phase: &str) -> Pod {
        let ended = |p: &Pod| matches!(phase_of(p), "Succeeded" | "Failed");
        let found = self
            .wait_for(pod, &format!("reach phase {phase}"), |p| {
                phase_of(p) == phase || ended(p)
            })
            .await;
        assert_eq!(
            phase_of(&found),
            phase,
            "pod {pod} ended in phase {} while waiting for {phase}; last status:\n{}",
            phase_of(&found),
            describe(Some(&found))
        );
        found
    }

    /// Wait until pod `pod` has condition `type_` (`Ready`, `ContainersReady`...) `True`.
    ///
    /// # Panics
    /// When the patience runs out or the pod is deleted; the message shows its last
    /// status.
    pub async fn wait_for_condition(&self, pod: &str, type_: &str) -> Pod {
        self.wait_for(pod, &format!("have condition {type_}=True"), |p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
        })
        .await
    }

    /// Wait until `check` holds for pod `pod` and return it; `what` completes "pod x did
    /// not ..." in the panic message.
    ///
    /// # Panics
    /// When the patience runs out or the pod is deleted; the message shows its last
    /// status.
    pub async fn wait_for(
        &self,
        pod: &str,
        what: &str,
        mut check: impl FnMut(&Pod) -> bool,
    ) -> Pod {
        let (namespace, name) = split(pod);
        let watched = watch_until(self.pods(namespace), name, self.patience, |p| {
            p.is_none_or(&mut check)
        })
        .await;
        match watched {
            Ok(Some(found)) => found,
            Ok(None) => {
                panic!("pod {namespace}/{name} does not exist (or was deleted) and cannot {what}")
            }
            Err(last) => panic!(
                "pod {namespace}/{name} did not {what} within {:?}; last seen:\n{}",
                self.patience,
                describe(last.as_ref())
            ),
        }
    }

    /// Delete pod `pod` (gracefully, as `kubectl delete` does) and wait until the object
    /// is gone: the runtime removes it once the provider has deleted the pod.
    ///
    /// # Panics
    /// When the API server refuses the delete or the pod is still there after the
    /// patience; the message shows its last status.
    pub async fn delete_pod(&self, pod: &str) {
        let (namespace, name) = split(pod);
        match self
            .pods(namespace)
            .delete(name, &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return,
            Err(e) => panic!("deleting pod {namespace}/{name}: {e}"),
        }
        self.wait_for_deleted(pod).await;
    }

    /// Wait until pod `pod` no longer exists.
    ///
    /// # Panics
    /// When it still exists after the patience; the message shows its last status.
    pub async fn wait_for_deleted(&self, pod: &str) {
        let (namespace, name) = split(pod);
        if let Err(last) =
            watch_until(self.pods(namespace), name, self.patience, |p| p.is_none()).await
        {
            panic!(
                "pod {namespace}/{name} still exists after {:?}; last seen:\n{}",
                self.patience,
                describe(last.as_ref())
            );
        }
    }
}

/// `namespace/name`, or `name` in `default`.
fn split(pod: &str) -> (&str, &str) {
    pod.split_once('/').unwrap_or(("default", pod))
}

fn phase_of(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// A pod's deletion timestamp, node and status, for panic messages.
fn describe(pod: Option<&Pod>) -> String {
    let Some(pod) = pod else {
        return "absent".to_owned();
    };
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    let deleting = pod
        .metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0.to_string());
    format!(
        "nodeName: {node:?}\ndeletionTimestamp: {deleting:?}\nstatus:\n{}",
        yaml(&pod.status)
    )
}
