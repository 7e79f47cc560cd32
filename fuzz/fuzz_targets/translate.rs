//! Arbitrary bytes as a Pod's JSON: translation never panics; translated names are valid.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vk_translate::fuzzing::pod_json(data);
});
