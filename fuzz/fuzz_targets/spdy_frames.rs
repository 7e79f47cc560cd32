//! SPDY/3.1 frame decoder: never panics, and decoded frames round-trip.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vk_core::stream::fuzzing::spdy_frames(data));
