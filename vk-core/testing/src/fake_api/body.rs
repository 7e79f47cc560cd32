//! HTTP bodies: the response body type, JSON and Status answers, bounded request reading.
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

use super::protobuf;
use super::status::ApiError;

/// The response body of every answer: full, streamed (watch, logs) or proxied.
pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Largest request body accepted (the API server's default is 3 MiB for objects).
pub(crate) const MAX_BODY: usize = 8 * 1024 * 1024;

/// A body holding `bytes`.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The object a JSON answer carries, kept on the response so that [`negotiate`] can send
/// it as protobuf instead.
#[derive(Clone, Debug)]
pub(crate) struct Object(pub Value);

tokio::task_local! {
    /// Whether the request being answered asks for protobuf first (set by [`negotiating`]).
    static WANTS_PROTOBUF: bool;
}

/// Run `answer` for a request whose `Accept` is `accept`, then answer in protobuf when it
/// asks for it first and the answer is an object of a built-in kind; JSON otherwise.
pub(crate) async fn negotiating<F>(accept: &str, answer: F) -> Response<Body>
where
    F: Future<Output = Response<Body>>,
{
    let protobuf = protobuf::accepts_protobuf_first(accept);
    let resp = WANTS_PROTOBUF.scope(protobuf, answer).await;
    if protobuf { negotiate(resp) } else { resp }
}

/// A JSON answer.
pub(crate) fn json(code: u16, v: &Value) -> Response<Body> {
    let mut resp = Response::new(full(v.to_string()));
    // Kept for [`negotiate`] only when the client asked for protobuf.
    if WANTS_PROTOBUF.try_with(|p| *p).unwrap_or(false) {
        resp.extensions_mut().insert(Object(v.clone()));
    }
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The JSON answer `resp` in protobuf, when it carries an object of a built-in kind.
fn negotiate(mut resp: Response<Body>) -> Response<Body> {
    let Some(Object(v)) = resp.extensions_mut().remove::<Object>() else {
        return resp;
    };
    let Ok(bytes) = protobuf::encode(&v) else {
        return resp;
    };
    *resp.body_mut() = full(bytes);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(protobuf::MEDIA_TYPE),
    );
    resp
}

/// Parse a request body as the object it carries: protobuf when `content_type` says so,
/// else JSON.
pub(crate) fn object(bytes: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if !protobuf::is_protobuf(content_type) {
        return parse(bytes, false);
    }
    protobuf::decode(bytes).map_err(|e| match e {
        protobuf::Error::UnknownKind { .. } => ApiError::unsupported_media_type(content_type),
        e => ApiError::bad_request(format!(
            "the request body is not a valid protobuf object: {e}"
        )),
    })
}

/// A `Status` answer for an error.
pub(crate) fn error(e: &ApiError) -> Response<Body> {
    let mut resp = json(e.code, &e.to_status());
    if let Some(secs) = e.retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Read a request body of at most [`MAX_BODY`] bytes.
pub(crate) async fn read<B>(body: B) -> Result<Bytes, ApiError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error:
        std::fmt::Display + Send + Sync + 'static + Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))
}

/// Parse a body as JSON, or YAML for apply patches.
pub(crate) fn parse(bytes: &[u8], yaml: bool) -> Result<Value, ApiError> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(e) if !yaml => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON: {e}"
        ))),
        Err(_) => serde_yaml::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}"))),
    }
}
