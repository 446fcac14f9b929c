//! A cheap scan of raw bytes (a JSON body, an SSE event's data, an escaped string leaf) that proves
//! no detector of a set can match anything the client will decode from them, so parsing and
//! rewriting can be skipped; and, on a string about to be scanned, which built-in scanners can
//! match at all (each built-in runs only when one of its triggers fired).
//!
//! One pass over the bytes; only the bytes of `specials.rs` do any work, and an RFC 3339 timestamp
//! after a quote is passed over whole (its ten stops fire nothing; see [`timestamp`]). Triggers
//! ([`Trigger`]):
//! - `ESCAPE`: a `\u` escape (it could spell any character): every detector may match (wanted by
//!   [`Triggers::may_match`] in raw JSON only; in decoded text, where `\u` is two characters, it is not
//!   wanted);
//! - `DIGITS`: a run of at least 9 ASCII digits in groups joined by single spaces or dashes (an SSN
//!   or ITIN has 9, an NHS number 10, a card 13 to 19), or a digit followed by an exponent marker
//!   (`4.1111111e15` is a number leaf whose decimal text, `4111111100000000.0`, is masked);
//! - `AT`: an `@`; `PHONE`: a `+` before a digit or `(`, or 10 digits in groups joined by up to two
//!   of ` -.()`; `IPV4`: four dot-joined groups of at most 3 digits; `HEX_SEP`: `::` or six hex
//!   groups of 1–4 digits joined by one repeated `:` or `-`; `UPPER_DIGIT`: two capitals then a
//!   digit, maybe after a space (IBAN, NINO); `PASSPORT`: the word "passport" in any case;
//!   `WALLET`: `1`/`3` starting a token of 26+ letters and digits, `bc1`, `0x` before a hex digit;
//! - literals of the secret formats (`AKIA`, `ASIA`, `ghp_`…, `github_pat_`, `gl…-`, `xox?-`,
//!   `sk_live_`, `rk_live_`, `AIza`, `sk-`, `-----BEGIN `, `eyJ`), and `ASSIGN`: `=` or `:` after a
//!   name ending like a secret's (`password`, `token`, `api_key`…; see `secrets.rs`);
//! - `BLOB`: `blob` followed by a quote or a backslash (a base64 resource blob, decoded before
//!   masking; raw JSON only, as `ESCAPE`);
//! - for a custom detector: the literal every match of its pattern starts with (see
//!   [`required_literal`]), or always when no literal can be derived.
//!
//! Why this is exact enough: outside `\u` escapes, JSON escapes only spell `"`, `\`, `/` and control
//! characters, none of which a trigger needs except as a quote or space skipped before `:`, so every
//! digit, separator, `@` and letter of the decoded text is in the raw bytes as itself; number leaves
//! are masked as their decimal text, which differs from the raw number only by exponent expansion
//! (caught above), integers beyond 64 bits (20 digits or more, caught by the digit run) and float
//! rounding (which never lengthens a group of digits).

use memchr::memmem;

use super::secrets::{ends_like_secret_name, is_secret_tail};
use super::specials::Specials;

/// Trigger bits (see the module documentation).
pub(super) struct Trigger;

impl Trigger {
    pub const DIGITS: u32 = 1;
    pub const AT: u32 = 1 << 1;
    pub const PHONE: u32 = 1 << 2;
    pub const IPV4: u32 = 1 << 3;
    pub const HEX_SEP: u32 = 1 << 4;
    pub const UPPER_DIGIT: u32 = 1 << 5;
    pub const PASSPORT: u32 = 1 << 6;
    pub const WALLET: u32 = 1 << 7;
    pub const AWS: u32 = 1 << 8;
    pub const GITHUB: u32 = 1 << 9;
    pub const GITLAB: u32 = 1 << 10;
    pub const SLACK: u32 = 1 << 11;
    pub const STRIPE: u32 = 1 << 12;
    pub const GOOGLE: u32 = 1 << 13;
    pub const SK: u32 = 1 << 14;
    pub const PEM: u32 = 1 << 15;
    pub const JWT: u32 = 1 << 16;
    pub const ASSIGN: u32 = 1 << 17;
    pub const ESCAPE: u32 = 1 << 18;
    pub const BLOB: u32 = 1 << 19;
}

