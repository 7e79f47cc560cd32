//! The REST verbs: request dispatch, then get, list, create, update, patch, apply and
//! delete on the store, with the knobs and counters applied on the way.
use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{Method, Request, Response, header};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::apply::{ApplyRequest, apply, record_update};
use super::auth::{self, User};
use super::body::{self, Body};
use super::conversion::Served;
use super::patch::{self, PatchType};
use super::resources::{self, Resource, Storage, ids};
use super::routes::{self, ResourcePath, Route};
use super::selectors::{FieldSelector, LabelSelector};
use super::state::State;
use super::status::ApiError;
use super::store::{DeleteOpts, Filter, ObjKey, new_uid};
use super::{
    defaults, discovery, events, jobs, metrics_api, openapi, openapi_schemas, proxy, services,
    table, watch,
};

/// Query parameters, last value wins (repeated `command=` is read by the proxy itself).
pub(crate) type Query = HashMap<String, String>;

fn parse_query(q: Option<&str>) -> Query {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn truthy(q: &Query, k: &str) -> bool {
    matches!(q.get(k).map(String::as_str), Some("true" | "1"))
}

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

fn header_str<B>(req: &Request<B>, name: header::HeaderName) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Read a request's body as the object it carries (protobuf or JSON).
async fn read_object(req: Request<Incoming>) -> Result<Value, ApiError> {
    let ct = header_str(&req, header::CONTENT_TYPE);
    body::object(&body::read(req.into_body()).await?, &ct)
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
    if r.group == "events.k8s.io"
        && let Some(fs) = q.get_mut("fieldSelector")
    {
        // Selectors name events.k8s.io fields; the stored objects are core/v1 Events.
        *fs = fs
            .split(',')
            .map(events::core_field_path)
            .collect::<Vec<_>>()
            .join(",");
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
        let verb = if method == Method::GET {
            "get"
        } else {
            "create"
        };
        st.counters.hit(verb, &r.counter_name(sub));
        return proxy::forward(&st, req, &rp, r).await;
    }

    if r.storage == Storage::Review {
        if method != Method::POST || rp.name.is_some() {
            return Err(ApiError::method_not_allowed(method.as_str()));
        }
        st.counters.hit("create", r.plural);
        let v = read_object(req).await?;
        let now = st.clock.now().as_second();
        let out = match r.plural {
            "tokenreviews" => st.auth.review_token(&v, now),
            "selfsubjectaccessreviews" => auth::review_access(&st.knobs, &v, Some(&user)),
            _ => auth::review_access(&st.knobs, &v, None),
        };
        return Ok(body::json(201, &out));
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
        (&Method::GET, Some(name)) => {
            st.counters.hit("get", &r.counter_name(sub));
            if rp.legacy_watch {
                let mut q = q.clone();
                q.insert("fieldSelector".into(), format!("metadata.name={name}"));
                let filter = filter(rp.ns.clone(), &q)?;
                return watch::serve(&st, rp.res, served, filter, &q, want_table);
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
        (&Method::DELETE, None) => {
            st.counters.hit("deletecollection", r.plural);
            let opts = delete_opts(&q, req).await?;
            let f = filter(rp.ns.clone(), &q)?;
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
        _ => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

/// The fields of `v` (an object of `r`, or of its `scale`) that its schema does not
/// declare, judged as `fieldValidation` asks: `Strict` refuses the request as the API
/// server's strict decoding does, `Ignore` lets them be, `Warn` (the default) returns them
/// as warnings.
fn field_validation(
    q: &Query,
    r: &Resource,
    sub: Option<&str>,
    v: &Value,
) -> Result<Vec<String>, ApiError> {
    let mode = q.get("fieldValidation").map_or("Warn", String::as_str);
    if mode == "Ignore" {
        return Ok(Vec::new());
    }
    let (group, version, kind) = match sub {
        Some("scale") => ("autoscaling", "v1", "Scale"),
        _ => (r.group, r.version, r.kind),
    };
    let unknown = openapi_schemas::unknown_fields(group, version, kind, v).unwrap_or_default();
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let listed: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    if mode == "Strict" {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            listed.join(", ")
        )));
    }
    Ok(listed)
}

/// [`field_validation`] of a server-side apply body, worded as the apply path words it.
fn apply_field_validation(
    q: &Query,
    r: &Resource,
    sub: Option<&str>,
    ns: &str,
    name: &str,
    v: &Value,
) -> Result<Vec<String>, ApiError> {
    let mut lenient = q.clone();
    lenient.insert("fieldValidation".into(), "Warn".into());
    let unknown = field_validation(&lenient, r, sub, v)?;
    if unknown.is_empty() || q.get("fieldValidation").map(String::as_str) != Some("Strict") {
        return Ok(unknown);
    }
    let fields: Vec<String> = openapi_schemas::unknown_fields(r.group, r.version, r.kind, v)
        .unwrap_or_default()
        .iter()
        .map(|f| format!(".{f}: field not declared in schema"))
        .collect();
    let object = if ns.is_empty() {
        name.to_owned()
    } else {
        format!("{ns}/{name}")
    };
    Err(ApiError::bad_request(format!(
        "failed to create typed patch object ({object}; {}, Kind={}): {}",
        r.api_version(),
        r.kind,
        fields.join("\n")
    )))
}

/// `resp` with a `Warning: 299 - "..."` header per warning, as the API server sends them.
fn with_warnings(mut resp: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = http::HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

/// The field manager of a write: `fieldManager`, else the User-Agent's program name, as
/// the API server derives it.
fn field_manager(q: &Query, req: &Request<Incoming>) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|m| !m.is_empty())
        .unwrap_or("unknown")
        .to_owned()
}

fn write_fault(st: &State, r: &Resource, sub: Option<&str>, name: &str) -> Result<(), ApiError> {
    if st.knobs.take_conflict(&r.counter_name(sub))
        || (sub.is_some() && st.knobs.take_conflict(r.plural))
    {
        return Err(ApiError::stale(r, name));
    }
    Ok(())
}

pub(crate) fn filter(ns: Option<String>, q: &Query) -> Result<Filter, ApiError> {
    Ok(Filter {
        ns,
        labels: LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?,
        fields: FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))?,
    })
}

