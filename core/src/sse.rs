//! Incremental rewriting of a `text/event-stream` body, event by event, as chunks arrive.
//!
//! Lines and fields are read as the HTML Living Standard's event-stream interpretation says
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>):
//! a line ends at CRLF, LF or CR; a blank line ends an event; `:` starts a comment; a field's value
//! follows its name's first `:` minus one leading space; a line without `:` is a field with an empty
//! value; a UTF-8 BOM at the very start of the stream is ignored; the data of an event is its `data`
//! fields' values joined with LF. Each event is kept until its blank line arrives (so a line end or a
//! UTF-8 sequence split across chunks is never misread), then emitted, rewritten or not. Nothing else
//! is buffered: the work per chunk is proportional to the chunk plus the events it completes.

use memchr::memchr2;

/// Why a stream cannot be rewritten; the filter ends the stream (fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// One event (its lines and terminators so far) grew past the configured bound.
    #[error("SSE event starting at byte {offset} of the stream is larger than the limit of {limit} bytes")]
    EventTooLarge {
        /// Byte offset of the event's first byte in the stream.
        offset: u64,
        /// `max_event_bytes` given to [`SseRewriter::new`].
        limit: usize,
    },
    /// A `data` field's value is not valid UTF-8, so it cannot be inspected as the client would
    /// (the client would decode it with replacement characters).
    #[error("SSE event starting at byte {offset} of the stream has data that is not valid UTF-8")]
    InvalidUtf8 {
        /// Byte offset of the event's first byte in the stream.
        offset: u64,
    },
}

/// Rewrites a `text/event-stream` incrementally: bytes in, bytes out, one complete event at a time.
///
/// Output bytes are the input bytes, except that the `data` lines of an event whose data `rewrite`
/// replaces become one `data: <line>` per line of the new data, at the place of the event's first
/// `data` line, each ended like that first `data` line; the event's other lines (`event:`, `id:`,
/// `retry:`, comments, unknown fields) and all line terminators stay as they were, except that the
/// lone CR ending a rewritten event's last line becomes CRLF when the blank line is an LF (so that the
/// event still ends there). Splitting the input into chunks differently never changes the
/// concatenated output. After an error the rewriter's state is unspecified: end the stream.
#[derive(Debug)]
pub struct SseRewriter {
    max_event_bytes: usize,
    /// Bytes of the current line seen so far, without a terminator.
    line: Vec<u8>,
    /// Complete lines of the current event.
    event: Event,
    /// The last byte consumed was a CR line end: an LF opening the next chunk belongs to it.
    after_cr: bool,
    /// No line of the stream has completed yet (the first one may start with a BOM).
    at_stream_start: bool,
    /// Stream offset of the first byte of the current event.
    event_offset: u64,
}

/// The raw bytes of an event's complete lines, terminators included, and where each line lies in them.
#[derive(Debug, Default)]
struct Event {
    raw: Vec<u8>,
    lines: Vec<LineSpan>,
}

