//! Watch streams: chunked JSON lines of `{"type", "object"}` events, resumed from a
//! resourceVersion, with bookmarks, `timeoutSeconds`, `sendInitialEvents` and 410 Expired
//! as an ERROR event.
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{self, Duration};
use tokio_stream::wrappers::ReceiverStream;

use super::body::Body;
use super::conversion::Served;
use super::request::Query;
use super::resources::{self, ResId};
use super::state::State;
use super::status::ApiError;
use super::store::{Filter, WatchFrom, WatchMsg};
use super::table;

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

fn bookmark(res: ResId, rv: u64, initial_end: bool) -> Value {
    let r = resources::get(res);
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": r.kind, "apiVersion": r.api_version(), "metadata": meta})
}

fn streaming(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let stream = ReceiverStream::new(rx).map(|b| Ok::<_, std::io::Error>(Frame::data(b)));
    let mut resp = Response::new(StreamBody::new(stream).boxed_unsync());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Start a watch of `res` (stored as `served` says) and answer with its stream.
pub(crate) fn serve(
    st: &Arc<State>,
    res: ResId,
    served: Served,
    filter: Filter,
    q: &Query,
    want_table: bool,
) -> Result<Response<Body>, ApiError> {
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(64);
    let rv = q.get("resourceVersion").map(String::as_str).unwrap_or("");
    let send_initial = q.get("sendInitialEvents").map(String::as_str) == Some("true");
    let from = if rv.is_empty() || rv == "0" || send_initial {
        WatchFrom::Now
    } else {
        WatchFrom::After(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion: {rv}")))?,
        )
    };
    let expired = if st.knobs.take_watch_gone() {
        let n = match from {
            WatchFrom::After(n) => n,
            WatchFrom::Now => 0,
        };
        Some(ApiError::expired(n, st.store.current_rv()))
    } else {
        None
    };
    let handle = match expired {
        Some(e) => Err(e),
        None => st.store.watch(served.storage, filter, from),
    };
    let handle = match handle {
        Ok(h) => h,
        Err(e) if e.code == 410 => {
            // A real API server accepts the watch and sends the 410 as an ERROR event.
            let _ = out_tx.try_send(line("ERROR", &e.to_status()));
            return Ok(streaming(out_rx));
        }
        Err(e) => return Err(e),
    };
    let bookmarks = q.get("allowWatchBookmarks").map(String::as_str) == Some("true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(Duration::from_secs(30 * 60), Duration::from_secs);
    let st = st.clone();
    let r = resources::get(res);
    tokio::spawn(async move {
        let store = st.store.clone();
        let id = handle.id;
        let now = || st.clock.now();
        let mut first_table = true;
        let mut encode = |msg: &WatchMsg| -> Bytes {
            match msg {
                WatchMsg::Event(kind, obj) => {
                    let converted;
                    let obj: &Value = if served.converts() {
                        converted = served.out((**obj).clone());
                        &converted
                    } else {
                        obj
                    };
                    if want_table {
                        let rv = obj["metadata"]["resourceVersion"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        let t = table::table(
                            r,
                            std::slice::from_ref(obj),
                            &rv,
                            None,
                            now(),
                            first_table,
                        );
                        first_table = false;
                        line(kind.as_str(), &t)
                    } else {
                        line(kind.as_str(), obj)
                    }
                }
                WatchMsg::Bookmark(rv) => line("BOOKMARK", &bookmark(res, *rv, false)),
            }
        };
        let mut rx = handle.rx;
        let deadline = time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = time::interval(st.bookmark_interval);
        ticker.tick().await;
        let mut ok = true;
        for m in &handle.initial {
            if out_tx.send(encode(m)).await.is_err() {
                ok = false;
                break;
            }
        }
        if ok && send_initial {
            // The initial-events-end bookmark, after everything that was current.
            ok = out_tx
                .send(line("BOOKMARK", &bookmark(res, handle.rv, true)))
                .await
                .is_ok();
        }
        while ok {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(m) => ok = out_tx.send(encode(&m)).await.is_ok(),
                    None => break,
                },
                _ = ticker.tick(), if bookmarks => store.bookmark(id),
                () = &mut deadline => break,
                () = st.stop.cancelled() => break,
                () = out_tx.closed() => break,
            }
        }
        store.unwatch(id);
    });
    Ok(streaming(out_rx))
}
