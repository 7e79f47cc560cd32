//! `/exec`, `/attach`, `/portForward` and `/run`: commands in containers.
//!
//! exec and attach check the pod and container, negotiate a remotecommand protocol, answer
//! `101 Switching Protocols` and run the session on the upgraded connection. Failures
//! before the upgrade are plain responses with a `Status` body, which kubectl shows.
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;

use super::{Error, Result, ServerState};
use crate::provider::{ExecIo, PodKey};
use crate::stream::remotecommand::{PROTOCOL_HEADER, Protocol, Runner, StreamOptions, serve_spdy};
use crate::stream::websocket::{self, WsProtocol, serve_websocket};
use crate::stream::{portforward, spdy};

/// Most bytes of output `/run` returns.
const RUN_OUTPUT_LIMIT: usize = 4 * 1024 * 1024;

pub(super) async fn exec(
    State(state): State<ServerState>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    req: Request,
) -> Result<Response> {
    let key = PodKey::new(namespace, pod);
    let options = StreamOptions::from_query(req.uri().query().unwrap_or_default());
    if options.command.is_empty() {
        return Err(Error::BadRequest("missing command".into()));
    }
    state.container(&key, &container)?;
    let provider = state.provider.clone();
    let command = options.command.clone();
    let run: Runner = Box::new(move |io: ExecIo| {
        Box::pin(async move { provider.exec(&key, &container, &command, io).await })
    });
    upgrade(&state, options, req, run)
}

pub(super) async fn attach(
    State(state): State<ServerState>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    req: Request,
) -> Result<Response> {
    let key = PodKey::new(namespace, pod);
    let options = StreamOptions::from_query(req.uri().query().unwrap_or_default());
    state.container(&key, &container)?;
    let provider = state.provider.clone();
    let run: Runner = Box::new(move |io: ExecIo| {
        Box::pin(async move { provider.attach(&key, &container, io).await })
    });
    upgrade(&state, options, req, run)
}

pub(super) async fn port_forward(
    State(state): State<ServerState>,
    Path((namespace, pod)): Path<(String, String)>,
    mut req: Request,
) -> Result<Response> {
    let key = PodKey::new(namespace, pod);
    state.pod(&key)?;
    if !state.port_forward {
        // Refused before the upgrade so the client gets a Status it can show.
        return Err(Error::NotSupported(format!(
            "port-forward is not supported by this virtual node (provider {})",
            state.provider.name()
        )));
    }
    let spdy_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(spdy::UPGRADE));
    if !spdy_upgrade {
        return Err(Error::UpgradeRequired);
    }
    let offered: Vec<String> = req
        .headers()
        .get_all(PROTOCOL_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    if !offered.is_empty()
        && !offered
            .iter()
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == portforward::PROTOCOL)
    {
        return Err(Error::ProtocolNotSupported {
            offered,
            accepted: vec![portforward::PROTOCOL],
        });
    }
    let on_upgrade = req
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or(Error::UpgradeRequired)?;
    let provider = state.provider.clone();
    let forward: portforward::Forwarder = std::sync::Arc::new(move |port, io| {
        let provider = provider.clone();
        let key = key.clone();
        Box::pin(async move { provider.port_forward(&key, port, io).await })
    });
    let config = state.streaming.clone();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                if let Err(e) =
                    portforward::serve_spdy(TokioIo::new(upgraded), config, forward).await
                {
                    tracing::debug!(error = %e, "port-forward session failed");
                }
            }
            Err(e) => tracing::debug!(error = %e, "connection upgrade failed"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static(spdy::UPGRADE));
    headers.insert(
        PROTOCOL_HEADER,
        HeaderValue::from_static(portforward::PROTOCOL),
    );
    Ok(response)
}

