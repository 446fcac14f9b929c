//! How a masked value is written in its place: `redact`, `partial` or `hash` (see `docs/detectors.md`,
//! "Rendering").
//!
//! - `redact`: `[REDACTED:<NAME>]`.
//! - `partial`: `[REDACTED:<NAME>]` followed by the value's last `keep` characters (default 4, never
//!   more than half of the value's characters, so a short value is never shown whole); an e-mail
//!   address keeps its `@domain` instead (`[REDACTED:EMAIL_ADDRESS]@example.com`).
//! - `hash`: `[HASH:<NAME>:<8 lowercase hex>]`, the first 4 bytes of HMAC-SHA-256 (RFC 2104) keyed
//!   with the operator's key over `<NAME>`, a zero byte and the normalized value (separators dropped
//!   from numbers, e-mail addresses lowercased), so the same value correlates across records of a
//!   detector without being readable. 32 bits: expect a collision among ~65 000 distinct values.

use crate::config::{RenderConfig, RenderMode};

/// Characters `partial` keeps when the configuration says nothing.
pub(super) const DEFAULT_KEEP: u8 = 4;

/// A compiled rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Render {
    /// `[REDACTED:<NAME>]`.
    Redact,
    /// Keep the last `keep` characters (or the e-mail domain).
    Partial { keep: u8 },
    /// Keyed hash.
    Hash,
}

impl Render {
    pub(super) fn from_config(config: &RenderConfig) -> Self {
        match config.mode {
            RenderMode::Redact => Render::Redact,
            RenderMode::Partial => Render::Partial {
                keep: config.keep.unwrap_or(DEFAULT_KEEP),
            },
            RenderMode::Hash => Render::Hash,
        }
    }

    /// Rank by what the rendering reveals (lower reveals less): `redact` < `hash` < `partial`
    /// (fewer kept characters first). Two profiles rendering one detector differently combine to
    /// the one revealing less.
    fn reveals(self) -> (u8, u8) {
        match self {
            Render::Redact => (0, 0),
            Render::Hash => (1, 0),
            Render::Partial { keep } => (2, keep),
        }
    }

    /// The rendering of the two that reveals less.
    pub(super) fn stricter(self, other: Render) -> Render {
        if other.reveals() < self.reveals() {
            other
        } else {
            self
        }
    }
}

/// Whether detector `name` is matched on a value whose separators carry no meaning (digits and
/// letters grouped by spaces, dashes, dots or parentheses): those are dropped before hashing.
fn separators_insignificant(name: &str) -> bool {
    matches!(
        name,
        "CREDIT_CARD"
            | "US_SSN"
            | "US_ITIN"
            | "UK_NHS"
            | "UK_NINO"
            | "IBAN_CODE"
            | "PHONE_NUMBER"
            | "MAC_ADDRESS"
    )
}

