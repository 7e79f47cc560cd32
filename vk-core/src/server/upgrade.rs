//! Connection upgrades of the streaming endpoints: which protocol the client asks for
//! (SPDY/3.1 or WebSocket), the subprotocols it offers, and the `101 Switching Protocols`
//! answer that hands the upgraded connection to a session.
use std::future::Future;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;

use super::error::{Error, Result};
use super::sessions::SessionSlot;
use crate::stream::remotecommand::PROTOCOL_HEADER;
use crate::stream::{spdy, websocket};

/// The connection a session runs on.
pub(super) type Connection = TokioIo<Upgraded>;

/// The transport a client asked to switch to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transport {
    /// `Upgrade: SPDY/3.1`; subprotocols in `X-Stream-Protocol-Version`.
    Spdy,
    /// `Upgrade: websocket`; subprotocols in `Sec-WebSocket-Protocol`.
    WebSocket,
}

impl Transport {
    /// What the request's `Upgrade` header asks for (WebSocket wins if both are listed).
    pub(super) fn requested(headers: &HeaderMap) -> Result<Self> {
        let wants = |token: &str| {
            headers
                .get_all(header::UPGRADE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|v| v.trim().eq_ignore_ascii_case(token))
        };
        if wants("websocket") {
            Ok(Self::WebSocket)
        } else if wants(spdy::UPGRADE) {
            Ok(Self::Spdy)
        } else {
            Err(Error::UpgradeRequired)
        }
    }

    fn protocol_header(self) -> &'static str {
        match self {
            Self::Spdy => PROTOCOL_HEADER,
            Self::WebSocket => websocket::PROTOCOL_HEADER,
        }
    }

    /// The subprotocols the client offers, as sent (values may be comma-separated lists).
    pub(super) fn offered(self, headers: &HeaderMap) -> Vec<String> {
        headers
            .get_all(self.protocol_header())
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

/// Answer `101 Switching Protocols` with `protocol` as the chosen subprotocol (`None`
/// when the client offered none), and run `serve` on the connection once hyper hands it
/// over. `session` names the session in logs; `slot` is its place in the client's count
/// of sessions, held until the session ends.
pub(super) fn switch<F, Fut>(
    mut req: Request,
    transport: Transport,
    protocol: Option<&'static str>,
    (session, slot): (&'static str, SessionSlot),
    serve: F,
) -> Result<Response>
where
    F: FnOnce(Connection) -> Fut + Send + 'static,
    Fut: Future<Output = crate::stream::Result<()>> + Send,
{
    let accept = match transport {
        Transport::Spdy => None,
        Transport::WebSocket => {
            let key = req
                .headers()
                .get("sec-websocket-key")
                .ok_or_else(|| Error::BadRequest("missing Sec-WebSocket-Key".into()))?;
            let accept = websocket::accept_key(key.as_bytes());
            Some(
                HeaderValue::from_str(&accept)
                    .map_err(|_| Error::BadRequest("bad Sec-WebSocket-Key".into()))?,
            )
        }
    };
    let on_upgrade = req
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or(Error::UpgradeRequired)?;
    tokio::spawn(async move {
        let _slot = slot;
        match on_upgrade.await {
            Ok(upgraded) => {
                if let Err(e) = serve(TokioIo::new(upgraded)).await {
                    tracing::debug!(error = %e, session, "streaming session failed");
                }
            }
            Err(e) => tracing::debug!(error = %e, session, "connection upgrade failed"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    let token = match transport {
        Transport::Spdy => spdy::UPGRADE,
        Transport::WebSocket => "websocket",
    };
    headers.insert(header::UPGRADE, HeaderValue::from_static(token));
    if let Some(accept) = accept {
        headers.insert("sec-websocket-accept", accept);
    }
    if let Some(protocol) = protocol {
        headers.insert(
            transport.protocol_header(),
            HeaderValue::from_static(protocol),
        );
    }
    Ok(response)
}
