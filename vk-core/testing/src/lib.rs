//! Test kit for vk-core providers: an in-process fake Kubernetes API server, a whole-node
//! harness, a MockProvider, real kubectl builds and an SPDY client.
//!
//! Add it as a dev-dependency next to `vk-core`. [`FakeApiServer`] speaks the real HTTP/JSON
//! protocol on loopback so that kube-rs and kubectl work against it unchanged.
//!
//! # Testing a provider in one call
//!
//! [`Harness::start`] runs the fake API server and a whole `vk_core::VirtualKubelet` around
//! your provider, with the kubelet API behind the fake's proxy, so real `kubectl logs` and
//! `exec` reach it (see [`harness`]):
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use vk_testing::Harness;
//! use vk_testing::harness::pod;
//!
//! let harness = Harness::start(Arc::new(vk_testing::MockProvider::new())).await;
//! harness.create_pod(pod("web", &["sh", "-c", "echo hello; sleep 30"])).await;
//! harness.wait_for_phase("web", "Running").await;
//! let logs = harness.kubectl("1.33").ok(&["logs", "web"]).await;
//! println!("{logs}");
//! harness.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # The fake API server and the mock provider
//!
//! ```no_run
//! use k8s_openapi::api::core::v1::Pod;
//! use kube::api::{Api, ListParams};
//! use vk_testing::{FakeApiServer, MockProvider, ContainerUsage};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // A cluster on loopback, with the Deployment controllers and scheduler switched on.
//! let server = FakeApiServer::builder().controllers(true).start().await?;
//! let pods: Api<Pod> = Api::all(server.client());
//! let on_node = pods.list(&ListParams::default().fields("spec.nodeName=vk")).await?;
//! assert!(on_node.items.is_empty());
//!
//! // kubectl works too.
//! server.write_kubeconfig("/tmp/fake-kubeconfig")?;
//!
//! // Make the next two watches fail with 410 Expired, and see what clients asked.
//! server.knobs().expire_next_watches(2);
//! println!("{:?}", server.counters().snapshot());
//!
//! // An in-memory backend for the runtime; pods run for two seconds when annotated
//! // `mock.vk.io/exit-after: "2s"`.
//! let provider = MockProvider::builder().seed(7).failure_rate(0.1).build();
//! // What its containers use, for `kubectl top` and HPAs: 250 millicores and 64 MiB.
//! provider.set_default_usage(Some(ContainerUsage::new(250, 64 << 20)));
//! # Ok(())
//! # }
//! ```
//!
//! The standalone binary runs the same server for kubectl and `vk-aci run`:
//! `cargo run -p vk-testing --features k8s-openapi/latest --bin fake-apiserver --
//! --kubeconfig /tmp/kc [--tls] [--controllers]`.
//!
//! # What the fake API server serves
//!
//! Discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/<g>/<v>`), namespaces, pods
//! (+`status`, `binding`, `eviction`; `log`, `exec`, `attach`, `portforward` proxied to the
//! node's kubelet), nodes (+`status`, `proxy`), `coordination.k8s.io/v1` leases, core/v1 and
//! `events.k8s.io/v1` events, secrets, configmaps, serviceaccounts (+`token`),
//! TokenReview, SubjectAccessReview, SelfSubjectAccessReview, `apps/v1` deployments and
//! replicasets (+`status`, `scale`), `certificates.k8s.io/v1` certificatesigningrequests
//! (+`status`, `approval`) with kube-controller-manager's `kubernetes.io/kubelet-serving`
//! signer: approved requests are signed by the fake cluster CA ([`FakeApiServer::ca_pem`]),
//! for [`FakeApiServerBuilder::csr_signing_duration`]; the `auto_approve_csrs` knob approves
//! them as they come; `autoscaling/v2` horizontalpodautoscalers (+`status`), also served
//! as `autoscaling/v1` (converted, as the API server does; `kubectl autoscale` 1.27 posts
//! v1), core/v1 services (ClusterIP from 10.96.0.0/12 and node ports allocated on create;
//! no traffic) with their endpoints and `discovery.k8s.io/v1` endpointslices, `batch/v1`
//! jobs (+`status`; generated selector and defaults). `default`, `kube-system`,
//! `kube-node-lease` and `kube-public` exist at start, each with a `default`
//! ServiceAccount, and `default` has the `kubernetes` Service (10.96.0.1).
//!
//! Bodies are JSON or Kubernetes protobuf (`application/vnd.kubernetes.protobuf`, the
//! `k8s\0` envelope, for every built-in kind served; answered in protobuf when `Accept`
//! asks for it first), YAML for apply patches. `/openapi/v3` documents carry the served
//! kinds' schemas from k8s-openapi (`kubectl explain`), and `fieldValidation=Strict`
//! (kubectl's default) refuses fields a kind does not declare; `Warn` answers with
//! `Warning` headers.
//!
//! With [`FakeApiServerBuilder::controllers`] the scheduler, the ReplicaSet, Deployment and
//! Job controllers and the EndpointSlice and Endpoints controllers run and record the
//! events their real counterparts record (`Scheduled`, `SuccessfulCreate`,
//! `ScalingReplicaSet`, `Completed`, `BackoffLimitExceeded`...); core/v1 and
//! `events.k8s.io/v1` events are one storage, so `kubectl describe` shows them all.
//!
//! With [`FakeApiServerBuilder::controllers`] (or
//! [`FakeApiServerBuilder::metrics_server`]) a metrics-server runs in the process: every
//! [`FakeApiServerBuilder::metric_resolution`] (15 s) it GETs each node's kubelet
//! `/metrics/resource` over HTTPS with the kubelet client certificate (node InternalIP and
//! `daemonEndpoints` port), decodes it as metrics-server v0.7 (each sample's own
//! timestamp; pods with an incomplete container and pods the API places elsewhere left
//! out; a node whose scrape fails left out, with a log line), keeps two points per node and
//! container and serves `metrics.k8s.io/v1beta1` `nodes` and `pods` (get, list, label and
//! field selectors, Tables): CPU is the rate between the two points, so usage appears
//! after the second scrape. `kubectl top pod|node` work. The controllers then include
//! kube-controller-manager's HorizontalPodAutoscaler controller
//! ([`FakeApiServerBuilder::hpa_sync_period`], 15 s): resource and container-resource
//! metrics (`Utilization`, `AverageValue`), tolerance 0.1, min/max, missing and unready
//! pods handled as upstream, `behavior` (stabilization windows, rate policies; default
//! scale-down window [`FakeApiServerBuilder::hpa_downscale_stabilization`], 5 min),
//! scaling Deployments and ReplicaSets through their scale, status and conditions
//! (`AbleToScale`, `ScalingActive`, `ScalingLimited`), `SuccessfulRescale` and failure
//! events.
//!
//! # Where it knowingly differs from a real API server
//!
//! - One version per group but `autoscaling` (v2 stored, v1 converted; v1's
//!   `autoscaling.alpha.kubernetes.io/*` annotations carry v2-shaped JSON) and `events`
//!   (core/v1 stored, `events.k8s.io/v1` converted); no aggregated discovery (clients
//!   asking for it get the plain documents and fall back).
//! - No validation beyond names, namespaces, kinds and resourceVersions; no defaulting
//!   beyond a few pod, namespace and workload fields; no admission.
//! - Authentication: the admin token and minted service-account tokens; a request without
//!   credentials is served as `system:anonymous` and every authenticated or anonymous
//!   request is allowed (the policy only answers SubjectAccessReviews).
//! - Protobuf watch streams are not served: a watch is answered in JSON whatever the
//!   `Accept` (client-go decodes by the answer's type). Protobuf objects are transcoded
//!   through JSON, so fields the JSON form of a kind lacks are dropped, and empty strings
//!   read as unset.
//! - kubectl sends no bearer token to a plain-HTTP server: there `kubectl auth can-i`
//!   asks as `system:anonymous` and is told no, as a real server would; use
//!   [`FakeApiServerBuilder::tls`].
//! - `dryRun` is rejected with 400; `resourceVersionMatch` and `resourceVersion` on list
//!   are ignored (lists always read the latest state); continue tokens never expire.
//! - Watches replay from an in-memory log of the last N events (builder
//!   `event_log_capacity`); an older resourceVersion gets an ERROR event with 410
//!   `Expired`, as a real server does. Bookmarks come every second when asked for.
//! - Field selectors accept any dotted field path (a real server accepts only a fixed set
//!   per resource and rejects others with 400).
//! - Strategic merge patch knows list merge keys by field name (`conditions`/`addresses`
//!   by `type`, `containers`/`env`/`volumes` by `name`, ...), not by type schema.
//!   Server-side apply tracks ownership per manager with FieldsV1 `managedFields`, detects
//!   conflicts and removes fields a manager stops applying; creates, updates and other
//!   patches record an `Update` entry for their manager (`fieldManager`, else the
//!   User-Agent's program name) owning the fields they changed.
//! - Deleting a namespace removes everything in it at once (no `Terminating` phase).
//!   Owner references are garbage-collected at once in the background style.
//! - The kubelet proxy passes WebSocket upgrades through unchanged: a real API server
//!   (1.30+) answers kubectl's WebSocket and speaks SPDY/3.1 to the kubelet, so a kubelet
//!   behind this fake sees WebSocket from kubectl 1.30+ and SPDY from older kubectl.
//! - OpenAPI: v2 is empty; v3 lists only PATCH operations (with `fieldValidation`, which
//!   tells kubectl the server validates) and the served kinds' schemas. Field validation
//!   only checks that fields are declared (no types, formats or enums).
//! - The optional controllers (builder `controllers(true)`) replace a Deployment's pods at
//!   once on a template change, and the scheduler only checks Ready, `unschedulable`,
//!   `nodeSelector` and taints. The Job controller has no pod failure or success
//!   policies, indexed completion, deadlines, retry backoff delay or TTL; one
//!   EndpointSlice per Service. Events are not aggregated (no `count` increments).
//! - Tables (`kubectl get`) have the usual columns for pods, nodes, deployments,
//!   services, endpoints, endpointslices, jobs, CSRs and
//!   horizontalpodautoscalers and NAME/AGE for the rest.
//! - metrics-server: it reaches every node at its InternalIP (metrics-server's default
//!   prefers the Hostname) without checking the kubelet's serving certificate (as with
//!   `--kubelet-insecure-tls`), with the API server's kubelet client certificate; no
//!   request staggering; `watch` on `metrics.k8s.io` is refused; no swap usage; served by
//!   the API server itself, not through an APIService (the group is in discovery only while
//!   metrics-server runs).
//! - The HPA controller syncs every HPA on one timer (upstream requeues each a sync period
//!   after its own last sync, the first one a period after it appears); `Pods`, `Object`
//!   and `External` metrics fail as on a cluster without the custom and external metrics
//!   APIs; the alpha per-rule `tolerance` is not read; StatefulSets are not served, so an
//!   HPA on one fails with `FailedGetScale`. HPAs are defaulted on create only (like every
//!   object here), not validated.
#![deny(missing_docs)]

pub mod binder;
pub mod fake_api;
pub mod harness;
pub mod kubectl;
pub mod kubelet_client;
pub mod mock_provider;
pub mod spdy_client;

pub use fake_api::{
    AccessPolicy, AccessRequest, Counters, FakeApiError, FakeApiServer, FakeApiServerBuilder, Knobs,
};
pub use harness::{Harness, HarnessBuilder, HarnessError};
pub use kubelet_client::kubelet_client_config;
pub use mock_provider::{ContainerUsage, MockCall, MockProvider, MockProviderBuilder};
