//! Services (ClusterIP and node port allocation, EndpointSlices and Endpoints from the
//! selected pods) and Jobs (pods from the template, completions and backoffLimit counted
//! from pod phases) against a MockProvider node.
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

use crate::metrics::harness::{Cluster, NODE, eventually};

fn job(name: &str, completions: i32, exit_code: i32, backoff_limit: i32) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "completions": completions,
            "backoffLimit": backoff_limit,
            "template": {
                "metadata": {"annotations": {
                    "mock.vk.io/exit-after": "100ms",
                    "mock.vk.io/exit-code": exit_code.to_string(),
                }},
                "spec": {
                    "restartPolicy": "Never",
                    "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
                    "containers": [{"name": "work", "image": "busybox"}],
                },
            },
        },
    }))
    .unwrap()
}

fn condition(job: &Job, ty: &str) -> Option<String> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == ty && c.status == "True")
        .map(|c| c.reason.clone().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_should_run_its_pods_to_completion() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = Api::default_namespaced(c.api.client());
    let created = jobs
        .create(&PostParams::default(), &job("twice", 2, 0, 6))
        .await
        .unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    let spec = created.spec.unwrap();
    assert_eq!(spec.parallelism, Some(1));
    let labels = spec.selector.unwrap().match_labels.unwrap();
    assert_eq!(labels["batch.kubernetes.io/controller-uid"], uid);

    let done = eventually("the job to complete", || async {
        let j = jobs.get("twice").await.unwrap();
        condition(&j, "Complete").map(|_| j)
    })
    .await;
    assert_eq!(
        condition(&done, "SuccessCriteriaMet").as_deref(),
        Some("CompletionsReached")
    );
    let status = done.status.unwrap();
    assert_eq!(status.succeeded, Some(2));
    assert_eq!(status.active, None);
    assert!(status.completion_time.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_should_fail_once_more_pods_failed_than_its_backoff_limit() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = Api::default_namespaced(c.api.client());
    jobs.create(&PostParams::default(), &job("doomed", 1, 3, 1))
        .await
        .unwrap();
    let failed = eventually("the job to fail", || async {
        let j = jobs.get("doomed").await.unwrap();
        condition(&j, "Failed").map(|reason| (j, reason))
    })
    .await;
    assert_eq!(failed.1, "BackoffLimitExceeded");
    assert_eq!(failed.0.status.unwrap().failed, Some(2));

    let bad: Job = serde_json::from_value(json!({
        "metadata": {"name": "always"},
        "spec": {"template": {"spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "busybox"}]}}},
    }))
    .unwrap();
    let e = jobs.create(&PostParams::default(), &bad).await.unwrap_err();
    assert!(
        matches!(e, kube::Error::Api(ref s) if s.code == 422),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_should_get_a_cluster_ip_and_endpoints_from_ready_pods() {
    let c = Cluster::start().await;
    let client = c.api.client();
    c.kubectl_ok(
        "1.33",
        &["run", "web", "--image=nginx", "--labels=app=web", "--port=80", "--overrides",
          r#"{"spec": {"tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]}}"#],
        None,
    )
    .await;
    let svcs: Api<Service> = Api::default_namespaced(client.clone());
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": 80}]},
    }))
    .unwrap();
    let svc = svcs.create(&PostParams::default(), &svc).await.unwrap();
    let spec = svc.spec.unwrap();
    let ip = spec.cluster_ip.unwrap();
    assert!(ip.starts_with("10."), "{ip}");
    assert_eq!(spec.cluster_ips.unwrap(), vec![ip.clone()]);
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(spec.ports.unwrap()[0].protocol.as_deref(), Some("TCP"));

    // The same address again is refused; a NodePort Service gets a node port.
    let dup: Service = serde_json::from_value(json!({
        "metadata": {"name": "dup"},
        "spec": {"clusterIP": ip, "ports": [{"port": 80}]},
    }))
    .unwrap();
    let e = svcs.create(&PostParams::default(), &dup).await.unwrap_err();
    assert!(
        matches!(e, kube::Error::Api(ref s) if s.code == 422 && s.message.contains("already allocated")),
        "{e:?}"
    );
    let np: Service = serde_json::from_value(json!({
        "metadata": {"name": "np"},
        "spec": {"type": "NodePort", "ports": [{"port": 80}]},
    }))
    .unwrap();
    let np = svcs.create(&PostParams::default(), &np).await.unwrap();
    let node_port = np.spec.unwrap().ports.unwrap()[0].node_port.unwrap();
    assert!((30000..=32767).contains(&node_port));

    let slices: Api<EndpointSlice> = Api::default_namespaced(client.clone());
    let slice = eventually("a ready endpoint", || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .unwrap();
        list.items.into_iter().find(|s| {
            s.endpoints
                .iter()
                .flatten()
                .any(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
        })
    })
    .await;
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(slice.ports.unwrap()[0].port, Some(80));
    let endpoint = &slice.endpoints.unwrap()[0];
    assert_eq!(endpoint.node_name.as_deref(), Some(NODE));
    assert_eq!(
        endpoint.target_ref.as_ref().unwrap().name.as_deref(),
        Some("web")
    );
    let eps: Api<Endpoints> = Api::default_namespaced(client.clone());
    let ep = eps.get("web").await.unwrap();
    let subset = &ep.subsets.unwrap()[0];
    assert_eq!(subset.addresses.as_ref().unwrap().len(), 1);

    // The pod gone, its endpoint goes.
    c.kubectl_ok("1.33", &["delete", "pod", "web", "--wait=false"], None)
        .await;
    eventually("the endpoint to go", || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .unwrap();
        list.items
            .first()
            .filter(|s| s.endpoints.as_ref().is_none_or(Vec::is_empty))
            .map(|_| ())
    })
    .await;
    let raw: Value = serde_json::to_value(svcs.get("kubernetes").await.unwrap()).unwrap();
    assert_eq!(raw["spec"]["clusterIP"], "10.96.0.1");
}
