//! A minimal scheduler for tests and `vk-aci local`: binds pending pods to a fitting node.
//!
//! Every interval it lists the pods without `spec.nodeName` and the nodes, and binds each
//! pod (through the `binding` subresource, as the real scheduler does) to the node with the
//! fewest pods among those whose labels match the pod's `nodeSelector` and whose
//! `NoSchedule`/`NoExecute` taints the pod tolerates. Affinity, resources and priorities
//! are not considered.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{ListParams, PostParams};
use tokio::task::JoinHandle;
use tokio::time::{self, Duration};

/// Bound on each API call of the binder.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Start binding pending pods every `interval` until the returned task is aborted.
pub fn spawn(client: kube::Client, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = bind_pending(&client).await {
                tracing::debug!(error = %e, "binder pass failed");
            }
            time::sleep(interval).await;
        }
    })
}

/// One pass: bind every pending pod that fits a node. Returns how many were bound.
///
/// # Errors
/// Listing pods or nodes failed or timed out.
pub async fn bind_pending(client: &kube::Client) -> Result<usize, kube::Error> {
    let pods: Api<Pod> = Api::all(client.clone());
    let nodes: Api<Node> = Api::all(client.clone());
    let timeout = |what: &str| kube::Error::Service(format!("{what} timed out").into());
    let pods_list = time::timeout(CALL_TIMEOUT, pods.list(&ListParams::default()))
        .await
        .map_err(|_| timeout("listing pods"))??;
    let nodes_list = time::timeout(CALL_TIMEOUT, nodes.list(&ListParams::default()))
        .await
        .map_err(|_| timeout("listing nodes"))??;
    let mut load: BTreeMap<String, usize> = nodes_list
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .map(|n| (n, 0))
        .collect();
    for pod in &pods_list.items {
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_ref())
            && let Some(count) = load.get_mut(node)
        {
            *count += 1;
        }
    }
    let mut bound = 0;
    for pod in &pods_list.items {
        let Some(spec) = pod.spec.as_ref() else {
            continue;
        };
        if spec.node_name.is_some() || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let target = nodes_list
            .items
            .iter()
            .filter(|n| fits(pod, n))
            .filter_map(|n| n.metadata.name.as_deref())
            .min_by_key(|n| load.get(*n).copied().unwrap_or(0));
        let Some(target) = target.map(str::to_owned) else {
            continue;
        };
        let (Some(name), Some(namespace)) = (&pod.metadata.name, &pod.metadata.namespace) else {
            continue;
        };
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Node".to_owned()),
                name: Some(target.clone()),
                ..ObjectReference::default()
            },
        };
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let result = time::timeout(
            CALL_TIMEOUT,
            api.create_subresource::<Binding, serde_json::Value>(
                "binding",
                name,
                &PostParams::default(),
                &binding,
            ),
        )
        .await;
        match result {
            Ok(Ok(_)) => {
                bound += 1;
                *load.entry(target).or_default() += 1;
            }
            Ok(Err(e)) => tracing::debug!(pod = %name, error = %e, "binding failed"),
            Err(_) => tracing::debug!(pod = %name, "binding timed out"),
        }
    }
    Ok(bound)
}

/// Whether `pod` may be placed on `node`: its node selector matches and it tolerates every
/// scheduling taint.
#[must_use]
pub fn fits(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let selected = spec
        .node_selector
        .as_ref()
        .is_none_or(|sel| sel.iter().all(|(k, v)| labels.get(k) == Some(v)));
    if !selected {
        return false;
    }
    if node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
    {
        return false;
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or(&[]);
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|t| tolerations.iter().any(|tol| tolerates(tol, t)))
}

fn tolerates(tol: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = tol.effect.as_deref()
        && !effect.is_empty()
        && effect != taint.effect
    {
        return false;
    }
    let key_matches = match tol.key.as_deref() {
        None | Some("") => tol.operator.as_deref() == Some("Exists"),
        Some(key) => key == taint.key,
    };
    if !key_matches {
        return false;
    }
    match tol.operator.as_deref() {
        Some("Exists") => true,
        _ => tol.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, PodSpec};

    fn node(labels: &[(&str, &str)], taint: Option<(&str, &str)>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some("vn".into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                taints: taint.map(|(k, v)| {
                    vec![Taint {
                        key: k.into(),
                        value: Some(v.into()),
                        effect: "NoSchedule".into(),
                        time_added: None,
                    }]
                }),
                ..NodeSpec::default()
            }),
            status: None,
        }
    }

    fn pod(selector: &[(&str, &str)], tolerations: Vec<Toleration>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                node_selector: Some(
                    selector
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                tolerations: Some(tolerations),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn a_pod_should_fit_only_a_node_whose_taint_it_tolerates() {
        let vn = node(
            &[("type", "virtual-kubelet")],
            Some(("virtual-kubelet.io/provider", "azure")),
        );
        let exists = Toleration {
            key: Some("virtual-kubelet.io/provider".into()),
            operator: Some("Exists".into()),
            ..Toleration::default()
        };
        assert!(fits(
            &pod(&[("type", "virtual-kubelet")], vec![exists.clone()]),
            &vn
        ));
        assert!(!fits(&pod(&[("type", "virtual-kubelet")], vec![]), &vn));
        assert!(!fits(&pod(&[("type", "other")], vec![exists]), &vn));
    }
}