/// Fewest digits a card number, an SSN or an ITIN has (3 + 2 + 4).
const FEWEST_DIGITS: usize = 9;
/// Fewest digits of a national phone number with separators.
const FEWEST_PHONE_DIGITS: usize = 10;

/// Which triggers to look for; built from a detector set.
#[derive(Debug, Default)]
pub(super) struct Triggers<'m> {
    /// Trigger bits of the built-in detectors in the set.
    pub wanted: u32,
    /// Literals of the custom detectors in the set.
    pub literals: Vec<&'m str>,
    /// A custom detector without a derivable literal is in the set: anything may match.
    pub opaque: bool,
    /// The set has a detector: in raw JSON, a `\u` escape (which could spell anything) or a base64
    /// resource blob (decoded before masking) may match (`ESCAPE`, `BLOB`).
    pub any_detector: bool,
}

impl Triggers<'_> {
    /// Whether a detector may match in the text `bytes` decode to (`false` proves it cannot): the
    /// raw triggers (`ESCAPE`, `BLOB`) are looked for in the same pass as the others.
    pub fn may_match(&self, bytes: &[u8]) -> bool {
        let raw = if self.any_detector {
            Trigger::ESCAPE | Trigger::BLOB
        } else {
            0
        };
        self.may_fire(bytes, self.wanted | raw)
    }

    /// [`Triggers::may_match`] for bytes taken as text as they are, no escape or blob decoded (an
    /// object member's name as the JSON walker hands it: never escaped, never a blob's content).
    pub fn may_match_unescaped(&self, bytes: &[u8]) -> bool {
        self.may_fire(bytes, self.wanted)
    }

    /// Whether a trigger of `wanted` fires in `bytes`, a custom detector's literal occurs there, or
    /// the set has an opaque custom detector.
    fn may_fire(&self, bytes: &[u8], wanted: u32) -> bool {
        self.opaque
            || fired(bytes, wanted, true) != 0
            || self
                .literals
                .iter()
                .any(|literal| memmem::find(bytes, literal.as_bytes()).is_some())
    }
}

