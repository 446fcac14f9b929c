//! Response masking on arbitrary bodies: an `application/json` body and, when it is UTF-8, the data of
//! one SSE event. Masking valid JSON must give valid JSON, and the streaming path must decode to what
//! the `Value` path gives, with the same counts (see `core/tests/invariants/mask.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

// Shared oracle: this target does not use its SSE rewrite callback.
#[allow(dead_code)]
#[path = "../../core/tests/invariants/mask.rs"]
mod mask;

thread_local! {
    static FIXTURE: mask::Fixture = mask::fixture();
}

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|fx| {
        mask::check_json_body(fx, data);
        if let Ok(text) = std::str::from_utf8(data) {
            mask::check_event_data(fx, text);
        }
    })
});