pub(super) async fn run(
    State(state): State<ServerState>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    req: Request,
) -> Result<Response> {
    let key = PodKey::new(namespace, pod);
    state.container(&key, &container)?;
    let query = req.uri().query().unwrap_or_default();
    let command: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "cmd")
        .flat_map(|(_, v)| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    if command.is_empty() {
        return Err(Error::BadRequest("missing cmd".into()));
    }
    let (out_w, out_r) = tokio::io::duplex(64 * 1024);
    let (err_w, err_r) = tokio::io::duplex(64 * 1024);
    let io = ExecIo {
        stdin: None,
        stdout: Some(Box::pin(out_w)),
        stderr: Some(Box::pin(err_w)),
        tty: false,
        resize: None,
    };
    let read_all = |r: tokio::io::DuplexStream| async move {
        let mut buf = Vec::new();
        let _ = r.take(RUN_OUTPUT_LIMIT as u64).read_to_end(&mut buf).await;
        buf
    };
    let (code, mut out, err) = tokio::join!(
        state.provider.exec(&key, &container, &command, io),
        read_all(out_r),
        read_all(err_r)
    );
    out.extend_from_slice(&err);
    out.truncate(RUN_OUTPUT_LIMIT);
    match code? {
        0 => Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response()),
        code => Err(Error::BadRequest(format!(
            "command terminated with non-zero exit code {code}: {}",
            String::from_utf8_lossy(&out)
        ))),
    }
}

/// Answer the upgrade and run the session on the upgraded connection.
fn upgrade(
    state: &ServerState,
    options: StreamOptions,
    mut req: Request,
    run: Runner,
) -> Result<Response> {
    if !options.any_stream() {
        return Err(Error::BadRequest(
            "you must specify at least 1 of stdin, stdout, stderr".into(),
        ));
    }
    let wants = |token: &str| {
        req.headers()
            .get_all(header::UPGRADE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(token))
    };
    if wants("websocket") {
        return upgrade_websocket(state, options, req, run);
    }
    if !wants(spdy::UPGRADE) {
        return Err(Error::UpgradeRequired);
    }
    let offered: Vec<String> = req
        .headers()
        .get_all(PROTOCOL_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let protocol = if offered.is_empty() {
        // Clients from before protocol negotiation speak the first version.
        Protocol::V1
    } else {
        Protocol::negotiate(offered.iter().map(String::as_str)).ok_or_else(|| {
            Error::ProtocolNotSupported {
                offered: offered.clone(),
                accepted: Protocol::ALL.iter().map(|p| p.name()).collect(),
            }
        })?
    };
    let on_upgrade = req
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or(Error::UpgradeRequired)?;
    let config = state.streaming.clone();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                if let Err(e) =
                    serve_spdy(TokioIo::new(upgraded), protocol, options, config, run).await
                {
                    tracing::debug!(error = %e, "remotecommand session failed");
                }
            }
            Err(e) => tracing::debug!(error = %e, "connection upgrade failed"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static(spdy::UPGRADE));
    headers.insert(PROTOCOL_HEADER, HeaderValue::from_static(protocol.name()));
    Ok(response)
}

/// Answer a WebSocket upgrade (RFC 6455 server handshake) and run the channel protocol.
fn upgrade_websocket(
    state: &ServerState,
    options: StreamOptions,
    mut req: Request,
    run: Runner,
) -> Result<Response> {
    let key = req
        .headers()
        .get("sec-websocket-key")
        .ok_or_else(|| Error::BadRequest("missing Sec-WebSocket-Key".into()))?;
    let accept = websocket::accept_key(key.as_bytes());
    let offered: Vec<String> = req
        .headers()
        .get_all(websocket::PROTOCOL_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let protocol = if offered.is_empty() {
        WsProtocol::Channel
    } else {
        WsProtocol::negotiate(offered.iter().map(String::as_str)).ok_or_else(|| {
            Error::ProtocolNotSupported {
                offered: offered.clone(),
                accepted: WsProtocol::ALL.iter().map(|p| p.name()).collect(),
            }
        })?
    };
    let on_upgrade = req
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or(Error::UpgradeRequired)?;
    let config = state.streaming.clone();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                if let Err(e) =
                    serve_websocket(TokioIo::new(upgraded), protocol, options, config, run).await
                {
                    tracing::debug!(error = %e, "remotecommand websocket session failed");
                }
            }
            Err(e) => tracing::debug!(error = %e, "connection upgrade failed"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(
        "sec-websocket-accept",
        HeaderValue::from_str(&accept).map_err(|_| Error::BadRequest("bad key".into()))?,
    );
    headers.insert(
        websocket::PROTOCOL_HEADER,
        HeaderValue::from_static(protocol.name()),
    );
    Ok(response)
}