/// Writes the rendering of `value`, a match of detector `name`, to `out`. `key` is the `hash` key
/// (present whenever a `hash` rendering was compiled).
pub(super) fn render(render: Render, name: &str, value: &str, key: &[u8], out: &mut String) {
    match render {
        Render::Redact => push_redacted(name, out),
        Render::Partial { keep } => {
            push_redacted(name, out);
            out.push_str(kept_suffix(name, value, keep));
        }
        Render::Hash => {
            let mut mac = hmac_sha256::HMAC::new(key);
            mac.update(name.as_bytes());
            mac.update([0u8]);
            if separators_insignificant(name) {
                for byte in value.bytes() {
                    if !matches!(byte, b' ' | b'-' | b'.' | b'(' | b')' | b':') {
                        mac.update([byte.to_ascii_uppercase()]);
                    }
                }
            } else if name == "EMAIL_ADDRESS" {
                mac.update(value.to_ascii_lowercase().as_bytes());
            } else {
                mac.update(value.as_bytes());
            }
            let tag = mac.finalize();
            out.push_str("[HASH:");
            out.push_str(name);
            out.push(':');
            for byte in &tag[..4] {
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
            out.push(']');
        }
    }
}

/// Lowercase hexadecimal digits.
pub(super) const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_redacted(name: &str, out: &mut String) {
    out.push_str("[REDACTED:");
    out.push_str(name);
    out.push(']');
}

/// What `partial` shows of `value`: an e-mail's `@domain`, else its last `keep` characters but at
/// most half of them.
fn kept_suffix<'v>(name: &str, value: &'v str, keep: u8) -> &'v str {
    if name == "EMAIL_ADDRESS" {
        if let Some(at) = value.rfind('@') {
            return &value[at..];
        }
    }
    let chars = value.chars().count();
    let keep = usize::from(keep).min(chars / 2);
    let start = value
        .char_indices()
        .nth(chars - keep)
        .map_or(value.len(), |(i, _)| i);
    &value[start..]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn rendered(r: Render, name: &str, value: &str) -> String {
        let mut out = String::new();
        render(r, name, value, b"0123456789abcdef0123", &mut out);
        out
    }

    #[test]
    fn redact_partial_and_hash_formats() {
        assert_eq!(
            rendered(Render::Redact, "US_SSN", "078-05-1120"),
            "[REDACTED:US_SSN]"
        );
        assert_eq!(
            rendered(
                Render::Partial { keep: 4 },
                "CREDIT_CARD",
                "4111 1111 1111 1234"
            ),
            "[REDACTED:CREDIT_CARD]1234"
        );
        assert_eq!(
            rendered(
                Render::Partial { keep: 4 },
                "EMAIL_ADDRESS",
                "jane@example.com"
            ),
            "[REDACTED:EMAIL_ADDRESS]@example.com"
        );
        let hash = rendered(Render::Hash, "EMAIL_ADDRESS", "jane@example.com");
        assert!(hash.starts_with("[HASH:EMAIL_ADDRESS:") && hash.ends_with(']'));
        assert_eq!(hash.len(), "[HASH:EMAIL_ADDRESS:]".len() + 8);
    }

    #[test]
    fn partial_never_shows_more_than_half_a_value() {
        assert_eq!(
            rendered(Render::Partial { keep: 4 }, "SECRET_ASSIGNMENT", "abcdef"),
            "[REDACTED:SECRET_ASSIGNMENT]def"
        );
        assert_eq!(
            rendered(Render::Partial { keep: 4 }, "SECRET_ASSIGNMENT", "é"),
            "[REDACTED:SECRET_ASSIGNMENT]"
        );
        assert_eq!(
            rendered(Render::Partial { keep: 2 }, "SECRET_ASSIGNMENT", "ab€😀"),
            "[REDACTED:SECRET_ASSIGNMENT]€😀"
        );
    }

    #[test]
    fn hash_is_keyed_per_detector_and_ignores_separators_and_email_case() {
        let a = rendered(Render::Hash, "CREDIT_CARD", "4111 1111 1111 1111");
        assert_eq!(
            a,
            rendered(Render::Hash, "CREDIT_CARD", "4111-1111-1111-1111")
        );
        assert_ne!(a, rendered(Render::Hash, "CREDIT_CARD", "5555555555554444"));
        assert_eq!(
            rendered(Render::Hash, "EMAIL_ADDRESS", "Jane@Example.com"),
            rendered(Render::Hash, "EMAIL_ADDRESS", "jane@example.com")
        );
        let mut other_key = String::new();
        render(
            Render::Hash,
            "CREDIT_CARD",
            "4111111111111111",
            b"another key of 16+ bytes",
            &mut other_key,
        );
        assert_ne!(a, other_key);
    }

    #[test]
    fn hash_matches_an_independent_hmac() {
        let key = b"0123456789abcdef0123";
        let tag = hmac_sha256::HMAC::mac(b"US_SSN\x00078051120", key);
        let expected: String = tag[..4].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            rendered(Render::Hash, "US_SSN", "078-05-1120"),
            format!("[HASH:US_SSN:{expected}]")
        );
    }

    #[test]
    fn the_stricter_rendering_reveals_less() {
        let partial = Render::Partial { keep: 4 };
        assert_eq!(partial.stricter(Render::Hash), Render::Hash);
        assert_eq!(Render::Hash.stricter(Render::Redact), Render::Redact);
        assert_eq!(
            partial.stricter(Render::Partial { keep: 2 }),
            Render::Partial { keep: 2 }
        );
    }
}