/// The triggers of `wanted` that fire in the text `bytes` as it is (no escape decoded). With `first`,
/// stops at the first one that fires.
pub(super) fn fired(bytes: &[u8], wanted: u32, first: bool) -> u32 {
    if wanted == 0 {
        return 0;
    }
    let mut fired = 0u32;
    let mut runs = Runs::default();
    let mut specials = Specials::new(bytes);
    let mut i = 0;
    loop {
        i = specials.next_from(i);
        let Some(&byte) = bytes.get(i) else {
            break;
        };
        if byte.is_ascii_digit() {
            let end = bytes[i..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(bytes.len(), |len| i + len);
            if end - i == 4 && bytes.get(end) == Some(&b'-') {
                if let Some((past, after)) = timestamp(bytes, i) {
                    (i, runs) = (past, after);
                    continue;
                }
            }
            if !quiet_group(bytes, i, end) {
                fired |= wanted & at_digit_group(bytes, i, end, &mut runs);
            }
            i = end;
        } else {
            fired |= wanted & at_special(bytes, i, byte);
            i += 1;
        }
        if fired != 0 && (first || fired == wanted) {
            break;
        }
    }
    fired
}

/// Whether the `:` or `_` at `i` provably fires no trigger ([`at_special`]), from the four bytes
/// before it and the one after; `false` when unsure, so that [`fired`] stops there as before.
/// - A member name's colon (`"id":`, or `\\"id\\":` in escaped JSON text) fires nothing when its
///   name's last two letters end no secret name ([`is_secret_tail`], the test
///   `ends_like_secret_name` makes first) and no second colon follows (`::`, an IPv6 address); a
///   quote is no hex digit, so it ends no MAC or IPv6 group.
/// - An underscore fires nothing unless it ends `gh?_`, `github_pat_` or `…_live_` (two bytes tell).
pub(super) fn quiet_stop(bytes: &[u8], i: usize) -> bool {
    let Some(&[before4, before3, before2, before1, byte, after]) = i
        .checked_sub(4)
        .and_then(|from| bytes.get(from..i + 2))
        .and_then(|window| <&[u8; 6]>::try_from(window).ok())
    else {
        return false;
    };
    match byte {
        b':' => {
            let (first, last) = if before2 == b'\\' {
                (before4, before3)
            } else {
                (before3, before2)
            };
            after != b':'
                && before1 == b'"'
                && !matches!(last, b'"' | b'\'' | b'\\' | b' ')
                && !is_secret_tail(first, last)
        }
        b'_' => {
            !(before2 == b'h' && matches!(before1, b'p' | b'o' | b'u' | b's' | b'r')
                || (before2 == b'a' && before1 == b't')
                || (before2 == b'v' && before1 == b'e'))
        }
        _ => false,
    }
}

/// Digit runs carried from one group of digits to the next.
#[derive(Default)]
struct Runs {
    /// Digits of the current sequence joined by single spaces or dashes.
    digits: usize,
    /// Digits of the current sequence joined by up to two of ` -.()`.
    phone: usize,
    /// Dots joining groups of at most 3 digits.
    dots: usize,
    /// Length of the previous group.
    group: usize,
}

/// An RFC 3339 date (`2026-11-21`) or date-time to the second (`2026-11-21T10:00:00`, before `Z`,
/// a fraction or an offset) starting at the digit group at `start`, as JSON carries timestamps: after
/// a quote or at the start of the text. Returns where it ends and the runs after its last group.
///
/// Its stops (a date-time's ten: six digit groups, two `-`, two `:`; a date's five) fire nothing, so
/// [`fired`] passes over them: its groups join to at most 8 digits (a date; `T` and `:` join
/// nothing), fewer than [`FEWEST_DIGITS`] and [`FEWEST_PHONE_DIGITS`]; no group is dotted, follows
/// two capitals or starts a wallet; each of its `-` and `:` sees at most three hex groups joined by
/// it (the quote before, the `T` and the byte after end the chains), and the names before its colons
/// end in digits; a `Z` after the seconds must not go on into a token (seconds starting with 1 or 3
/// would start a wallet's). What follows is read as usual, from the runs its last group leaves.
// Kept out of `fired`'s loop: inlined, it cost that loop about 1 % more wasm operators on PII-dense
// bodies and 6 % on timestamp-heavy ones (`WASMTIME_FUEL=1` wasm_stages).
#[inline(never)]
fn timestamp(bytes: &[u8], start: usize) -> Option<(usize, Runs)> {
    const DATE: &[u8] = b"dddd-dd-dd";
    const TIME: &[u8] = b"Tdd:dd:dd";
    let shaped = |shape: &[u8], at: usize| {
        bytes.get(at..at + shape.len()).is_some_and(|part| {
            part.iter().zip(shape).all(|(&byte, &want)| match want {
                b'd' => byte.is_ascii_digit(),
                _ => byte == want,
            })
        })
    };
    if (start > 0 && bytes[start - 1] != b'"') || !shaped(DATE, start) {
        return None;
    }
    let date_end = start + DATE.len();
    let two_digits = |digits| Runs {
        digits,
        phone: digits,
        dots: 0,
        group: 2,
    };
    if shaped(TIME, date_end) {
        let end = date_end + TIME.len();
        // After `Z`, no letter or digit: seconds starting with 1 or 3 would start a wallet's token.
        let ends = match bytes.get(end) {
            None | Some(b'"' | b'\\' | b'.' | b'+' | b'-') => true,
            Some(b'Z') => !bytes.get(end + 1).is_some_and(u8::is_ascii_alphanumeric),
            Some(_) => false,
        };
        ends.then(|| (end, two_digits(2)))
    } else {
        matches!(bytes.get(date_end), None | Some(b'"' | b'\\')).then(|| (date_end, two_digits(8)))
    }
}

fn digit(bytes: &[u8], i: Option<usize>) -> bool {
    i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit)
}

fn token_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-')
}

/// Whether the `[i - n]` byte satisfies `test` (false before the start).
fn before(bytes: &[u8], i: usize, n: usize, test: impl Fn(u8) -> bool) -> bool {
    i.checked_sub(n).is_some_and(|j| test(bytes[j]))
}

