//! Request paths parsed into what they name: discovery documents or a resource, its
//! namespace, name and subresource.
use super::metrics_api::{self, MetricsPath};
use super::resources::{self, ResId};

/// What a request path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/version`.
    Version,
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/api`.
    CoreVersions,
    /// `/api/v1`.
    CoreResources,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/apis/{group}/{version}`.
    GroupResources(String, String),
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiRoot,
    /// `/openapi/v3/{api/v1 | apis/g/v}`.
    OpenApiGroupVersion(String),
    /// A resource, collection or subresource.
    Resource(ResourcePath),
    /// Under `/apis/metrics.k8s.io/v1beta1/`.
    Metrics(MetricsPath),
}

/// A resource path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    /// The resource.
    pub res: ResId,
    /// The namespace in the path, if any.
    pub ns: Option<String>,
    /// The object name, if any.
    pub name: Option<String>,
    /// The subresource, if any.
    pub sub: Option<String>,
    /// What follows `proxy/` in a proxy path.
    pub rest: String,
    /// The legacy `/watch/` prefix was used.
    pub legacy_watch: bool,
}

/// Parse a path; `None` for paths the fake does not serve.
pub(crate) fn parse(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["version"] => return Some(Route::Version),
        ["healthz" | "livez" | "readyz", ..] => return Some(Route::Health),
        ["api"] => return Some(Route::CoreVersions),
        ["openapi", "v2"] => return Some(Route::OpenApiV2),
        ["openapi", "v3"] => return Some(Route::OpenApiRoot),
        ["openapi", "v3", rest @ ..] => return Some(Route::OpenApiGroupVersion(rest.join("/"))),
        ["api", "v1"] => return Some(Route::CoreResources),
        ["apis"] => return Some(Route::Groups),
        ["apis", g] => return Some(Route::Group((*g).to_owned())),
        ["apis", g, v] => return Some(Route::GroupResources((*g).to_owned(), (*v).to_owned())),
        ["apis", metrics_api::GROUP, metrics_api::VERSION, rest @ ..] => {
            return metrics_api::parse(rest).map(Route::Metrics);
        }
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return None,
    };
    let (legacy_watch, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    let find = |plural: &str| resources::find(group, version, plural);
    let namespaces_in_group = group.is_empty();
    let (ns, rest): (Option<String>, &[&str]) = match rest {
        ["namespaces", ns, plural, r @ ..] if namespaces_in_group || find(plural).is_some() => {
            match find(plural) {
                Some(id) if resources::get(id).namespaced => {
                    let mut v = vec![*plural];
                    v.extend_from_slice(r);
                    return build(id, Some((*ns).to_owned()), &v[1..], legacy_watch);
                }
                // `namespaces/{name}/status` and the like.
                _ => (None, rest),
            }
        }
        r => (None, r),
    };
    let (plural, tail) = rest.split_first()?;
    let id = find(plural)?;
    build(id, ns, tail, legacy_watch)
}

fn build(id: ResId, ns: Option<String>, tail: &[&str], legacy_watch: bool) -> Option<Route> {
    let (name, sub, rest) = match tail {
        [] => (None, None, String::new()),
        [name] => (Some((*name).to_owned()), None, String::new()),
        [name, sub, r @ ..] => {
            if *sub != "proxy" && !r.is_empty() {
                return None;
            }
            (
                Some((*name).to_owned()),
                Some((*sub).to_owned()),
                r.join("/"),
            )
        }
    };
    if let Some(s) = &sub
        && !resources::get(id).has_subresource(s)
    {
        return None;
    }
    if name.as_deref() == Some("") {
        return None;
    }
    Some(Route::Resource(ResourcePath {
        res: id,
        ns,
        name,
        sub,
        rest,
        legacy_watch,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::resources::ids;
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(path) {
            Some(Route::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_parse_into_resource_namespace_name_and_subresource() {
        let r = res("/api/v1/namespaces/default/pods/web/log");
        assert_eq!(r.res, ids::pods());
        assert_eq!(r.ns.as_deref(), Some("default"));
        assert_eq!(r.name.as_deref(), Some("web"));
        assert_eq!(r.sub.as_deref(), Some("log"));

        let r = res("/api/v1/namespaces/kube-system");
        assert_eq!(r.res, ids::namespaces());
        assert_eq!(r.name.as_deref(), Some("kube-system"));

        let r = res("/api/v1/namespaces/kube-system/status");
        assert_eq!(r.res, ids::namespaces());
        assert_eq!(r.sub.as_deref(), Some("status"));

        let r = res("/api/v1/pods");
        assert_eq!((r.ns, r.name), (None, None));

        let r = res("/api/v1/nodes/n1/proxy/stats/summary");
        assert_eq!(r.rest, "stats/summary");

        let r = res("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1");
        assert_eq!(r.name.as_deref(), Some("n1"));

        let r = res("/api/v1/watch/namespaces/default/pods");
        assert!(r.legacy_watch);

        assert_eq!(
            parse("/apis/apps/v1"),
            Some(Route::GroupResources("apps".into(), "v1".into()))
        );
        assert!(matches!(
            parse("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods"),
            Some(Route::Metrics(_))
        ));
        assert_eq!(
            parse("/apis/metrics.k8s.io/v1beta1"),
            Some(Route::GroupResources(
                "metrics.k8s.io".into(),
                "v1beta1".into()
            ))
        );
        assert_eq!(
            res("/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web/status")
                .sub
                .as_deref(),
            Some("status")
        );
        assert!(parse("/api/v1/widgets").is_none());
        assert!(parse("/api/v1/namespaces/default/pods/a/nope").is_none());
    }
}
