//! Port-forward over WebSocket: `port=` queries and channel messages never panic, and
//! what parses round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vk_core::stream::fuzzing::portforward_websocket(data));