/// Whether `word` is "passport" in any case, in one comparison: setting bit 5 of each byte lower-cases
/// a letter and turns a byte into a lowercase letter only if it is that letter in either case.
fn is_passport(word: [u8; 8]) -> bool {
    u64::from_le_bytes(word) | u64::from_le_bytes([0x20; 8]) == u64::from_le_bytes(*b"passport")
}

/// The triggers the non-digit special byte at `i` fires.
fn at_special(bytes: &[u8], i: usize, byte: u8) -> u32 {
    let ends_with = |literal: &[u8]| bytes[..=i].ends_with(literal);
    let starts_with = |literal: &[u8]| bytes[i..].starts_with(literal);
    match byte {
        b'@' => Trigger::AT,
        b'+' => match bytes.get(i + 1) {
            Some(b'0'..=b'9' | b'(') => Trigger::PHONE,
            _ => 0,
        },
        b':' | b'=' => {
            let mut fired = 0;
            if byte == b':'
                && (bytes.get(i + 1) == Some(&b':')
                    || (before(bytes, i, 1, |b| b.is_ascii_hexdigit())
                        && hex_groups_from(bytes, i)))
            {
                fired |= Trigger::HEX_SEP;
            }
            if ends_like_secret_name(&bytes[..i]) {
                fired |= Trigger::ASSIGN;
            }
            fired
        }
        b'-' => {
            let mut fired = 0;
            if before(bytes, i, 1, |b| b.is_ascii_hexdigit()) && hex_groups_from(bytes, i) {
                fired |= Trigger::HEX_SEP;
            }
            if bytes.get(i + 1) == Some(&b'-') && starts_with(b"-----BEGIN ") {
                fired |= Trigger::PEM;
            }
            match i.checked_sub(1).map(|j| bytes[j]) {
                Some(b'k') if ends_with(b"sk-") => fired |= Trigger::SK,
                Some(b'a' | b'b' | b'e' | b'p' | b'r' | b's')
                    if i >= 4 && &bytes[i - 4..i - 1] == b"xox" =>
                {
                    fired |= Trigger::SLACK;
                }
                Some(b't' | b's')
                    if [
                        b"glpat-".as_slice(),
                        b"gldt-",
                        b"glrt-",
                        b"glptt-",
                        b"glcbt-",
                        b"glft-",
                        b"glimt-",
                        b"gloas-",
                    ]
                    .iter()
                    .any(|p| ends_with(p)) =>
                {
                    fired |= Trigger::GITLAB;
                }
                _ => {}
            }
            fired
        }
        b'_' => match i.checked_sub(1).map(|j| bytes[j]) {
            Some(b'p' | b'o' | b'u' | b's' | b'r') if i >= 3 && &bytes[i - 3..i - 1] == b"gh" => {
                Trigger::GITHUB
            }
            Some(b't') if ends_with(b"github_pat_") => Trigger::GITHUB,
            Some(b'e') if ends_with(b"sk_live_") || ends_with(b"rk_live_") => Trigger::STRIPE,
            _ => 0,
        },
        b'A' => {
            if starts_with(b"AKIA") || starts_with(b"ASIA") {
                Trigger::AWS
            } else if starts_with(b"AIza") {
                Trigger::GOOGLE
            } else {
                0
            }
        }
        b'J' if i >= 2 && &bytes[i - 2..i] == b"ey" => Trigger::JWT,
        b'\\' if bytes.get(i + 1) == Some(&b'u') => Trigger::ESCAPE,
        // `blob` before a quote, or a backslash (an escaped quote in escaped JSON text).
        b'b' if bytes[i..].starts_with(b"blob")
            && matches!(bytes.get(i + 4), Some(b'"' | b'\\')) =>
        {
            Trigger::BLOB
        }
        b'p' | b'P'
            if bytes
                .get(i..i + 8)
                .and_then(|word| word.try_into().ok())
                .is_some_and(is_passport) =>
        {
            Trigger::PASSPORT
        }
        b'x' | b'X'
            if before(bytes, i, 1, |b| b == b'0')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit) =>
        {
            Trigger::WALLET
        }
        _ => 0,
    }
}

