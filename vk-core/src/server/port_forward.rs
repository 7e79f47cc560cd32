//! `/portForward/{namespace}/{pod}`: connections to a pod's ports.
//!
//! Three ways in, all ending in [`crate::Provider::port_forward`]: SPDY/3.1 with
//! `portforward.k8s.io` (what an API server sends), a WebSocket carrying that SPDY session
//! (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31+), and the kubelet's WebSocket channel
//! protocol with the ports in the query. When the provider cannot forward, the request is
//! refused before any upgrade with a `Status` kubectl shows.
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::Response;

use super::error::{Error, Result};
use super::state::ServerState;
use super::upgrade::{self, Transport};
use crate::provider::PodKey;
use crate::stream::portforward::{
    self, Forwarder, WebSocketProtocol, ports_from_query, tunnel, websocket,
};

pub(super) async fn port_forward(
    State(state): State<ServerState>,
    Path((namespace, pod)): Path<(String, String)>,
    req: Request,
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
    let transport = Transport::requested(req.headers())?;
    let offered = transport.offered(req.headers());
    let provider = state.provider.clone();
    let forward: Forwarder = Arc::new(move |port, io| {
        let provider = provider.clone();
        let key = key.clone();
        Box::pin(async move { provider.port_forward(&key, port, io).await })
    });
    let config = state.streaming.clone();
    let slot = state.sessions.admit(req.extensions())?;
    match transport {
        Transport::Spdy => {
            let speaks = offered
                .iter()
                .flat_map(|v| v.split(','))
                .any(|p| p.trim() == portforward::PROTOCOL);
            if !offered.is_empty() && !speaks {
                return Err(Error::ProtocolNotSupported {
                    offered,
                    accepted: vec![portforward::PROTOCOL],
                });
            }
            upgrade::switch(
                req,
                transport,
                Some(portforward::PROTOCOL),
                ("port-forward", slot),
                move |io| portforward::serve_spdy(io, config, forward),
            )
        }
        Transport::WebSocket => {
            let protocol = if offered.is_empty() {
                // The kubelet treats a WebSocket without subprotocol as binary channels.
                WebSocketProtocol::V4
            } else {
                WebSocketProtocol::negotiate(offered.iter().map(String::as_str)).ok_or_else(
                    || Error::ProtocolNotSupported {
                        offered: offered.clone(),
                        accepted: WebSocketProtocol::ALL.iter().map(|p| p.name()).collect(),
                    },
                )?
            };
            let chosen = (!offered.is_empty()).then(|| protocol.name());
            if protocol == WebSocketProtocol::SpdyTunnel {
                return upgrade::switch(
                    req,
                    transport,
                    chosen,
                    ("port-forward", slot),
                    move |io| tunnel::serve_tunnel(io, config, forward),
                );
            }
            let ports = ports_from_query(req.uri().query().unwrap_or_default())
                .map_err(Error::BadRequest)?;
            let base64 = protocol == WebSocketProtocol::V4Base64;
            upgrade::switch(req, transport, chosen, ("port-forward", slot), move |io| {
                websocket::serve_websocket(io, base64, ports, config, forward)
            })
        }
    }
}
