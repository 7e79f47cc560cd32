//! The REST handler: authentication, routing, then each verb (get, list, watch, create,
//! update, patch, apply, delete) on a resource, with the knobs and counters applied on the
//! way. The storage side of the writes is in `registry`.
use std::sync::Arc;

use http::{Method, Request, Response, header};
use hyper::body::Incoming;
use serde_json::Value;

use super::apply::record_update;
use super::auth::{self, User};
use super::body::{self, Body};
use super::conversion::Served;
use super::field_validation::{apply_field_validation, field_validation, with_warnings};
use super::list::{list, list_body};
use super::patch::PatchType;
use super::registry::{certificate_request_admission, create, patch_object, scale_of, update};
use super::request::{
    Query, delete_opts, field_manager, filter, header_str, parse_query, read_object, truthy,
};
use super::resources::{self, Resource, Storage, ids};
use super::routes::{self, ResourcePath, Route};
use super::state::State;
use super::status::ApiError;
use super::store::ObjKey;
use super::subresources::post_subresource;
use super::{discovery, events, metrics_api, openapi, proxy, table, watch};

/// Serve one request.
pub(crate) async fn handle(st: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let latency = st.knobs.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(secs) = st.knobs.take_throttle() {
        return body::error(&ApiError::too_many_requests(secs));
    }
    let accept = header_str(&req, header::ACCEPT);
    body::negotiating(&accept, async move {
        match route(st, req).await {
            Ok(resp) => resp,
            Err(e) => body::error(&e),
        }
    })
    .await
}

fn authenticate(st: &State, req: &Request<Incoming>) -> Result<User, ApiError> {
    let Some(h) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(User::anonymous());
    };
    let token = h
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(ApiError::unauthorized)?;
    st.auth
        .authenticate(token.trim(), st.clock.now().as_second())
        .ok_or_else(ApiError::unauthorized)
}

async fn route(st: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let user = authenticate(&st, &req)?;
    let path = req.uri().path().to_owned();
    let route = routes::parse(&path).ok_or_else(|| ApiError::no_route(&path))?;
    let get_only = |v: Value| {
        if req.method() == Method::GET {
            Ok(body::json(200, &v))
        } else {
            Err(ApiError::method_not_allowed(req.method().as_str()))
        }
    };
    match route {
        Route::Version => get_only(discovery::version()),
        Route::Health => {
            let mut r = Response::new(body::full("ok"));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain"),
            );
            Ok(r)
        }
        Route::CoreVersions => get_only(discovery::core_versions()),
        Route::CoreResources => get_only(discovery::resource_list("", "v1").unwrap_or_default()),
        Route::Groups => get_only(discovery::groups(st.metrics.is_some())),
        Route::Group(g) => match discovery::group(&g, st.metrics.is_some()) {
            Some(v) => get_only(v),
            None => Err(ApiError::no_route(&path)),
        },
        Route::GroupResources(g, v)
            if st.metrics.is_some() && g == metrics_api::GROUP && v == metrics_api::VERSION =>
        {
            get_only(metrics_api::resource_list())
        }
        Route::GroupResources(g, v) => match discovery::resource_list(&g, &v) {
            Some(v) => get_only(v),
            None => Err(ApiError::no_route(&path)),
        },
        Route::Metrics(mp) => match &st.metrics {
            Some(storage) => {
                let q = parse_query(req.uri().query());
                let accept = req
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                metrics_api::serve(
                    &st,
                    storage,
                    req.method(),
                    &mp,
                    &q,
                    table::wants_table(accept),
                )
            }
            None => Err(ApiError::no_route(&path)),
        },
        Route::OpenApiRoot => get_only(openapi::root()),
        Route::OpenApiV2 => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if accept.contains("protobuf") {
                // An empty protobuf message: a document with no paths and no definitions.
                let mut r = Response::new(body::full(bytes::Bytes::new()));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static(openapi::V2_PROTOBUF),
                );
                Ok(r)
            } else {
                get_only(openapi::v2_json())
            }
        }
        Route::OpenApiGroupVersion(gv) => match openapi::group_version(&gv) {
            Some(v) => get_only(v),
            None => Err(ApiError::no_route(&path)),
        },
        Route::Resource(rp) => {
            // As kube-apiserver 1.33 warns on every request for the deprecated kind.
            let deprecated = (rp.res == ids::endpoints()).then(|| {
                vec![
                    "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
                        .to_owned(),
                ]
            });
            let resp = resource(st, req, rp, user).await?;
            Ok(match deprecated {
                Some(w) => with_warnings(resp, &w),
                None => resp,
            })
        }
    }
}