/// Whether the maximal digit group `bytes[start..end]` can neither fire a trigger nor be joined to the
/// next group, so that [`at_digit_group`] can be skipped (most groups in JSON: ids, counts, dates'
/// last parts). Then it has fewer than 9 digits; no separator, uppercase letter or `c` (of `bc1`)
/// before it; no separator or exponent marker after it; and it does not start a token of letters
/// and digits with `1` or `3` (a wallet). The runs [`at_digit_group`] carries are then stale but
/// never read: a group reads them only when joined to the group before it, whose next byte is a
/// separator, and that group is never quiet.
fn quiet_group(bytes: &[u8], start: usize, end: usize) -> bool {
    let before = start.checked_sub(1).map_or(b'"', |j| bytes[j]);
    let after = bytes.get(end).copied().unwrap_or(b'"');
    end - start < FEWEST_DIGITS
        && !matches!(
            before,
            b' ' | b'-' | b'.' | b'(' | b')' | b'A'..=b'Z' | b'c'
        )
        && !matches!(after, b' ' | b'-' | b'.' | b'(' | b')' | b'e' | b'E')
        && (!matches!(bytes[start], b'1' | b'3') || !after.is_ascii_alphanumeric())
}

/// The triggers the maximal digit group `bytes[start..end]` fires, carrying `runs` from the group
/// before.
fn at_digit_group(bytes: &[u8], start: usize, end: usize, runs: &mut Runs) -> u32 {
    let len = end - start;
    let mut fired = 0;
    // Card, SSN, ITIN, NHS: groups joined by one space or dash.
    let joined =
        before(bytes, start, 1, |b| matches!(b, b' ' | b'-')) && digit(bytes, start.checked_sub(2));
    runs.digits = if joined { runs.digits + len } else { len };
    if runs.digits >= FEWEST_DIGITS || matches!(bytes.get(end), Some(b'e' | b'E')) {
        fired |= Trigger::DIGITS;
    }
    // Phone numbers: up to two separators of ` -.()` between groups.
    let phone_sep = |b: u8| matches!(b, b' ' | b'-' | b'.' | b'(' | b')');
    let phone_joined = before(bytes, start, 1, phone_sep)
        && (digit(bytes, start.checked_sub(2))
            || (before(bytes, start, 2, phone_sep) && digit(bytes, start.checked_sub(3))));
    runs.phone = if phone_joined { runs.phone + len } else { len };
    if runs.phone >= FEWEST_PHONE_DIGITS {
        fired |= Trigger::PHONE;
    }
    // IPv4: dot-joined groups of at most 3 digits.
    let dotted = before(bytes, start, 1, |b| b == b'.')
        && digit(bytes, start.checked_sub(2))
        && runs.group <= 3;
    runs.dots = if dotted { runs.dots + 1 } else { 0 };
    runs.group = len;
    if runs.dots >= 3 && len <= 3 {
        fired |= Trigger::IPV4;
    }
    // IBAN, NINO: two capitals then a digit, maybe after one space.
    let upper = |n: usize| before(bytes, start, n, |b| b.is_ascii_uppercase());
    if (upper(1) && upper(2)) || (before(bytes, start, 1, |b| b == b' ') && upper(2) && upper(3)) {
        fired |= Trigger::UPPER_DIGIT;
    }
    // Wallets: a base58 token starting with 1 or 3, or `bc1`.
    let first = bytes[start];
    if matches!(first, b'1' | b'3')
        && !before(bytes, start, 1, token_char)
        && bytes.len() - start >= 26
        && bytes[start + 1..start + 26]
            .iter()
            .all(u8::is_ascii_alphanumeric)
    {
        fired |= Trigger::WALLET;
    }
    if first == b'1' && start >= 2 && bytes[start - 2..start].eq_ignore_ascii_case(b"bc") {
        fired |= Trigger::WALLET;
    }
    fired
}

