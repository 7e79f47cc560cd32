//! Tests: the node, its Lease and the pod controller against the fake API server.
//!
//! Each test starts its own fake API server on loopback and a runtime with short intervals;
//! waits poll the API inside `timeout(..).expect("what probably deadlocked")`.

// Shared set-up: the runtime under test, a recording provider, pod builders, waits.
mod harness;
// Node registration, conditions, the Lease, shutdown.
mod node;
// Pod lifecycle: create, status, update, deletion, failures, references.
mod pods;
// Restart adoption, orphan clean-up, watch disconnects and 410s.
mod recovery;
// The same runtime driven by the testing kit's MockProvider (pushed status, lifecycles).
mod mock;