/// One line inside [`Event::raw`]: `start..content_start` is a BOM (usually empty),
/// `content_start..content_end` the line, `content_end..end` its terminator.
#[derive(Debug, Clone, Copy)]
struct LineSpan {
    start: usize,
    content_start: usize,
    content_end: usize,
    end: usize,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseRewriter {
    /// A rewriter for one stream; an event larger than `max_event_bytes` (raw bytes, line terminators
    /// included, the blank line excluded) is an [`SseError::EventTooLarge`].
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            max_event_bytes,
            line: Vec::new(),
            event: Event::default(),
            after_cr: false,
            at_stream_start: true,
            event_offset: 0,
        }
    }

    /// Feeds one chunk; returns the bytes of every event it completes (rewritten), keeping an
    /// unfinished event (and so any split UTF-8 sequence or CRLF) for the next call.
    ///
    /// `rewrite` is called once per completed event whose data is not empty, with that data (its
    /// `data` values joined with LF); it returns `Some(new data)` to replace it or `None` to emit the
    /// event's bytes unchanged. CR and CRLF inside the new data end lines like LF (SSE data cannot
    /// carry a CR). Events without data (priming events, comments only) pass unchanged.
    ///
    /// # Errors
    /// [`SseError::EventTooLarge`] when the current event outgrows the bound,
    /// [`SseError::InvalidUtf8`] when a completed event's data is not UTF-8.
    pub fn push(
        &mut self,
        chunk: &[u8],
        mut rewrite: impl FnMut(&str) -> Option<String>,
    ) -> Result<Vec<u8>, SseError> {
        let mut out = Vec::new();
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                self.extend_previous_terminator(&mut out);
                rest = &rest[1..];
            }
        }
        while let Some(at) = memchr2(b'\r', b'\n', rest) {
            let terminator_len = match (rest[at], rest.get(at + 1)) {
                (b'\r', Some(b'\n')) => 2,
                (b'\r', None) => {
                    self.after_cr = true;
                    1
                }
                _ => 1,
            };
            let (content, terminator) = (&rest[..at], &rest[at..at + terminator_len]);
            self.complete_line(content, terminator, &mut out, &mut rewrite)?;
            rest = &rest[at + terminator_len..];
        }
        self.line.extend_from_slice(rest);
        self.check_size()?;
        Ok(out)
    }

    /// Whether part of an event (an unterminated line or event) is held, waiting for more bytes.
    pub fn has_pending(&self) -> bool {
        !self.line.is_empty() || !self.event.lines.is_empty()
    }

    /// End of stream: processes an unterminated final event as if a blank line followed it and emits
    /// it without that blank line (rewritten `data` lines end with LF; unchanged bytes stay as sent).
    ///
    /// The standard has clients discard such an event, so conforming clients see no difference; a
    /// lenient client that reads it anyway gets it masked rather than in clear. Returns nothing when
    /// the stream ended on an event boundary.
    ///
    /// # Errors
    /// As [`SseRewriter::push`], for the final event.
    pub fn finish(
        &mut self,
        mut rewrite: impl FnMut(&str) -> Option<String>,
    ) -> Result<Vec<u8>, SseError> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            self.complete_line(&[], &[], &mut out, &mut rewrite)?;
        }
        if !self.event.lines.is_empty() {
            self.dispatch(&[], &mut out, &mut rewrite)?;
        }
        Ok(out)
    }

    /// An LF right after a CR that ended the previous chunk: part of that line's terminator.
    fn extend_previous_terminator(&mut self, out: &mut Vec<u8>) {
        match self.event.lines.last_mut() {
            Some(last) => {
                self.event.raw.push(b'\n');
                last.end += 1;
            }
            // The CR was a blank line that already dispatched its event.
            None => {
                out.push(b'\n');
                self.event_offset += 1;
            }
        }
    }

    /// A line ends: `self.line` + `content`, then `terminator` (empty only from `finish`).
    fn complete_line(
        &mut self,
        content: &[u8],
        terminator: &[u8],
        out: &mut Vec<u8>,
        rewrite: &mut impl FnMut(&str) -> Option<String>,
    ) -> Result<(), SseError> {
        let at_stream_start = std::mem::replace(&mut self.at_stream_start, false);
        if self.line.is_empty() && content.is_empty() {
            return self.dispatch(terminator, out, rewrite);
        }
        let start = self.event.raw.len();
        self.event.raw.append(&mut self.line);
        self.event.raw.extend_from_slice(content);
        let content_end = self.event.raw.len();
        self.event.raw.extend_from_slice(terminator);
        let bom = at_stream_start && self.event.raw[start..content_end].starts_with(BOM);
        self.event.lines.push(LineSpan {
            start,
            content_start: if bom { start + BOM.len() } else { start },
            content_end,
            end: self.event.raw.len(),
        });
        self.check_size()
    }

    fn check_size(&self) -> Result<(), SseError> {
        if self.event.raw.len() + self.line.len() > self.max_event_bytes {
            return Err(SseError::EventTooLarge {
                offset: self.event_offset,
                limit: self.max_event_bytes,
            });
        }
        Ok(())
    }

    /// The event ends with the blank line `blank` (its terminator bytes): emit it and start anew.
    fn dispatch(
        &mut self,
        blank: &[u8],
        out: &mut Vec<u8>,
        rewrite: &mut impl FnMut(&str) -> Option<String>,
    ) -> Result<(), SseError> {
        let event = std::mem::take(&mut self.event);
        let offset = self.event_offset;
        self.event_offset += (event.raw.len() + blank.len()) as u64;
        match event
            .data()
            .map_err(|()| SseError::InvalidUtf8 { offset })?
        {
            Some(data) if !data.is_empty() => match rewrite(&data) {
                Some(new_data) => {
                    event.write_rewritten(&new_data, out);
                    // A last line ended by a lone CR (new data lines take the first data line's
                    // terminator; later data lines, dropped, may have separated a CR from the blank
                    // line), then the blank line's LF, would read as one CRLF: the event would not
                    // end here. End that line with CRLF instead.
                    if out.ends_with(b"\r") && blank.starts_with(b"\n") {
                        out.push(b'\n');
                    }
                }
                None => out.extend_from_slice(&event.raw),
            },
            _ => out.extend_from_slice(&event.raw),
        }
        out.extend_from_slice(blank);
        self.event.raw = event.raw;
        self.event.raw.clear();
        self.event.lines = event.lines;
        self.event.lines.clear();
        Ok(())
    }
}