/// From the separator at `at` (`:` or `-`) after a hex group of 1–4 digits: whether five separators
/// of the same kind join six such groups (MAC, full IPv6).
fn hex_groups_from(bytes: &[u8], at: usize) -> bool {
    let separator = bytes[at];
    let group_before = bytes[..at]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    if !(1..=4).contains(&group_before) {
        return false;
    }
    let mut seps = 1;
    let mut j = at + 1;
    loop {
        let len = bytes[j.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .take(5)
            .count();
        if !(1..=4).contains(&len) {
            return false;
        }
        j += len;
        if seps >= 5 {
            return true;
        }
        if bytes.get(j) != Some(&separator) {
            return false;
        }
        seps += 1;
        j += 1;
    }
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
    use crate::mask::specials::SPECIALS;
    use crate::test_rng::Rng;

    /// The triggers of the three original built-ins (cards and SSNs, e-mail), as a set holding them
    /// builds them.
    fn built_ins() -> Triggers<'static> {
        Triggers {
            wanted: Trigger::DIGITS | Trigger::AT,
            any_detector: true,
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

    /// [`fired`] without its shortcuts ([`quiet_group`], [`timestamp`]): every special byte read, every
    /// digit group by [`at_digit_group`].
    fn fired_at_every_stop(bytes: &[u8], wanted: u32) -> u32 {
        let (mut fired, mut runs, mut i) = (0, Runs::default(), 0);
        loop {
            i = (i..bytes.len())
                .find(|&j| SPECIALS.contains(&bytes[j]))
                .unwrap_or(bytes.len());
            let Some(&byte) = bytes.get(i) else {
                return fired;
            };
            if byte.is_ascii_digit() {
                let end = i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                fired |= wanted & at_digit_group(bytes, i, end, &mut runs);
                i = end;
            } else {
                fired |= wanted & at_special(bytes, i, byte);
                i += 1;
            }
        }
    }

    /// Asserts that [`fired`] on `text` fires what [`fired_at_every_stop`] fires, for every trigger or
    /// one drawn from `rng` (another trigger firing elsewhere must not hide a difference); returns
    /// whether any fired.
    fn fires_as_at_every_stop(text: &[u8], rng: &mut Rng) -> bool {
        let every = (Trigger::BLOB << 1) - 1;
        let wanted = match rng.below(2) {
            0 => every,
            _ => 1 << rng.below(every.count_ones() as usize),
        };
        let expected = fired_at_every_stop(text, wanted);
        assert_eq!(
            fired(text, wanted, false),
            expected,
            "{:?}",
            String::from_utf8_lossy(text)
        );
        expected != 0
    }

    #[test]
    fn skipping_quiet_digit_groups_fires_the_same_triggers() {
        const ALPHABET: &[u8] = b"0123456789000111333   ---...()eEAZcCbBxX:_\"+@q";
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut fired_some = 0;
        for _ in 0..200_000 {
            let len = rng.below(48);
            let text: Vec<u8> = (0..len).map(|_| *rng.pick(ALPHABET)).collect();
            fired_some += usize::from(fires_as_at_every_stop(&text, &mut rng));
        }
        assert!(fired_some > 5_000, "{fired_some}");
    }

    #[test]
    fn passing_over_quiet_colons_underscores_and_leads_fires_the_same_triggers() {
        // Member names (secret ones, their tails in either case, others), what may come between a
        // name and its colon, the prefixes `_` ends, hex groups, and the lead bytes with and without
        // their letters (`passport`, `\u`, `blob"`): long enough texts that whole 16-byte blocks are
        // classified (the quiet stops are cleared only there).
        const PARTS: &[&str] = &[
            "\"",
            "\\\"",
            ":",
            "::",
            "_",
            " ",
            "'",
            "\\",
            "p",
            "P",
            "a",
            "A",
            "x",
            "{",
            ",",
            "\"id",
            "\"name",
            "\"warehouse",
            "\"token",
            "\"api_key",
            "\"passWORD",
            "\"aws_secret_key",
            "se",
            "SE",
            "rd",
            "wd",
            "et",
            "En",
            "ey",
            "on",
            "ord",
            "ed",
            "gh",
            "ghp",
            "ghs",
            "github_pat",
            "sk_live",
            "rk_live",
            "unit",
            "price",
            "passport",
            "PASSPORT",
            "pas",
            "ab",
            "12",
            "0f",
            "3a",
            "-",
            "@",
            "=",
            "\\u",
            "\\\\u",
            "u",
            "U",
            "b",
            "bl",
            "blob",
            "BLOB",
            "l",
        ];
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let mut fired_some = 0;
        for _ in 0..100_000 {
            let parts = 4 + rng.below(24);
            let text: Vec<u8> = (0..parts).flat_map(|_| rng.pick(PARTS).bytes()).collect();
            fired_some += usize::from(fires_as_at_every_stop(&text, &mut rng));
        }
        assert!(fired_some > 5_000, "{fired_some}");
    }

    #[test]
    fn quiet_stops_fire_nothing_where_they_are_proved_quiet() {
        let cases: &[(&str, bool)] = &[
            ("{\"id\":1,\"name\":2}", true),
            ("[{\\\"id\\\":1}]", true),
            ("{\"api_key\":\"x\"}", false),
            ("[{\\\"token\\\":1}]", false),
            ("{\"Password\" :1}", false),
            ("{\"a\"::1}", false),
            ("ord_12 unit_price", true),
            ("ghp_ github_pat_ sk_live_", false),
        ];
        for &(text, quiet) in cases {
            let bytes = text.as_bytes();
            let stops = (0..bytes.len()).filter(|&i| matches!(bytes[i], b':' | b'_'));
            let proved: Vec<bool> = stops.map(|i| quiet_stop(bytes, i)).collect();
            assert!(!proved.is_empty(), "{text}");
            if quiet {
                assert!(proved.iter().skip(1).all(|&q| q), "{text}: {proved:?}");
            } else {
                assert!(!proved.iter().all(|&q| q), "{text}: {proved:?}");
            }
        }
    }

    #[test]
    fn passing_over_timestamps_fires_the_same_triggers() {
        // Timestamps, their parts, and what could join, extend or follow them.
        const PARTS: &[&str] = &[
            "2026-11-21",
            "\"2026-11-21",
            "\"1999-01-02T13:35:37",
            "1999-01-02",
            "T10:00:00",
            "T13:35:37",
            "2026-11-21T10:00:00",
            "\"",
            "\\\"",
            "Z",
            "z",
            ".",
            "+",
            "-",
            ":",
            " ",
            "e",
            "1",
            "3",
            "12",
            "1234",
            "ab",
            "AB",
            "bc",
            "0x",
            "Zabcdefghijklmnopqrstuvwxyz1",
            "T",
            "::",
            "password",
            "a:b:c:d:e",
        ];
        const ALPHABET: &[u8] = b"0123456789-: .\"Ze";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut passed_over, mut fired_some) = (0, 0);
        for _ in 0..200_000 {
            let mut text = Vec::new();
            for _ in 0..1 + rng.below(8) {
                text.extend_from_slice(rng.pick(PARTS).as_bytes());
            }
            for _ in 0..rng.below(3) {
                let at = rng.below(text.len());
                text[at] = *rng.pick(ALPHABET);
            }
            passed_over += usize::from((0..text.len()).any(|i| timestamp(&text, i).is_some()));
            fired_some += usize::from(fires_as_at_every_stop(&text, &mut rng));
        }
        assert!(passed_over > 15_000, "{passed_over}");
        assert!(fired_some > 30_000, "{fired_some}");
    }

    #[test]
    fn timestamps_are_dates_and_date_times_after_a_quote() {
        for (text, at, end) in [
            ("2026-11-21", 0, Some(10)),
            ("\"2026-11-21\"", 1, Some(11)),
            ("\"2026-11-21T10:00:00Z\"", 1, Some(20)),
            ("\"2026-11-21T10:00:00.5+01:00\"", 1, Some(20)),
            ("\"2026-11-21T10:00:00Z1\"", 1, None),
            ("\"2026-11-21T10:00:00:00\"", 1, None),
            ("\"2026-11-21T10:00\"", 1, None),
            ("\"2026-11-21-ab\"", 1, None),
            (" 2026-11-21\"", 1, None),
            ("\"2026-11-211\"", 1, None),
        ] {
            assert_eq!(
                timestamp(text.as_bytes(), at).map(|(end, _)| end),
                end,
                "{text}"
            );
        }
    }

    #[test]
    fn passport_is_recognised_in_any_case_and_nothing_else() {
        for at in 0..8 {
            for byte in 0..=255u8 {
                let mut word = *b"PassPort";
                word[at] = byte;
                assert_eq!(
                    is_passport(word),
                    word.eq_ignore_ascii_case(b"passport"),
                    "{word:?}"
                );
            }
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
            wanted: Trigger::AT,
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
