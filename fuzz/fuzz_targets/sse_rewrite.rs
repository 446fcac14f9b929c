//! The SSE rewriter on an arbitrary stream split at fuzzer-chosen offsets, with a fuzzer-chosen event
//! bound: every split gives the unsplit result, and the output's events are the input's with their
//! data rewritten (see `core/tests/invariants/sse.rs`).
//!
//! Input: byte 0 picks the rewrite (even: Warden's masking of the event data; odd: a rewrite that
//! always answers, with CR and CRLF line breaks); bytes 1–2 the event bound (u16 LE, at least 1);
//! byte 3 the number `n` of cuts; then `n` cut offsets (u16 LE each); the rest is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Shared oracle: this target uses its fixture and SSE rewrite callback only.
#[allow(dead_code)]
#[path = "../../core/tests/invariants/mask.rs"]
mod mask;
#[path = "../../core/tests/invariants/sse.rs"]
mod sse;

thread_local! {
    static FIXTURE: mask::Fixture = mask::fixture();
}

fuzz_target!(|data: &[u8]| {
    let [mode, bound_lo, bound_hi, cut_count, rest @ ..] = data else {
        return;
    };
    let max_event_bytes = usize::from(u16::from_le_bytes([*bound_lo, *bound_hi])).max(1);
    let cut_bytes = (usize::from(*cut_count) * 2).min(rest.len());
    let (cut_bytes, stream) = rest.split_at(cut_bytes);
    let cuts: Vec<usize> = cut_bytes
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])))
        .collect();
    FIXTURE.with(|fx| {
        if mode % 2 == 1 {
            sse::check_split(stream, &cuts, max_event_bytes, &sse::rewrite_always);
        } else {
            sse::check_split(stream, &cuts, max_event_bytes, &|d| mask::mask_event(fx, d));
        }
    })
});