fn list_body(
    r: &Resource,
    items: Vec<Value>,
    rv: u64,
    cont: Option<String>,
    remaining: Option<usize>,
) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    if let Some(n) = remaining {
        meta["remainingItemCount"] = json!(n);
    }
    json!({
        "kind": format!("{}List", r.kind),
        "apiVersion": r.api_version(),
        "metadata": meta,
        "items": items,
    })
}

fn list(
    st: &State,
    r: &Resource,
    served: Served,
    ns: Option<String>,
    q: &Query,
    want_table: bool,
) -> Result<Response<Body>, ApiError> {
    let f = filter(ns, q)?;
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let after = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => {
            let raw = STANDARD
                .decode(c)
                .map_err(|_| ApiError::bad_request("invalid continue token"))?;
            let v: Value = serde_json::from_slice(&raw)
                .map_err(|_| ApiError::bad_request("invalid continue token"))?;
            Some((
                v["ns"].as_str().unwrap_or_default().to_owned(),
                v["name"].as_str().unwrap_or_default().to_owned(),
            ))
        }
        None => None,
    };
    let (items, rv, next, remaining) = st.store.list(served.storage, &f, after.as_ref(), limit);
    let items: Vec<Value> = items.into_iter().map(|o| served.out(o)).collect();
    let cont = next.map(|(ns, name)| STANDARD.encode(json!({"ns": ns, "name": name}).to_string()));
    let remaining = cont.as_ref().map(|_| remaining);
    if want_table {
        return Ok(body::json(
            200,
            &table::table(
                r,
                &items,
                &rv.to_string(),
                cont.as_deref(),
                st.clock.now(),
                true,
            ),
        ));
    }
    Ok(body::json(200, &list_body(r, items, rv, cont, remaining)))
}

/// What the API server does to a new CertificateSigningRequest: the requester's identity
/// goes into the spec, a signer name is required and lifetimes under ten minutes refused.
fn certificate_request_admission(r: &Resource, v: &mut Value, user: &User) -> Result<(), ApiError> {
    let name = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if v.pointer("/spec/signerName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::invalid(
            r,
            &name,
            "spec.signerName: Required value",
        ));
    }
    if let Some(secs) = v.pointer("/spec/expirationSeconds").and_then(Value::as_i64)
        && secs < 600
    {
        return Err(ApiError::invalid(
            r,
            &name,
            &format!(
                "spec.expirationSeconds: Invalid value: {secs}: may not specify a duration less than 600 seconds (10 minutes)"
            ),
        ));
    }
    if !v["spec"].is_object() {
        return Err(ApiError::bad_request("spec is required"));
    }
    v["spec"]["username"] = json!(user.name);
    v["spec"]["uid"] = json!(user.uid);
    v["spec"]["groups"] = json!(user.groups);
    if let Some(s) = v.as_object_mut() {
        s.remove("status");
    }
    Ok(())
}

