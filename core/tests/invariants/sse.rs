//! Oracle for `warden_core::sse::SseRewriter`: splitting the input into chunks never changes the
//! result, and the output, read by an independent event-stream parser (HTML Living Standard §9.2.6),
//! has the input's events with each event's data replaced by what the rewrite callback returned.
//! Shared by `core/tests/prop_sse.rs` and the `sse_rewrite` fuzz target.

use warden_core::sse::{SseError, SseRewriter};

/// Rewrites `input` fed whole, then fed in the chunks that `cuts` (offsets, any order, clamped to the
/// input) delimit, with `max_event_bytes` as the event bound; panics unless both give the same bytes
/// (or the same error) and the output's events are the input's with their data rewritten.
pub fn check_split(
    input: &[u8],
    cuts: &[usize],
    max_event_bytes: usize,
    rewrite: &dyn Fn(&str) -> Option<String>,
) {
    let whole = rewrite_chunks(&[input], max_event_bytes, rewrite);
    let mut offsets: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    offsets.sort_unstable();
    let mut chunks = Vec::with_capacity(offsets.len() + 1);
    let mut from = 0;
    for at in offsets.into_iter().chain([input.len()]) {
        chunks.push(&input[from..at]);
        from = at;
    }
    let split = rewrite_chunks(&chunks, max_event_bytes, rewrite);
    assert_eq!(
        split, whole,
        "chunks {chunks:?} give another result than the whole input"
    );
    if let Ok(output) = whole {
        check_events(input, &output, rewrite);
    }
}

/// Feeds `chunks` to one rewriter, then finishes the stream; the concatenated output or the first error.
fn rewrite_chunks(
    chunks: &[&[u8]],
    max_event_bytes: usize,
    rewrite: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<u8>, SseError> {
    let mut rewriter = SseRewriter::new(max_event_bytes);
    let mut output = Vec::new();
    for chunk in chunks {
        output.extend(rewriter.push(chunk, rewrite)?);
    }
    output.extend(rewriter.finish(rewrite)?);
    Ok(output)
}

/// The output's events are the input's, each with its data rewritten as a client would decode it.
fn check_events(input: &[u8], output: &[u8], rewrite: &dyn Fn(&str) -> Option<String>) {
    let before = parse_events(input);
    let after = parse_events(output);
    assert_eq!(
        before.len(),
        after.len(),
        "event count changed: {:?} -> {:?}",
        String::from_utf8_lossy(input),
        String::from_utf8_lossy(output)
    );
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old.fields, new.fields, "event, id and retry fields changed");
        let expected = match old.data.as_deref() {
            Some(data) if !data.is_empty() => rewrite(data)
                .map(|new_data| new_data.replace("\r\n", "\n").replace('\r', "\n"))
                .or_else(|| old.data.clone()),
            _ => old.data.clone(),
        };
        assert_eq!(
            new.data,
            expected,
            "data of an event in {:?}",
            String::from_utf8_lossy(output)
        );
    }
}

/// A rewrite that always answers: the data's length, a CR, then the data upper-cased with each LF
/// turned into CRLF (so the new data has every kind of line break SSE data lines must be split at).
pub fn rewrite_always(data: &str) -> Option<String> {
    Some(format!(
        "{}\r{}",
        data.len(),
        data.to_uppercase().replace('\n', "\r\n")
    ))
}

/// One block of lines up to a blank line, as a client reads it.
#[derive(Debug, PartialEq)]
struct ParsedEvent {
    /// The `data` values joined with LF; `None` without a `data` field.
    data: Option<String>,
    /// The `event`, `id` and `retry` fields in order (other fields and comments are ignored by clients).
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Reads a stream as the standard does, keeping every block of at least one line (an unterminated last
/// block included, since the rewriter masks it for lenient clients). Panics on data that is not UTF-8.
fn parse_events(stream: &[u8]) -> Vec<ParsedEvent> {
    let stream = stream.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(stream);
    let mut events = Vec::new();
    let mut lines: Vec<&[u8]> = Vec::new();
    for line in split_lines(stream) {
        if line.is_empty() {
            if !lines.is_empty() {
                events.push(block(&lines));
                lines.clear();
            }
        } else {
            lines.push(line);
        }
    }
    if !lines.is_empty() {
        events.push(block(&lines));
    }
    events
}

/// Lines ended by CRLF, LF or CR; a last line without terminator counts when it is not empty.
fn split_lines(stream: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while at < stream.len() {
        match stream[at] {
            b'\r' => {
                lines.push(&stream[start..at]);
                at += if stream.get(at + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = at;
            }
            b'\n' => {
                lines.push(&stream[start..at]);
                at += 1;
                start = at;
            }
            _ => at += 1,
        }
    }
    if start < stream.len() {
        lines.push(&stream[start..]);
    }
    lines
}

fn block(lines: &[&[u8]]) -> ParsedEvent {
    let mut data: Option<Vec<u8>> = None;
    let mut fields = Vec::new();
    for line in lines {
        if line.first() == Some(&b':') {
            continue;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (&line[..], &b""[..]),
        };
        match name {
            b"data" => match &mut data {
                Some(data) => {
                    data.push(b'\n');
                    data.extend_from_slice(value);
                }
                None => data = Some(value.to_vec()),
            },
            b"event" | b"id" | b"retry" => fields.push((name.to_vec(), value.to_vec())),
            _ => {}
        }
    }
    let data = data.map(|d| match String::from_utf8(d) {
        Ok(text) => text,
        Err(e) => panic!("data the rewriter accepted is not UTF-8: {e}"),
    });
    ParsedEvent { data, fields }
}
