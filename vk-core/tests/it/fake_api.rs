//! Tests: fake_api.
