//! The fake API server's protobuf decoder (`k8s\0` envelope, runtime.Unknown, the
//! object's message): never panics, and whatever decodes round-trips through the encoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vk_testing::fake_api::fuzzing::protobuf_body(data);
});