impl Event {
    fn content(&self, line: &LineSpan) -> &[u8] {
        &self.raw[line.content_start..line.content_end]
    }

    /// The event's data, `None` when it has no `data` field; `Err` when a value is not UTF-8.
    fn data(&self) -> Result<Option<String>, ()> {
        let mut data: Option<String> = None;
        for line in &self.lines {
            let Some(value) = data_value(self.content(line)) else {
                continue;
            };
            let value = std::str::from_utf8(value).map_err(|_| ())?;
            match &mut data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => data = Some(value.to_owned()),
            }
        }
        Ok(data)
    }

    /// Writes the event with its `data` lines replaced by `new_data`'s lines.
    fn write_rewritten(&self, new_data: &str, out: &mut Vec<u8>) {
        let mut data_written = false;
        for line in &self.lines {
            if data_value(self.content(line)).is_none() {
                out.extend_from_slice(&self.raw[line.start..line.end]);
                continue;
            }
            if data_written {
                continue;
            }
            data_written = true;
            out.extend_from_slice(&self.raw[line.start..line.content_start]);
            let terminator = match &self.raw[line.content_end..line.end] {
                [] => b"\n".as_slice(),
                terminator => terminator,
            };
            for data_line in split_lines(new_data) {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(data_line.as_bytes());
                out.extend_from_slice(terminator);
            }
        }
    }
}

/// The value of a `data` field line, `None` for any other line.
fn data_value(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"data")?;
    match rest {
        [] => Some(rest),
        [b':', b' ', value @ ..] | [b':', value @ ..] => Some(value),
        _ => None,
    }
}

