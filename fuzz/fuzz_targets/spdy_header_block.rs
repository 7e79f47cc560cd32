//! SPDY/3 header block decoder: never panics, bounded, and decoded blocks round-trip.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vk_core::stream::fuzzing::spdy_header_block(data));
