//! Arbitrary bytes as an ARM container group: every group that parses round-trips exactly.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vk_translate::fuzzing::arm_json(data);
});
