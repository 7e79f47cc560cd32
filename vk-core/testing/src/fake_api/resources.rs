//! The table of resources the fake API server serves: one row per kind.

/// How a resource is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    /// Stored objects with the full set of verbs.
    Stored,
    /// Create-only reviews answered on the spot and never stored.
    Review,
}

/// One row of the resource table.
#[derive(Debug)]
pub(crate) struct Resource {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind, e.g. `Pod`.
    pub kind: &'static str,
    /// Plural resource name used in paths, e.g. `pods`.
    pub plural: &'static str,
    /// Lower-case singular name.
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Subresources served, e.g. `status`, `log`.
    pub subresources: &'static [&'static str],
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Stored or review.
    pub storage: Storage,
}

impl Resource {
    /// `apiVersion` of this resource's objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether the subresource `sub` exists.
    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.contains(&sub)
    }

    /// The resource name used for counters: `pods` or `pods/status`.
    pub fn counter_name(&self, sub: Option<&str>) -> String {
        match sub {
            Some(s) => format!("{}/{s}", self.plural),
            None => self.plural.to_owned(),
        }
    }
}

const STORED_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const REVIEW_VERBS: &[&str] = &["create"];

impl Resource {
    /// Verbs advertised in discovery.
    pub fn verbs(&self) -> &'static [&'static str] {
        match self.storage {
            Storage::Stored => STORED_VERBS,
            Storage::Review => REVIEW_VERBS,
        }
    }
}

macro_rules! res {
    ($g:expr, $v:expr, $kind:expr, $plural:expr, $singular:expr, $ns:expr, $subs:expr, $short:expr) => {
        Resource {
            group: $g,
            version: $v,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: $ns,
            subresources: $subs,
            short_names: $short,
            storage: Storage::Stored,
        }
    };
}

/// Every resource served, in discovery order.
pub(crate) static RESOURCES: &[Resource] = &[
    res!(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        false,
        &["status"],
        &["ns"]
    ),
    res!(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        true,
        &[
            "status",
            "log",
            "exec",
            "attach",
            "portforward",
            "proxy",
            "binding",
            "eviction"
        ],
        &["po"]
    ),
    res!(
        "",
        "v1",
        "Node",
        "nodes",
        "node",
        false,
        &["status", "proxy"],
        &["no"]
    ),
    res!("", "v1", "Event", "events", "event", true, &[], &["ev"]),
    res!("", "v1", "Secret", "secrets", "secret", true, &[], &[]),
    res!(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        true,
        &[],
        &["cm"]
    ),
    res!(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        true,
        &["status"],
        &["pvc"]
    ),
    res!(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        "persistentvolume",
        false,
        &["status"],
        &["pv"]
    ),
    res!(
        "",
        "v1",
        "Service",
        "services",
        "service",
        true,
        &["status"],
        &["svc"]
    ),
    res!(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        "endpoints",
        true,
        &[],
        &["ep"]
    ),
    res!(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        true,
        &["token"],
        &["sa"]
    ),
    res!(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        true,
        &[],
        &[]
    ),
    res!(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        "event",
        true,
        &[],
        &["ev"]
    ),
    res!(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        true,
        &["status", "scale"],
        &["deploy"]
    ),
    res!(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        true,
        &["status", "scale"],
        &["rs"]
    ),
    res!("batch", "v1", "Job", "jobs", "job", true, &["status"], &[]),
    res!(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        true,
        &[],
        &[]
    ),
    // autoscaling/v2 is the stored (and preferred) version; v1 objects are converted
    // (see `conversion`).
    res!(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        true,
        &["status"],
        &["hpa"]
    ),
    res!(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        true,
        &["status"],
        &["hpa"]
    ),
    res!(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        "certificatesigningrequest",
        false,
        &["status", "approval"],
        &["csr"]
    ),
    Resource {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "TokenReview",
        plural: "tokenreviews",
        singular: "tokenreview",
        namespaced: false,
        subresources: &[],
        short_names: &[],
        storage: Storage::Review,
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SubjectAccessReview",
        plural: "subjectaccessreviews",
        singular: "subjectaccessreview",
        namespaced: false,
        subresources: &[],
        short_names: &[],
        storage: Storage::Review,
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        namespaced: false,
        subresources: &[],
        short_names: &[],
        storage: Storage::Review,
    },
];

/// Index of a resource in [`RESOURCES`].
pub(crate) type ResId = usize;

/// Find a resource by group, version and plural.
pub(crate) fn find(group: &str, version: &str, plural: &str) -> Option<ResId> {
    RESOURCES
        .iter()
        .position(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The row of `id`.
pub(crate) fn get(id: ResId) -> &'static Resource {
    &RESOURCES[id]
}

/// Groups (other than core) with their versions, the preferred (stored) one first, in
/// discovery order.
pub(crate) fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// Well-known ids used by the server itself.
pub(crate) mod ids {
    use crate::fake_api::resources::{ResId, find};

    /// `namespaces`.
    pub fn namespaces() -> ResId {
        find("", "v1", "namespaces").expect("namespaces are in the table")
    }
    /// `pods`.
    pub fn pods() -> ResId {
        find("", "v1", "pods").expect("pods are in the table")
    }
    /// `nodes`.
    pub fn nodes() -> ResId {
        find("", "v1", "nodes").expect("nodes are in the table")
    }
    /// `serviceaccounts`.
    pub fn service_accounts() -> ResId {
        find("", "v1", "serviceaccounts").expect("serviceaccounts are in the table")
    }
    /// `replicasets`.
    pub fn replica_sets() -> ResId {
        find("apps", "v1", "replicasets").expect("replicasets are in the table")
    }
    /// `certificatesigningrequests`.
    pub fn certificate_signing_requests() -> ResId {
        find("certificates.k8s.io", "v1", "certificatesigningrequests")
            .expect("certificatesigningrequests are in the table")
    }
    /// `deployments`.
    pub fn deployments() -> ResId {
        find("apps", "v1", "deployments").expect("deployments are in the table")
    }
    /// core/v1 `events`.
    pub fn events() -> ResId {
        find("", "v1", "events").expect("events are in the table")
    }
    /// `horizontalpodautoscalers`, in their stored version (`autoscaling/v2`).
    pub fn horizontal_pod_autoscalers() -> ResId {
        find("autoscaling", "v2", "horizontalpodautoscalers")
            .expect("horizontalpodautoscalers are in the table")
    }
    /// `services`.
    pub fn services() -> ResId {
        find("", "v1", "services").expect("services are in the table")
    }
    /// core/v1 `endpoints`.
    pub fn endpoints() -> ResId {
        find("", "v1", "endpoints").expect("endpoints are in the table")
    }
    /// `endpointslices`.
    pub fn endpoint_slices() -> ResId {
        find("discovery.k8s.io", "v1", "endpointslices").expect("endpointslices are in the table")
    }
    /// `jobs`.
    pub fn jobs() -> ResId {
        find("batch", "v1", "jobs").expect("jobs are in the table")
    }
}