async fn resource(
    st: Arc<State>,
    req: Request<Incoming>,
    rp: ResourcePath,
    user: User,
) -> Result<Response<Body>, ApiError> {
    let r = resources::get(rp.res);
    // Where the objects are stored, and how they convert when `r` is another version.
    let served = Served::of(rp.res);
    let sr = resources::get(served.storage);
    let mut q = parse_query(req.uri().query());
    if r.group == "events.k8s.io" {
        events_field_selector(&mut q);
    }
    let method = req.method().clone();
    if !r.namespaced && rp.ns.is_some() {
        return Err(ApiError::no_route(req.uri().path()));
    }
    if r.namespaced && rp.ns.is_none() && (rp.name.is_some() || method != Method::GET) {
        return Err(ApiError::no_route(req.uri().path()));
    }
    if q.contains_key("dryRun") {
        return Err(ApiError::bad_request(
            "dryRun is not supported by the fake API server",
        ));
    }
    let ns = rp.ns.clone().unwrap_or_default();
    let sub = rp.sub.as_deref();
    let manager = field_manager(&q, &req);

    // Proxied subresources go to the kubelet.
    if matches!(
        sub,
        Some("log" | "exec" | "attach" | "portforward" | "proxy")
    ) {
        return proxied(&st, req, &rp, r).await;
    }

    if r.storage == Storage::Review {
        return review(&st, r, req, &rp, &user).await;
    }

    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let want_table = table::wants_table(&accept);

    match (&method, rp.name.as_deref()) {
        (&Method::GET, None) => {
            if truthy(&q, "watch") || rp.legacy_watch {
                st.counters.hit("watch", r.plural);
                let filter = filter(rp.ns.clone(), &q)?;
                return watch::serve(&st, rp.res, served, filter, &q, want_table);
            }
            st.counters.hit("list", r.plural);
            list(&st, r, served, rp.ns.clone(), &q, want_table)
        }
        (&Method::GET, Some(name)) => get(&st, r, served, &rp, name, &q, want_table),
        (&Method::POST, None) => {
            st.counters.hit("create", r.plural);
            let v = read_object(req).await?;
            let warnings = field_validation(&q, r, None, &v)?;
            let mut v = served.stored(v);
            // Clients do not set managedFields on create (server-side apply does, through
            // the apply path).
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("managedFields");
            }
            record_update(None, &mut v, &manager, None, sr, &st.store.now_string());
            if rp.res == ids::certificate_signing_requests() {
                certificate_request_admission(r, &mut v, &user)?;
            }
            create(&st, sr, served.storage, &ns, v)
                .map(|o| with_warnings(body::json(201, &served.out(o)), &warnings))
        }
        (&Method::POST, Some(name)) => {
            st.counters.hit("create", &r.counter_name(sub));
            let v = read_object(req).await?;
            post_subresource(&st, r, &rp, &ns, name, v)
        }
        (&Method::PUT, Some(name)) => {
            st.counters.hit("update", &r.counter_name(sub));
            write_fault(&st, r, sub, name)?;
            let v = read_object(req).await?;
            let warnings = field_validation(&q, r, sub, &v)?;
            let v = served.stored(v);
            update(&st, sr, served.storage, &ns, name, sub, v, &manager).map(|o| {
                let o = if sub == Some("scale") {
                    o
                } else {
                    served.out(o)
                };
                with_warnings(body::json(200, &o), &warnings)
            })
        }
        (&Method::PATCH, Some(name)) => {
            st.counters.hit("patch", &r.counter_name(sub));
            write_fault(&st, r, sub, name)?;
            let ct = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let pt = PatchType::from_content_type(&ct)?;
            let v = body::parse(&body::read(req.into_body()).await?, pt == PatchType::Apply)?;
            let warnings = if pt == PatchType::Apply {
                apply_field_validation(&q, r, sub, &ns, name, &v)?
            } else {
                Vec::new()
            };
            patch_object(&st, sr, served, &ns, name, sub, pt, &v, &q, &manager)
                .map(|resp| with_warnings(resp, &warnings))
        }
        (&Method::DELETE, Some(name)) => {
            st.counters.hit("delete", r.plural);
            write_fault(&st, r, None, name)?;
            let opts = delete_opts(&q, req).await?;
            let obj = st
                .store
                .delete(&ObjKey::new(served.storage, &ns, name), &opts)?;
            Ok(body::json(200, &served.out(obj)))
        }
        (&Method::DELETE, None) => delete_collection(&st, r, served, &rp, &q, req).await,
        _ => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

/// A subresource served by the node's kubelet (`log`, `exec`, `attach`, `portforward`,
/// `proxy`), forwarded there.
async fn proxied(
    st: &Arc<State>,
    req: Request<Incoming>,
    rp: &ResourcePath,
    r: &Resource,
) -> Result<Response<Body>, ApiError> {
    let verb = if req.method() == Method::GET {
        "get"
    } else {
        "create"
    };
    st.counters.hit(verb, &r.counter_name(rp.sub.as_deref()));
    proxy::forward(st, req, rp, r).await
}

/// Rewrite an `events.k8s.io/v1` field selector for the stored core/v1 Events.
fn events_field_selector(q: &mut Query) {
    if let Some(fs) = q.get_mut("fieldSelector") {
        *fs = fs
            .split(',')
            .map(events::core_field_path)
            .collect::<Vec<_>>()
            .join(",");
    }
}

/// POST of a review (TokenReview, SubjectAccessReview, SelfSubjectAccessReview): answered,
/// never stored.
async fn review(
    st: &State,
    r: &Resource,
    req: Request<Incoming>,
    rp: &ResourcePath,
    user: &User,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::POST || rp.name.is_some() {
        return Err(ApiError::method_not_allowed(req.method().as_str()));
    }
    st.counters.hit("create", r.plural);
    let v = read_object(req).await?;
    let now = st.clock.now().as_second();
    let out = match r.plural {
        "tokenreviews" => st.auth.review_token(&v, now),
        "selfsubjectaccessreviews" => auth::review_access(&st.knobs, &v, Some(user)),
        _ => auth::review_access(&st.knobs, &v, None),
    };
    Ok(body::json(201, &out))
}

/// GET of one object (or its `scale`), as a Table when asked; a legacy `/watch/` path
/// watches it instead.
fn get(
    st: &Arc<State>,
    r: &Resource,
    served: Served,
    rp: &ResourcePath,
    name: &str,
    q: &Query,
    want_table: bool,
) -> Result<Response<Body>, ApiError> {
    let ns = rp.ns.clone().unwrap_or_default();
    let sub = rp.sub.as_deref();
    st.counters.hit("get", &r.counter_name(sub));
    if rp.legacy_watch {
        let mut q = q.clone();
        q.insert("fieldSelector".into(), format!("metadata.name={name}"));
        let filter = filter(rp.ns.clone(), &q)?;
        return watch::serve(st, rp.res, served, filter, &q, want_table);
    }
    let obj = st
        .store
        .get(&ObjKey::new(served.storage, &ns, name))
        .ok_or_else(|| ApiError::not_found(r, name))?;
    let obj = if sub == Some("scale") {
        scale_of(&obj)
    } else {
        served.out(obj)
    };
    if want_table && sub.is_none() {
        let rv = obj["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        return Ok(body::json(
            200,
            &table::table(r, &[obj], &rv, None, st.clock.now(), true),
        ));
    }
    Ok(body::json(200, &obj))
}

/// DELETE of a collection: every selected object, deleted as one DELETE each.
async fn delete_collection(
    st: &State,
    r: &Resource,
    served: Served,
    rp: &ResourcePath,
    q: &Query,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    st.counters.hit("deletecollection", r.plural);
    let opts = delete_opts(q, req).await?;
    let f = filter(rp.ns.clone(), q)?;
    let (items, rv, _, _) = st.store.list(served.storage, &f, None, None);
    let mut deleted = Vec::new();
    for o in items {
        let key = ObjKey::new(
            served.storage,
            o["metadata"]["namespace"].as_str().unwrap_or_default(),
            o["metadata"]["name"].as_str().unwrap_or_default(),
        );
        if let Ok(d) = st.store.delete(&key, &opts) {
            deleted.push(served.out(d));
        }
    }
    Ok(body::json(200, &list_body(r, deleted, rv, None, None)))
}

fn write_fault(st: &State, r: &Resource, sub: Option<&str>, name: &str) -> Result<(), ApiError> {
    if st.knobs.take_conflict(&r.counter_name(sub))
        || (sub.is_some() && st.knobs.take_conflict(r.plural))
    {
        return Err(ApiError::stale(r, name));
    }
    Ok(())
}
