//! The kubelet proxy: `pods/log`, `pods/exec`, `pods/attach`, `pods/portforward` and
//! `nodes/proxy` forwarded to the kubelet the node advertises, over HTTPS with the API
//! server's kubelet client certificate, protocol upgrades spliced through.
//!
//! A real API server (1.30+) answers kubectl's WebSocket exec by speaking SPDY/3.1 to the
//! kubelet; this proxy forwards whatever upgrade the client asked for (WebSocket or SPDY)
//! unchanged, so a kubelet under test sees WebSocket from kubectl 1.30+ here where a real
//! cluster would make it speak SPDY.
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::{Duration, timeout};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::body::{self, Body};
use super::resources::{Resource, ids};
use super::routes::ResourcePath;
use super::state::State;
use super::status::ApiError;
use super::store::ObjKey;

/// How long to wait for the kubelet's TCP + TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the kubelet's response headers.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Headers passed to the kubelet (everything else, notably Authorization, stays here).
const FORWARDED: &[&str] = &[
    "upgrade",
    "connection",
    "x-stream-protocol-version",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-type",
    "accept",
    "accept-encoding",
    "user-agent",
];

/// Headers passed back to the client on a 101.
const SWITCHED: &[&str] = &[
    "upgrade",
    "connection",
    "x-stream-protocol-version",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
];

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, names: &[&'static str]) {
    for n in names {
        let name = HeaderName::from_static(n);
        for v in from.get_all(&name) {
            to.append(name.clone(), v.clone());
        }
    }
}

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "1")
}

/// The container a request names, or the pod's only container.
fn container(pod: &Value, pairs: &[(String, String)], name: &str) -> Result<String, ApiError> {
    let names: Vec<String> = [
        "/spec/containers",
        "/spec/initContainers",
        "/spec/ephemeralContainers",
    ]
    .iter()
    .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
    .flatten()
    .filter_map(|c| c["name"].as_str().map(str::to_owned))
    .collect();
    match pairs.iter().find(|(k, _)| k == "container") {
        Some((_, c)) if names.contains(c) => Ok(c.clone()),
        Some((_, c)) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None => {
            let main: Vec<&str> = pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
                .unwrap_or_default();
            match main.as_slice() {
                [one] => Ok((*one).to_owned()),
                _ => Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    main.join(" ")
                ))),
            }
        }
    }
}

/// The kubelet path and query a request maps to, and the node that runs it.
fn target(
    st: &State,
    req: &Request<Incoming>,
    rp: &ResourcePath,
    r: &Resource,
) -> Result<(String, String), ApiError> {
    let name = rp.name.clone().unwrap_or_default();
    let ns = rp.ns.clone().unwrap_or_default();
    let pairs = query_pairs(req.uri().query());
    if r.plural == "nodes" {
        let q = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        return Ok((name, format!("/{}{q}", rp.rest)));
    }
    let pod = st
        .store
        .get(&ObjKey::new(ids::pods(), &ns, &name))
        .ok_or_else(|| ApiError::not_found(r, &name))?;
    let node = pod["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let path = match rp.sub.as_deref() {
        Some("log") => {
            let c = container(&pod, &pairs, &name)?;
            let kept: Vec<(String, String)> = pairs
                .into_iter()
                .filter(|(k, _)| {
                    matches!(
                        k.as_str(),
                        "follow"
                            | "previous"
                            | "sinceSeconds"
                            | "sinceTime"
                            | "timestamps"
                            | "tailLines"
                            | "limitBytes"
                            | "stream"
                    )
                })
                .collect();
            let q = encode(&kept);
            let q = if q.is_empty() { q } else { format!("?{q}") };
            format!("/containerLogs/{ns}/{name}/{c}{q}")
        }
        Some(sub @ ("exec" | "attach")) => {
            let c = container(&pod, &pairs, &name)?;
            let mut out = Vec::new();
            for (k, v) in &pairs {
                match k.as_str() {
                    "command" if sub == "exec" => out.push(("command".to_owned(), v.clone())),
                    "stdin" if truthy(v) => out.push(("input".to_owned(), "1".to_owned())),
                    "stdout" if truthy(v) => out.push(("output".to_owned(), "1".to_owned())),
                    "stderr" if truthy(v) => out.push(("error".to_owned(), "1".to_owned())),
                    "tty" if truthy(v) => out.push(("tty".to_owned(), "1".to_owned())),
                    _ => {}
                }
            }
            let q = encode(&out);
            let q = if q.is_empty() { q } else { format!("?{q}") };
            let verb = if sub == "exec" { "exec" } else { "attach" };
            format!("/{verb}/{ns}/{name}/{c}{q}")
        }
        Some("portforward") => {
            let q = req
                .uri()
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            format!("/portForward/{ns}/{name}{q}")
        }
        _ => {
            return Err(ApiError::method_not_allowed(
                "proxying to pods is not supported by the fake API server",
            ));
        }
    };
    Ok((node, path))
}

