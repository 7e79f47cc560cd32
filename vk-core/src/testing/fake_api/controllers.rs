//! Optional controllers (off by default): Deployment -> ReplicaSet -> Pods and a scheduler.
use std::sync::Arc;

use super::State;

/// Start the controllers.
pub(crate) fn spawn(st: Arc<State>) {
    let _ = st;
}

#[allow(dead_code)] // used by the controllers once they run
fn workload_ids() -> (usize, usize) {
    (
        super::resources::ids::deployments(),
        super::resources::ids::replica_sets(),
    )
}