/// Splits at CRLF, LF and CR, as an SSE client would split the lines of a `data` field.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match memchr2(b'\r', b'\n', current.as_bytes()) {
            Some(at) => {
                let skip = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upper-cases data containing "secret": a stand-in for masking.
    fn shout(data: &str) -> Option<String> {
        data.contains("secret").then(|| data.to_uppercase())
    }

    fn one_push(input: &[u8]) -> Vec<u8> {
        let mut r = SseRewriter::new(1 << 16);
        let mut out = r.push(input, shout).unwrap();
        out.extend(r.finish(shout).unwrap());
        out
    }

    fn chunked(input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut r = SseRewriter::new(1 << 16);
        let mut out = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            out.extend(r.push(&input[from..cut], shout).unwrap());
            from = cut;
        }
        out.extend(r.finish(shout).unwrap());
        out
    }

    const STREAM: &str = concat!(
        "\u{FEFF}id: prime-1\r\ndata:\r\n\r\n",
        ": keep-alive comment\n\n",
        "event: message\r\nid: 2\r\ndata: {\"text\":\"secret é€😀\",\r\ndata:  \"n\":1}\r\nretry: 10\r\n\r\n",
        "data: nothing to see é€😀\r\r",
        "data:secret\rdata\r\r",
        "id: 3\ndata: secret one\n: inner comment\ndata: secret two\n\n",
        "data: unterminated secret"
    );

    #[test]
    fn rewrites_data_lines_and_keeps_other_lines_and_terminators() {
        let expected = concat!(
            "\u{FEFF}id: prime-1\r\ndata:\r\n\r\n",
            ": keep-alive comment\n\n",
            "event: message\r\nid: 2\r\ndata: {\"TEXT\":\"SECRET É€😀\",\r\ndata:  \"N\":1}\r\nretry: 10\r\n\r\n",
            "data: nothing to see é€😀\r\r",
            "data: SECRET\rdata: \r\r",
            "id: 3\ndata: SECRET ONE\ndata: SECRET TWO\n: inner comment\n\n",
            "data: UNTERMINATED SECRET\n"
        );
        assert_eq!(
            String::from_utf8(one_push(STREAM.as_bytes())).unwrap(),
            expected
        );
    }

    #[test]
    fn splitting_at_every_offset_gives_identical_output() {
        let input = STREAM.as_bytes();
        let whole = one_push(input);
        for cut in 0..=input.len() {
            assert_eq!(chunked(input, &[cut]), whole, "split at byte {cut}");
        }
        for (a, b) in [(3, 17), (40, 41), (60, 95), (1, 2)] {
            assert_eq!(chunked(input, &[a, b]), whole, "split at {a} and {b}");
        }
        let every_byte: Vec<usize> = (1..input.len()).collect();
        assert_eq!(chunked(input, &every_byte), whole, "1-byte chunks");
    }

    #[test]
    fn rewrite_sees_data_lines_joined_with_lf() {
        let mut r = SseRewriter::new(1024);
        let mut seen = Vec::new();
        r.push(b"data: a\r\ndata:b\ndata\rdata:  c\n\n", |d| {
            seen.push(d.to_owned());
            None
        })
        .unwrap();
        assert_eq!(seen, ["a\nb\n\n c"]);
    }

    #[test]
    fn unchanged_events_are_emitted_byte_for_byte_when_complete() {
        let mut r = SseRewriter::new(1024);
        assert_eq!(r.push(b"data: one\r\n", shout).unwrap(), b"");
        assert_eq!(
            r.push(b"\r\ndata: tw", shout).unwrap(),
            b"data: one\r\n\r\n"
        );
        assert_eq!(r.push(b"o\n\n", shout).unwrap(), b"data: two\n\n");
    }

    #[test]
    fn events_without_data_are_not_offered_for_rewriting() {
        let mut r = SseRewriter::new(1024);
        let out = r
            .push(b"id: 1\ndata:\n\n: c\n\nevent: x\n\n", |_| {
                panic!("no data")
            })
            .unwrap();
        assert_eq!(out, b"id: 1\ndata:\n\n: c\n\nevent: x\n\n");
    }

    #[test]
    fn bom_at_stream_start_does_not_hide_a_data_line() {
        let mut r = SseRewriter::new(1024);
        let out = r
            .push("\u{FEFF}data: secret\n\n".as_bytes(), shout)
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "\u{FEFF}data: SECRET\n\n");
    }

    #[test]
    fn field_named_like_data_but_longer_is_not_data() {
        let mut r = SseRewriter::new(1024);
        let out = r
            .push(b"datax: secret\n\n", |_| panic!("not data"))
            .unwrap();
        assert_eq!(out, b"datax: secret\n\n");
    }

    #[test]
    fn new_data_with_line_breaks_becomes_several_data_lines() {
        let mut r = SseRewriter::new(1024);
        let out = r
            .push(b"data: x\r\n\r\n", |_| Some("a\nb\r\nc\rd".to_owned()))
            .unwrap();
        assert_eq!(out, b"data: a\r\ndata: b\r\ndata: c\r\ndata: d\r\n\r\n");
    }

    #[test]
    fn rewritten_data_ended_by_a_lone_cr_is_not_joined_to_an_lf_blank_line() {
        // Found by core/tests/prop_sse.rs: the new data lines took the first data line's CR, and the
        // blank line's LF then made it one CRLF line end, so the event did not end there and the
        // client read it merged with the next one.
        let mut r = SseRewriter::new(1024);
        let out = r
            .push(b"data: secret\rdata:\n\nid: 2\ndata: next\n\n", shout)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "data: SECRET\rdata: \r\n\nid: 2\ndata: next\n\n"
        );
        // The same when the CR ends another line that the dropped later data lines followed.
        let out = r
            .push(b"data: secret\nevent: e\rdata: more\n\nid: 3\n\n", shout)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "data: SECRET\ndata: MORE\nevent: e\r\n\nid: 3\n\n"
        );
    }

    #[test]
    fn event_larger_than_limit_is_an_error_even_without_line_ends() {
        let mut r = SseRewriter::new(16);
        assert_eq!(r.push(b"data: 012345678\n\n", shout).unwrap().len(), 17);
        let e = r.push(b"data: 0123456789A", shout).unwrap_err();
        assert_eq!(
            e,
            SseError::EventTooLarge {
                offset: 17,
                limit: 16
            }
        );
        let mut r = SseRewriter::new(16);
        r.push(b"data: 01234\n", shout).unwrap();
        assert!(matches!(
            r.push(b"data: 56789\n", shout),
            Err(SseError::EventTooLarge { .. })
        ));
    }

    #[test]
    fn invalid_utf8_in_data_is_an_error_with_the_event_offset() {
        let mut r = SseRewriter::new(1024);
        let e = r
            .push(b"data: ok\n\ndata: \xff\xfe\n\n", shout)
            .unwrap_err();
        assert_eq!(e, SseError::InvalidUtf8 { offset: 10 });
        assert!(e.to_string().contains("byte 10"), "{e}");
    }

    #[test]
    fn utf8_sequence_split_across_chunks_is_reassembled() {
        let bytes = "data: secret 😀\n\n".as_bytes();
        let mut r = SseRewriter::new(1024);
        let mut out = r.push(&bytes[..15], shout).unwrap();
        assert!(out.is_empty());
        out.extend(r.push(&bytes[15..], shout).unwrap());
        assert_eq!(String::from_utf8(out).unwrap(), "data: SECRET 😀\n\n");
    }

    #[test]
    fn finish_on_event_boundary_emits_nothing() {
        let mut r = SseRewriter::new(1024);
        r.push(b"data: a\r", shout).unwrap();
        r.push(b"\r", shout).unwrap();
        assert_eq!(r.push(b"\n", shout).unwrap(), b"\n");
        assert!(r.finish(shout).unwrap().is_empty());
    }

    #[test]
    fn large_stream_in_small_chunks_is_linear() {
        // 4 MiB in 1 KiB chunks with one event spanning the whole stream would be quadratic if the
        // carried buffer were rescanned; with a 5 MiB bound this must finish quickly.
        let line = format!("data: {}\n", "x".repeat(1000));
        let input = line.repeat(4096);
        let mut r = SseRewriter::new(5 << 20);
        let start = std::time::Instant::now();
        for chunk in input.as_bytes().chunks(1024) {
            assert!(r.push(chunk, shout).unwrap().is_empty());
        }
        assert_eq!(r.finish(|_| None).unwrap().len(), input.len());
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
}
