//! The column definitions of each kind's Table, as kube-apiserver's printers declare them
//! (the network kinds' are in `network`).
use serde_json::{Value, json};

use super::super::resources::Resource;
use super::network;

fn col(name: &str, ty: &str, priority: u8, description: &str) -> Value {
    let mut c = json!({"name": name, "type": ty, "format": "", "description": description, "priority": priority});
    if name == "Name" {
        c["format"] = json!("name");
    }
    c
}

pub(super) fn columns(res: &Resource) -> Vec<Value> {
    let name = col(
        "Name",
        "string",
        0,
        "Name must be unique within a namespace.",
    );
    let age = col(
        "Age",
        "string",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    if let Some(cols) = network::columns(res.plural) {
        return cols;
    }
    match res.plural {
        "pods" => pod_columns(name, age),
        "nodes" => node_columns(name, age),
        "deployments" => deployment_columns(name, age),
        "certificatesigningrequests" => csr_columns(name, age),
        "horizontalpodautoscalers" => hpa_columns(name, age),
        _ => vec![name, age],
    }
}

/// The columns of pods.
fn pod_columns(name: Value, age: Value) -> Vec<Value> {
    vec![
        name,
        col(
            "Ready",
            "string",
            0,
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        col(
            "Status",
            "string",
            0,
            "The aggregate status of the containers in this pod.",
        ),
        col(
            "Restarts",
            "string",
            0,
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        age,
        col(
            "IP",
            "string",
            1,
            "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
        ),
        col(
            "Node",
            "string",
            1,
            "NodeName is a request to schedule this pod onto a specific node.",
        ),
        col(
            "Nominated Node",
            "string",
            1,
            "nominatedNodeName is set only when this pod preempts other pods on the node.",
        ),
        col(
            "Readiness Gates",
            "string",
            1,
            "If specified, all readiness gates will be evaluated for pod readiness.",
        ),
    ]
}

/// The columns of nodes.
fn node_columns(name: Value, age: Value) -> Vec<Value> {
    vec![
        name,
        col("Status", "string", 0, "The status of the node"),
        col("Roles", "string", 0, "The roles of the node"),
        age,
        col(
            "Version",
            "string",
            0,
            "Kubelet Version reported by the node.",
        ),
        col(
            "Internal-IP",
            "string",
            1,
            "List of addresses reachable to the node. Queried from cloud provider, if available.",
        ),
        col(
            "External-IP",
            "string",
            1,
            "List of addresses reachable to the node. Queried from cloud provider, if available.",
        ),
        col(
            "OS-Image",
            "string",
            1,
            "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
        ),
        col(
            "Kernel-Version",
            "string",
            1,
            "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
        ),
        col(
            "Container-Runtime",
            "string",
            1,
            "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
        ),
    ]
}

/// The columns of deployments.
fn deployment_columns(name: Value, age: Value) -> Vec<Value> {
    vec![
        name,
        col("Ready", "string", 0, "Number of the pod with ready state"),
        col(
            "Up-to-date",
            "string",
            0,
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        ),
        col(
            "Available",
            "string",
            0,
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        ),
        age,
    ]
}

/// The columns of CertificateSigningRequests.
fn csr_columns(name: Value, age: Value) -> Vec<Value> {
    vec![
        name,
        age,
        col("SignerName", "string", 0, "The name of the signer."),
        col(
            "Requestor",
            "string",
            0,
            "The user that created the request.",
        ),
        col(
            "Condition",
            "string",
            0,
            "The request's conditions, or Pending.",
        ),
    ]
}

/// The columns of HorizontalPodAutoscalers.
fn hpa_columns(name: Value, age: Value) -> Vec<Value> {
    vec![
        name,
        col(
            "Reference",
            "string",
            0,
            "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
        ),
        col(
            "Targets",
            "string",
            0,
            "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).",
        ),
        col(
            "MinPods",
            "string",
            0,
            "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
        ),
        col(
            "MaxPods",
            "string",
            0,
            "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
        ),
        col(
            "Replicas",
            "string",
            0,
            "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
        ),
        age,
    ]
}