/// Create an object with defaults and side effects (a namespace gets its `default`
/// service account).
pub(crate) fn create(
    st: &State,
    r: &Resource,
    res: resources::ResId,
    ns: &str,
    mut v: Value,
) -> Result<Value, ApiError> {
    if !v.is_object() {
        return Err(ApiError::bad_request("the request body must be an object"));
    }
    if let Some(kind) = v.get("kind").and_then(Value::as_str)
        && kind != r.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind {kind} does not match the resource {}",
            r.plural
        )));
    }
    if r.namespaced {
        match v.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
    }
    defaults::on_create(r.plural, &mut v);
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("uid");
    }
    match r.plural {
        "services" => services::admit(st, r, &mut v)?,
        "jobs" => {
            // The generated selector names the Job's UID, so it is chosen here.
            let uid = new_uid();
            jobs::admit(r, &mut v, &uid)?;
            v["metadata"]["uid"] = json!(uid);
        }
        _ => {}
    }
    let created = st.store.create(res, ns, v)?;
    if res == ids::namespaces() {
        let name = created["metadata"]["name"].as_str().unwrap_or_default();
        let sa =
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
        let _ = st.store.create(ids::service_accounts(), name, sa);
    }
    Ok(created)
}

fn check_rv(r: &Resource, name: &str, cur: &Value, new: &Value) -> Result<(), ApiError> {
    match new
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    {
        Some(rv) if !rv.is_empty() && Some(rv) != cur["metadata"]["resourceVersion"].as_str() => {
            Err(ApiError::stale(r, name))
        }
        _ => Ok(()),
    }
}

/// The new object of a write to `sub`: the main resource keeps the stored status when
/// status is a subresource; `status` takes only the status; `scale` only the replicas.
fn scoped(r: &Resource, sub: Option<&str>, cur: &Value, mut new: Value) -> Value {
    match sub {
        None if r.has_subresource("status") => {
            if let Some(m) = new.as_object_mut() {
                match cur.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
            new
        }
        // The approval subresource only writes the conditions.
        Some("approval") => {
            let mut out = cur.clone();
            if !out["status"].is_object() {
                out["status"] = json!({});
            }
            match new.pointer("/status/conditions") {
                Some(c) => out["status"]["conditions"] = c.clone(),
                None => {
                    if let Some(s) = out["status"].as_object_mut() {
                        s.remove("conditions");
                    }
                }
            }
            out
        }
        Some("status") => {
            let mut out = cur.clone();
            if let Some(m) = out.as_object_mut() {
                match new.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
            out
        }
        _ => new,
    }
}

fn scale_of(obj: &Value) -> Value {
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "uid": obj["metadata"]["uid"],
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "creationTimestamp": obj["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector_string(obj.pointer("/spec/selector")),
        },
    })
}

fn selector_string(sel: Option<&Value>) -> String {
    sel.and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// Replace an object (or its `status` or `scale`) as PUT does, with optimistic
/// concurrency on `metadata.resourceVersion` when the body has one.
#[allow(clippy::too_many_arguments)] // one argument per part of the request
pub(crate) fn update(
    st: &State,
    r: &Resource,
    res: resources::ResId,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    v: Value,
    manager: &str,
) -> Result<Value, ApiError> {
    let now = st.store.now_string();
    if let Some(n) = v.pointer("/metadata/name").and_then(Value::as_str)
        && n != name
    {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    let key = ObjKey::new(res, ns, name);
    let out = st.store.modify(&key, |cur| {
        check_rv(r, name, cur, &v)?;
        if sub == Some("scale") {
            let mut out = cur.clone();
            out["spec"]["replicas"] = v.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            return Ok(out);
        }
        let mut new = scoped(r, sub, cur, v);
        record_update(Some(cur), &mut new, manager, sub, r, &now);
        Ok(new)
    })?;
    Ok(if sub == Some("scale") {
        scale_of(&out)
    } else {
        out
    })
}

#[allow(clippy::too_many_arguments)] // one argument per part of the request
fn patch_object(
    st: &State,
    r: &Resource,
    served: Served,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    pt: PatchType,
    v: &Value,
    q: &Query,
    updater: &str,
) -> Result<Response<Body>, ApiError> {
    let res = served.storage;
    let key = ObjKey::new(res, ns, name);
    if pt == PatchType::Apply {
        let manager = q
            .get("fieldManager")
            .cloned()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request("PATCH with apply-patch+yaml requires a fieldManager")
            })?;
        let now = st.store.now_string();
        let areq = ApplyRequest {
            applied: v,
            manager: &manager,
            force: truthy(q, "force"),
            subresource: sub,
            resource: r,
            name,
            now: &now,
        };
        return match st.store.modify(&key, |cur| {
            check_rv(r, name, cur, v)?;
            apply(Some(&served.out(cur.clone())), &areq).map(|o| served.stored(o))
        }) {
            Ok(o) => Ok(body::json(200, &served.out(o))),
            Err(e) if e.code == 404 && sub.is_none() => {
                let mut obj = served.stored(apply(None, &areq)?);
                obj["metadata"]["name"] = json!(name);
                create(st, r, res, ns, obj).map(|o| body::json(201, &served.out(o)))
            }
            Err(e) => Err(e),
        };
    }
    let out = st.store.modify(&key, |cur| {
        let mut base = if sub == Some("scale") {
            scale_of(cur)
        } else {
            served.out(cur.clone())
        };
        match pt {
            PatchType::Merge => patch::merge(&mut base, v),
            PatchType::Strategic => patch::strategic(&mut base, v),
            PatchType::Json => patch::json_patch(&mut base, v)?,
            PatchType::Apply => {}
        }
        check_rv(r, name, cur, &base)?;
        // (`r` is the stored version: a converted view is not checked against it.)
        if !served.converts() && q.get("fieldValidation").map(String::as_str) == Some("Strict") {
            field_validation(q, r, sub, &base)?;
        }
        if sub == Some("scale") {
            let mut out = cur.clone();
            out["spec"]["replicas"] = base.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
            return Ok(out);
        }
        let mut new = scoped(r, sub, cur, served.stored(base));
        record_update(Some(cur), &mut new, updater, sub, r, &st.store.now_string());
        Ok(new)
    })?;
    let out = if sub == Some("scale") {
        scale_of(&out)
    } else {
        served.out(out)
    };
    Ok(body::json(200, &out))
}

