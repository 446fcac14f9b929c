//! Property tests of the SSE rewriter (`warden_core::sse`): any split of a stream into chunks gives the
//! unsplit result, and the output, read by an independent event-stream parser, holds the input's
//! events with their data rewritten (masked, or replaced by multi-line data). The oracles are shared
//! with the `sse_rewrite` fuzz target (`fuzz/`); the case counts keep this file to a few seconds in debug.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Shared oracle: this file uses its fixture, the SSE rewrite callback and the event-data check.
#[allow(dead_code)]
#[path = "invariants/mask.rs"]
mod mask;
#[path = "invariants/sse.rs"]
mod sse;

use proptest::prelude::*;

thread_local! {
    static FIXTURE: mask::Fixture = mask::fixture();
}

/// Values for fields: JSON-RPC messages with values to mask, plain text, non-ASCII, colons, spaces.
fn value() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#"{"jsonrpc":"2.0","id":1,"result":{"text":"card 4111 1111 1111 1111"}}"#,
        r#"{"jsonrpc":"2.0","id":"é€😀","result":{"n":5555555555554444,"s":"078-05-1120"}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"jane@example.com"}}"#,
        r#"{"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"CUST-123456"}}"#,
        r#"{"jsonrpc":"2.0","id":3,"#,
        r#""result":{"k":"sk_live_abcdefghijklmnopqrstuvwx"}}"#,
        "plain jane@example.com text",
        "",
        " leading space",
        "a:b: c",
        "é€😀",
        "1000",
    ])
    .prop_map(str::to_owned)
}

/// One line (without terminator): a field with or without a colon, a comment, or a blank line.
fn line() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "data", "data", "data", "event", "id", "retry", "datax", "",
    ]);
    let separator = prop::sample::select(vec![": ", ":", ""]);
    prop_oneof![
        6 => (name, separator, value()).prop_map(|(n, s, v)| {
            if s.is_empty() { n.to_owned() } else { format!("{n}{s}{v}") }
        }),
        1 => value().prop_map(|v| format!(":{v}")),
        3 => Just(String::new()),
    ]
}

/// A stream: an optional BOM, then lines each ended by LF, CR or CRLF (the last one maybe by nothing).
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let terminator = prop::sample::select(vec!["\n", "\r", "\r\n"]);
    (
        any::<bool>(),
        prop::collection::vec((line(), terminator), 0..16),
        any::<bool>(),
    )
        .prop_map(|(bom, lines, unterminated)| {
            let mut text = if bom {
                "\u{FEFF}".to_owned()
            } else {
                String::new()
            };
            let count = lines.len();
            for (i, (line, terminator)) in lines.into_iter().enumerate() {
                text.push_str(&line);
                if !(unterminated && i + 1 == count) {
                    text.push_str(terminator);
                }
            }
            text.into_bytes()
        })
}

/// Cut offsets: any bytes, so CRLF pairs, UTF-8 sequences and the BOM get split.
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..2048usize, 0..8)
}

/// Event bounds: tight enough to trip on some events, or loose.
fn bound() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![24, 96, 1 << 16])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn masking_any_split_of_a_stream_gives_the_unsplit_result(
        input in stream(), mut cuts in cuts(), max in bound(),
    ) {
        let len = input.len().max(1);
        cuts.iter_mut().for_each(|c| *c %= len + 1);
        FIXTURE.with(|fx| {
            sse::check_split(&input, &cuts, max, &|data| {
                mask::check_event_data(fx, data);
                mask::mask_event(fx, data)
            });
        });
    }

    #[test]
    fn multi_line_rewrites_of_any_split_give_well_formed_events(
        input in stream(), mut cuts in cuts(), max in bound(),
    ) {
        let len = input.len().max(1);
        cuts.iter_mut().for_each(|c| *c %= len + 1);
        sse::check_split(&input, &cuts, max, &sse::rewrite_always);
    }

    #[test]
    fn one_byte_chunks_give_the_unsplit_result_under_every_event_bound(input in stream()) {
        let every_byte: Vec<usize> = (1..input.len()).collect();
        for max in (1..=input.len().min(160)).chain([1 << 16]) {
            sse::check_split(&input, &every_byte, max, &sse::rewrite_always);
        }
    }
}
