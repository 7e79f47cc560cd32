//! The middleware in front of every kubelet API route: authenticate the client, authorize
//! the request, and trace it in a span of its own.
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use super::auth::{Attributes, Credentials, UserInfo};
use super::error::Result;
use super::state::ServerState;

/// The middleware in front of every route: authenticate, then authorize.
pub(super) async fn require(
    State(state): State<ServerState>,
    req: Request,
    next: Next,
) -> Response {
    // The path only: queries carry exec commands, which may hold anything.
    let span = tracing::debug_span!(
        "kubelet_api",
        method = %req.method(),
        path = req.uri().path(),
        user = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    async move {
        let credentials = Credentials::of(&req);
        let attrs = Attributes::of(req.method(), req.uri().path());
        let response = match check(&state, credentials, attrs).await {
            Ok(user) => {
                tracing::Span::current().record("user", user.username.as_str());
                // The handlers count streaming sessions per user.
                let mut req = req;
                req.extensions_mut().insert(user);
                next.run(req).await
            }
            Err(e) => axum::response::IntoResponse::into_response(e),
        };
        tracing::Span::current().record("status", response.status().as_u16());
        response
    }
    .instrument(span)
    .await
}

async fn check(
    state: &ServerState,
    credentials: Credentials,
    attrs: Attributes,
) -> Result<UserInfo> {
    let user = state.auth.authenticate(&credentials).await?;
    state
        .auth
        .authorize(&user, &attrs, &state.node_name)
        .await?;
    tracing::debug!(user = %user.username, verb = attrs.verb, subresource = attrs.subresource, "kubelet api request authorized");
    Ok(user)
}
