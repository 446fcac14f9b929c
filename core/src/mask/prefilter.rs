//! A cheap scan of raw bytes (a JSON body, an SSE event's data, an escaped string leaf) that proves
//! no detector of a set can match anything the client will decode from them, so parsing and
//! rewriting can be skipped.
//!
//! It answers "may match" (conservatively) when the bytes hold:
//! - a `\u` escape (it could spell any character, an `@` or a digit included);
//! - for the card and SSN detectors: a run of at least 9 ASCII digits in groups joined by single
//!   spaces or dashes (an SSN has 9, a card 13 to 19), or a digit followed by an exponent marker
//!   (`4.1111111e15` is a number leaf whose decimal text, `4111111100000000.0`, is masked);
//! - for the e-mail detector: an `@`;
//! - for a custom detector: the literal every match of its pattern starts with (see
//!   [`required_literal`]), or always when no literal can be derived.
//!
//! Why this is exact enough: outside `\u` escapes, JSON escapes only spell `"`, `\`, `/` and control
//! characters, none of which a detector needs, so every digit, space, dash, `@` and letter of the
//! decoded text is in the raw bytes as itself; number leaves are masked as their decimal text, which
//! differs from the raw number only by exponent expansion (caught above), integers beyond 64 bits
//! (20 digits or more, caught by the digit run) and float rounding (which never lengthens a group of
//! digits).

use memchr::{memchr, memchr_iter};

/// Fewest digits a card number or an SSN has (an SSN: 3 + 2 + 4).
const FEWEST_DIGITS: usize = 9;

/// Which triggers to look for; built from a detector set.
#[derive(Debug, Default)]
pub(super) struct Triggers<'m> {
    /// The card or SSN detector is in the set.
    pub digits: bool,
    /// The e-mail detector is in the set.
    pub at_sign: bool,
    /// Literals of the custom detectors in the set.
    pub literals: Vec<&'m str>,
    /// A custom detector without a derivable literal is in the set: anything may match.
    pub opaque: bool,
}

impl Triggers<'_> {
    /// Whether a detector may match in the text `bytes` decode to (`false` proves it cannot).
    pub fn may_match(&self, bytes: &[u8]) -> bool {
        self.opaque
            || contains(bytes, b"\\u")
            || (self.at_sign && memchr(b'@', bytes).is_some())
            || (self.digits && has_long_digit_sequence_or_exponent(bytes))
            || self
                .literals
                .iter()
                .any(|literal| contains(bytes, literal.as_bytes()))
    }
}

/// Whether `needle` (not empty) occurs in `bytes`. Needles are short: a `memchr` on the first byte
/// is enough, and smaller in the `.wasm` than `memchr::memmem`.
fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    memchr_iter(first, bytes).any(|at| bytes[at + 1..].starts_with(rest))
}

/// A run of [`FEWEST_DIGITS`] digits in groups joined by one space or dash, or a digit followed by
/// `e`/`E`.
fn has_long_digit_sequence_or_exponent(bytes: &[u8]) -> bool {
    let mut digits = 0;
    let mut previous = 0u8;
    for (i, &byte) in bytes.iter().enumerate() {
        if byte.is_ascii_digit() {
            digits += 1;
            if digits >= FEWEST_DIGITS {
                return true;
            }
        } else if matches!(byte, b'e' | b'E') && previous.is_ascii_digit() {
            return true;
        } else {
            let joins = matches!(byte, b' ' | b'-')
                && previous.is_ascii_digit()
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !joins {
                digits = 0;
            }
        }
        previous = byte;
    }
    false
}

/// The literal text every match of `pattern` (regex-lite syntax) starts with, when one can be read
/// off its beginning: the leading run of letters, digits, `_` and `-`, less a last character a
/// quantifier makes optional. `None` when there is none, when the pattern has an alternation (`|`
/// anywhere) or when the literal could be part of a number's decimal text (only digits, `.`, `+`,
/// `-`, `e`, `E`): then the detector is treated as able to match anything.
pub(super) fn required_literal(pattern: &str) -> Option<String> {
    if pattern.contains('|') {
        return None;
    }
    let bytes = pattern.as_bytes();
    let mut end = bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')))
        .unwrap_or(bytes.len());
    if matches!(bytes.get(end), Some(b'?' | b'*' | b'{')) {
        end = end.saturating_sub(1);
    }
    let literal = &pattern[..end];
    let number_like = literal
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-' | b'e' | b'E'));
    (!number_like).then(|| literal.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built_ins() -> Triggers<'static> {
        Triggers {
            digits: true,
            at_sign: true,
            ..Triggers::default()
        }
    }

    #[test]
    fn text_without_triggers_cannot_match() {
        let t = built_ins();
        for text in [
            r#"{"id":"ord_0001","quantity":3,"updated":"2026-11-21T10:00:00Z"}"#,
            "call 555-0100 or 12345678",
            "1234 5678",
        ] {
            assert!(!t.may_match(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn digit_groups_of_nine_exponents_at_signs_and_unicode_escapes_may_match() {
        let t = built_ins();
        for text in [
            "123-45-6789",
            "4111 1111 1111 1111",
            "123456789",
            r#"{"n":4.1111111e15}"#,
            "a@b",
            r#"\u0034"#,
            r#"\\u0034"#,
        ] {
            assert!(t.may_match(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn double_separators_break_a_digit_sequence() {
        assert!(!built_ins().may_match(b"1234  5678 9"));
        assert!(!built_ins().may_match(b"1234--5678-9"));
    }

    #[test]
    fn detectors_outside_the_set_are_not_looked_for() {
        let emails_only = Triggers {
            at_sign: true,
            ..Triggers::default()
        };
        assert!(!emails_only.may_match(b"4111111111111111"));
        assert!(emails_only.may_match(b"x@y.io"));
    }

    #[test]
    fn custom_literals_and_opaque_patterns() {
        let t = Triggers {
            literals: vec!["sk-"],
            ..Triggers::default()
        };
        assert!(t.may_match(b"key sk-abc"));
        assert!(!t.may_match(b"key pk-abc"));
        let opaque = Triggers {
            opaque: true,
            ..Triggers::default()
        };
        assert!(opaque.may_match(b""));
    }

    #[test]
    fn literal_is_the_required_prefix_of_a_pattern() {
        assert_eq!(required_literal("sk-[a-z0-9]{8}").as_deref(), Some("sk-"));
        assert_eq!(required_literal("TCK-[0-9]+").as_deref(), Some("TCK-"));
        assert_eq!(required_literal("ab?c").as_deref(), Some("a"));
        assert_eq!(required_literal("tokx{0,2}").as_deref(), Some("tok"));
        assert_eq!(
            required_literal("AKIA[0-9A-Z]{16}").as_deref(),
            Some("AKIA")
        );
    }

    #[test]
    fn no_literal_for_alternations_classes_flags_and_number_like_text() {
        for pattern in [
            "a|b",
            "[a-z]+@",
            "(?i)secret",
            r"\d{4}",
            "1234",
            "x?",
            "e-5",
        ] {
            assert_eq!(required_literal(pattern), None, "{pattern}");
        }
    }
}
