//! The list verb: label and field selectors, `limit` and `continue` tokens, and Tables.
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::Response;
use serde_json::{Value, json};

use super::body::{self, Body};
use super::conversion::Served;
use super::request::{Query, filter};
use super::resources::Resource;
use super::state::State;
use super::status::ApiError;
use super::table;

pub(crate) fn list_body(
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

pub(crate) fn list(
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
