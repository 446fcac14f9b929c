//! What a scanner did to one text: the masks it placed (with their labels) and the characters it may
//! have left in clear. Warden's output only shows `[REDACTED:NAME]` markers among the unchanged rest of
//! the text, so [`from_masked`] recovers the masked spans by aligning the output with the input;
//! Presidio reports its spans directly ([`from_spans`]).

use anyhow::{bail, ensure};

use super::REDACTED_PREFIX;

/// One mask: its detector name and the byte spans of the input it may cover (one span, unless the
/// alignment is ambiguous: the literal text after it also occurs inside the masked text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// Detector name (Warden's; Presidio's entities are mapped to it).
    pub label: String,
    /// Candidate `(start, end)` byte spans, each non-empty.
    pub spans: Vec<(usize, usize)>,
}

impl Mask {
    /// Whether some candidate span overlaps `start..end`.
    pub fn may_overlap(&self, start: usize, end: usize) -> bool {
        self.spans.iter().any(|&(s, e)| s < end && e > start)
    }
}

/// The result of scanning one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Per input byte: whether some alignment leaves it in clear.
    pub possibly_clear: Vec<bool>,
    /// The masks, in output order.
    pub masks: Vec<Mask>,
}

impl Outcome {
    /// Whether some byte of `start..end` may be in clear.
    pub fn leaks(&self, start: usize, end: usize) -> bool {
        self.possibly_clear[start..end].iter().any(|&c| c)
    }
}

/// A piece of masked output: text copied from the input, or a marker.
enum Token<'a> {
    Literal(&'a [u8]),
    Marker(&'a str),
}

/// Splits `masked` into literals and `[REDACTED:NAME]` markers (`NAME` in `A-Z`, `0-9`, `_`).
fn tokens(masked: &str) -> anyhow::Result<Vec<Token<'_>>> {
    let mut out = Vec::new();
    let mut rest = masked;
    while let Some(at) = rest.find(REDACTED_PREFIX) {
        let after = &rest[at + REDACTED_PREFIX.len()..];
        let Some(close) = after.find(']') else {
            bail!("unterminated marker in {masked:?}");
        };
        let name = &after[..close];
        ensure!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "marker with a bad name {name:?} in {masked:?}"
        );
        if at > 0 {
            out.push(Token::Literal(&rest.as_bytes()[..at]));
        }
        out.push(Token::Marker(name));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Token::Literal(rest.as_bytes()));
    }
    Ok(out)
}

/// Aligns `masked` (the output of masking `input` with the `redact` rendering) with `input`: every
/// way of reading the output as the input with some non-empty spans replaced by markers is
/// considered, and a byte counts as possibly clear when some reading leaves it in clear.
///
/// # Errors
/// `masked` cannot be read that way (masking changed unmasked text), or has a malformed marker.
pub fn from_masked(input: &str, masked: &str) -> anyhow::Result<Outcome> {
    let text = input.as_bytes();
    let n = text.len();
    let tokens = tokens(masked)?;
    let matches_at = |lit: &[u8], s: usize| text.get(s..s + lit.len()) == Some(lit);
    // forward[j][s]: tokens 0..j can consume exactly text[..s].
    let mut forward = vec![vec![false; n + 1]; tokens.len() + 1];
    forward[0][0] = true;
    for (j, token) in tokens.iter().enumerate() {
        match token {
            Token::Literal(lit) => {
                for s in 0..=n {
                    if forward[j][s] && matches_at(lit, s) {
                        forward[j + 1][s + lit.len()] = true;
                    }
                }
            }
            Token::Marker(_) => {
                if let Some(first) = forward[j].iter().position(|&f| f) {
                    for slot in &mut forward[j + 1][first + 1..] {
                        *slot = true;
                    }
                }
            }
        }
    }
    ensure!(
        forward[tokens.len()][n],
        "the masked output {masked:?} does not align with its input {input:?}"
    );
    // backward[j][s]: tokens j.. can consume exactly text[s..].
    let mut backward = vec![vec![false; n + 1]; tokens.len() + 1];
    backward[tokens.len()][n] = true;
    for (j, token) in tokens.iter().enumerate().rev() {
        match token {
            Token::Literal(lit) => {
                for s in 0..=n {
                    backward[j][s] = matches_at(lit, s) && backward[j + 1][s + lit.len()];
                }
            }
            Token::Marker(_) => {
                if let Some(last) = backward[j + 1].iter().rposition(|&b| b) {
                    for slot in backward[j].iter_mut().take(last) {
                        *slot = true;
                    }
                }
            }
        }
    }
    let mut possibly_clear = vec![false; n];
    let mut masks = Vec::new();
    for (j, token) in tokens.iter().enumerate() {
        match token {
            Token::Literal(lit) => {
                for s in (0..=n).filter(|&s| forward[j][s] && backward[j][s]) {
                    for clear in &mut possibly_clear[s..s + lit.len()] {
                        *clear = true;
                    }
                }
            }
            Token::Marker(label) => {
                let mut spans = Vec::new();
                for s in (0..n).filter(|&s| forward[j][s] && backward[j][s]) {
                    spans.extend((s + 1..=n).filter(|&e| backward[j + 1][e]).map(|e| (s, e)));
                }
                masks.push(Mask {
                    label: (*label).to_owned(),
                    spans,
                });
            }
        }
    }
    Ok(Outcome {
        possibly_clear,
        masks,
    })
}

/// The outcome of a scanner that reports its masks as byte spans of a text of `len` bytes.
///
/// # Errors
/// A span that is empty or outside the text.
pub fn from_spans(len: usize, spans: &[(usize, usize, String)]) -> anyhow::Result<Outcome> {
    let mut possibly_clear = vec![true; len];
    let mut masks = Vec::with_capacity(spans.len());
    for (start, end, label) in spans {
        ensure!(
            start < end && *end <= len,
            "span {start}..{end} of {label} outside a text of {len} bytes"
        );
        for clear in &mut possibly_clear[*start..*end] {
            *clear = false;
        }
        masks.push(Mask {
            label: label.clone(),
            spans: vec![(*start, *end)],
        });
    }
    Ok(Outcome {
        possibly_clear,
        masks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_marker_aligns_to_the_replaced_span() {
        let o = from_masked("card 4111 1111 ok", "card [REDACTED:CREDIT_CARD] ok").unwrap();
        assert_eq!(o.masks[0].spans, vec![(5, 14)]);
        assert!(!o.leaks(5, 14));
        assert!(o.leaks(4, 6));
    }

    #[test]
    fn an_ambiguous_literal_between_markers_makes_the_shared_bytes_possibly_clear() {
        // "a b c": the " " between the markers may be either space.
        let o = from_masked("a b c", "[REDACTED:X] [REDACTED:Y]").unwrap();
        assert_eq!(o.masks[0].spans, vec![(0, 1), (0, 3)]);
        assert_eq!(o.masks[1].spans, vec![(2, 5), (4, 5)]);
        assert!(o.leaks(1, 2) && o.leaks(3, 4));
        assert!(!o.leaks(0, 1) && !o.leaks(2, 3) && !o.leaks(4, 5));
    }

    #[test]
    fn output_that_changed_unmasked_text_is_refused() {
        assert!(from_masked("abc", "abd").is_err());
        assert!(from_masked("abc", "[REDACTED:bad]").is_err());
        assert!(from_masked("abc", "abc[REDACTED:X]").is_err());
    }

    #[test]
    fn nothing_masked_leaves_everything_clear() {
        let o = from_masked("abc", "abc").unwrap();
        assert!(o.masks.is_empty() && o.possibly_clear.iter().all(|&c| c));
    }
}
