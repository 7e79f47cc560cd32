//! `/pods`: the pods bound to this node, as a `PodList`.
use axum::Json;
use axum::extract::State;

use super::state::ServerState;

pub(super) async fn pods(State(state): State<ServerState>) -> Json<serde_json::Value> {
    let items: Vec<_> = state
        .pods
        .list()
        .into_iter()
        .filter(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_none_or(|n| n == &*state.node_name)
        })
        .map(|p| serde_json::to_value(&*p).unwrap_or_default())
        .collect();
    Json(serde_json::json!({
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {},
        "items": items,
    }))
}