/// Where the node's kubelet listens: its InternalIP (else its first address) and the
/// `daemonEndpoints` port (default 10250).
pub(crate) fn kubelet_addr(node: &Value) -> Option<(IpAddr, u16)> {
    let addrs = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)?;
    let ip = addrs
        .iter()
        .find(|a| a["type"] == "InternalIP")
        .or_else(|| addrs.first())
        .and_then(|a| a["address"].as_str())
        .and_then(|a| a.parse().ok())?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(10250);
    Some((ip, port))
}

fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.headers().contains_key(header::UPGRADE)
}

/// Open a TLS connection to a kubelet with the API server's kubelet client certificate
/// (the kubelet's serving certificate is not verified).
pub(crate) async fn dial(
    st: &State,
    ip: IpAddr,
    port: u16,
) -> Result<TlsStream<TcpStream>, ApiError> {
    let dial = async {
        let tcp = TcpStream::connect((ip, port)).await?;
        let connector = TlsConnector::from(st.kubelet_tls.clone());
        connector
            .connect(ServerName::IpAddress(ip.into()), tcp)
            .await
    };
    timeout(CONNECT_TIMEOUT, dial)
        .await
        .map_err(|_| {
            ApiError::internal(format!(
                "error dialing backend: dial tcp {ip}:{port}: i/o timeout"
            ))
        })?
        .map_err(|e| ApiError::internal(format!("error dialing backend: {ip}:{port}: {e}")))
}

/// Forward a request to the kubelet of the pod's (or the named) node.
pub(crate) async fn forward(
    st: &Arc<State>,
    mut req: Request<Incoming>,
    rp: &ResourcePath,
    r: &Resource,
) -> Result<Response<Body>, ApiError> {
    let (node_name, path) = target(st, &req, rp, r)?;
    let node = st
        .store
        .get(&ObjKey::new(ids::nodes(), "", &node_name))
        .ok_or_else(|| ApiError::not_found(super::resources::get(ids::nodes()), &node_name))?;
    let (ip, port) = kubelet_addr(&node).ok_or_else(|| {
        ApiError::service_unavailable(format!("node {node_name} advertises no address"))
    })?;

    let tls = dial(st, ip, port).await?;
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake::<_, UnsyncBoxBody<Bytes, hyper::Error>>(TokioIo::new(tls))
        .await
        .map_err(|e| ApiError::internal(format!("error talking to the kubelet: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });

    let upgrade = is_upgrade(&req);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, incoming) = req.into_parts();
    let out_body = if upgrade || parts.method == Method::GET {
        Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync()
    } else {
        let bytes = body::read(incoming).await?;
        Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync()
    };
    let mut out = Request::builder()
        .method(parts.method.clone())
        .uri(&path)
        .body(out_body)
        .map_err(|e| ApiError::bad_request(format!("cannot build the kubelet request: {e}")))?;
    copy_headers(&parts.headers, out.headers_mut(), FORWARDED);
    if let Ok(host) = HeaderValue::from_str(&std::net::SocketAddr::from((ip, port)).to_string()) {
        out.headers_mut().insert(header::HOST, host);
    }

    let mut resp = timeout(RESPONSE_TIMEOUT, sender.send_request(out))
        .await
        .map_err(|_| ApiError::internal("timed out waiting for the kubelet to answer"))?
        .map_err(|e| ApiError::internal(format!("error talking to the kubelet: {e}")))?;

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return Err(ApiError::internal("the kubelet switched protocols unasked"));
        };
        let kubelet_upgrade = hyper::upgrade::on(&mut resp);
        let mut answer = Response::new(body::full(Bytes::new()));
        *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        copy_headers(resp.headers(), answer.headers_mut(), SWITCHED);
        tokio::spawn(async move {
            let (Ok(client), Ok(kubelet)) = (client_upgrade.await, kubelet_upgrade.await) else {
                return;
            };
            let mut client = TokioIo::new(client);
            let mut kubelet = TokioIo::new(kubelet);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut kubelet).await;
        });
        return Ok(answer);
    }

    // Anything else goes back as is, streamed (logs with follow=true never end).
    let (parts, incoming) = resp.into_parts();
    let mut answer = Response::new(
        incoming
            .map_err(|e| std::io::Error::other(e.to_string()))
            .boxed_unsync(),
    );
    *answer.status_mut() = parts.status;
    for h in [header::CONTENT_TYPE, header::CONTENT_ENCODING] {
        if let Some(v) = parts.headers.get(&h) {
            answer.headers_mut().insert(h, v.clone());
        }
    }
    Ok(answer)
}
