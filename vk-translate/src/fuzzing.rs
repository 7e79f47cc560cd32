//! Entry points for the cargo-fuzz targets in `fuzz/`: not a stable API.

use crate::container_group::ContainerGroup;

/// Arbitrary bytes as an ARM container group body: whatever deserializes must survive
/// serialize -> deserialize unchanged, and serialize the same way twice.
///
/// Exact float round trips need serde_json's `float_roundtrip` feature, which `fuzz/` enables.
///
/// # Panics
///
/// When a group that deserialized does not round-trip: a bug in the model.
pub fn arm_json(data: &[u8]) {
    let Ok(group) = serde_json::from_slice::<ContainerGroup>(data) else {
        return;
    };
    let text = serde_json::to_vec(&group).expect("a deserialized group serializes");
    let again: ContainerGroup =
        serde_json::from_slice(&text).expect("a serialized group deserializes");
    assert_eq!(group, again, "container group changed in a JSON round trip");
    let text_again = serde_json::to_vec(&again).expect("a deserialized group serializes");
    assert_eq!(
        text, text_again,
        "container group serialized differently twice"
    );
}