async fn delete_opts(q: &Query, req: Request<Incoming>) -> Result<DeleteOpts, ApiError> {
    let ct = header_str(&req, header::CONTENT_TYPE);
    let bytes = body::read(req.into_body()).await?;
    let v: Value = if bytes.is_empty() {
        json!({})
    } else {
        body::object(&bytes, &ct)?
    };
    let grace = v
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    let policy = v
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| q.get("propagationPolicy").cloned());
    let orphan =
        policy.as_deref() == Some("Orphan") || v.get("orphanDependents") == Some(&json!(true));
    Ok(DeleteOpts {
        grace,
        uid: v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        rv: v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
        orphan,
    })
}

fn success(details: Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201, "details": details})
}

fn post_subresource(
    st: &State,
    r: &Resource,
    rp: &ResourcePath,
    ns: &str,
    name: &str,
    v: Value,
) -> Result<Response<Body>, ApiError> {
    match (r.plural, rp.sub.as_deref()) {
        ("serviceaccounts", Some("token")) => {
            let sa = st
                .store
                .get(&ObjKey::new(rp.res, ns, name))
                .ok_or_else(|| ApiError::not_found(r, name))?;
            let audiences: Vec<String> = v
                .pointer("/spec/audiences")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let secs = v
                .pointer("/spec/expirationSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(3600)
                .max(600);
            let now = st.clock.now();
            let (token, exp) = st.auth.mint(
                ns,
                name,
                sa["metadata"]["uid"].as_str().unwrap_or_default(),
                audiences.clone(),
                now.as_second(),
                secs,
            );
            let exp_ts = jiff::Timestamp::from_second(exp)
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            let auds = if audiences.is_empty() {
                vec![auth::API_AUDIENCE.to_owned()]
            } else {
                audiences
            };
            let mut spec = v.get("spec").cloned().unwrap_or_else(|| json!({}));
            spec["audiences"] = json!(auds);
            spec["expirationSeconds"] = json!(secs);
            Ok(body::json(
                201,
                &json!({
                    "kind": "TokenRequest",
                    "apiVersion": "authentication.k8s.io/v1",
                    "metadata": {"name": name, "namespace": ns, "creationTimestamp": st.store.now_string()},
                    "spec": spec,
                    "status": {"token": token, "expirationTimestamp": exp_ts},
                }),
            ))
        }
        ("pods", Some("binding")) => {
            let node = v
                .pointer("/target/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if node.is_empty() {
                return Err(ApiError::invalid(r, name, "target.name: Required value"));
            }
            st.store.modify(&ObjKey::new(rp.res, ns, name), |cur| {
                let bound = cur["spec"]["nodeName"].as_str().unwrap_or_default();
                if !bound.is_empty() {
                    return Err(ApiError::conflict(
                        r,
                        name,
                        &format!("pod {name} is already assigned to node \"{bound}\""),
                    ));
                }
                let mut out = cur.clone();
                out["spec"]["nodeName"] = json!(node);
                Ok(out)
            })?;
            Ok(body::json(
                201,
                &success(json!({"name": name, "kind": "pods"})),
            ))
        }
        ("pods", Some("eviction")) => {
            let opts = DeleteOpts {
                grace: v
                    .pointer("/deleteOptions/gracePeriodSeconds")
                    .and_then(Value::as_i64),
                ..DeleteOpts::default()
            };
            st.store.delete(&ObjKey::new(rp.res, ns, name), &opts)?;
            Ok(body::json(
                201,
                &success(json!({"name": name, "kind": "pods"})),
            ))
        }
        _ => Err(ApiError::method_not_allowed("POST")),
    }
}
