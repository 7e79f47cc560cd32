//! `/exec`, `/attach` and `/run`: commands in containers.
//!
//! exec and attach check the pod and container, negotiate a remotecommand protocol, answer
//! `101 Switching Protocols` and run the session on the upgraded connection. Failures
//! before the upgrade are plain responses with a `Status` body, which kubectl shows.
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::header;
use tokio::io::AsyncReadExt;

use super::error::{Error, Result};
use super::state::ServerState;
use super::upgrade::{self, Transport};
use crate::provider::{ExecIo, PodKey};
use crate::stream::remotecommand::{Protocol, Runner, StreamOptions, serve_spdy};
use crate::stream::websocket::{WsProtocol, serve_websocket};

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
    let _slot = state.sessions.admit(req.extensions())?;
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

/// Negotiate the remotecommand protocol of the requested transport, answer the upgrade
/// and run the session on the upgraded connection.
fn upgrade(
    state: &ServerState,
    options: StreamOptions,
    req: Request,
    run: Runner,
) -> Result<Response> {
    if !options.any_stream() {
        return Err(Error::BadRequest(
            "you must specify at least 1 of stdin, stdout, stderr".into(),
        ));
    }
    let transport = Transport::requested(req.headers())?;
    let offered = transport.offered(req.headers());
    let config = state.streaming.clone();
    let slot = state.sessions.admit(req.extensions())?;
    match transport {
        Transport::WebSocket => {
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
            // RFC 6455: no subprotocol in the answer unless the client offered some.
            let chosen = (!offered.is_empty()).then(|| protocol.name());
            upgrade::switch(req, transport, chosen, ("remotecommand", slot), move |io| {
                serve_websocket(io, protocol, options, config, run)
            })
        }
        Transport::Spdy => {
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
            upgrade::switch(
                req,
                transport,
                Some(protocol.name()),
                ("remotecommand", slot),
                move |io| serve_spdy(io, protocol, options, config, run),
            )
        }
    }
}
