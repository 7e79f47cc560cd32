//! `/healthz`: the server is up.

pub(super) async fn healthz() -> &'static str {
    "ok"
}
