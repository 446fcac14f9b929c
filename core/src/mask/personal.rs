//! Personal identifiers beyond the digit groups: IBANs, phone numbers, IP and MAC addresses, UK
//! National Insurance numbers and US passport numbers. Each scanner reports `found(start, end)` byte
//! spans of ASCII text, so spans always fall on UTF-8 character boundaries.

use std::net::Ipv6Addr;
use std::str::FromStr;

use memchr::memchr_iter;

use super::detectors::{ends_token, is_word, starts_token};

/// Callback receiving one match's byte span.
pub(super) type Found<'f> = &'f mut dyn FnMut(usize, usize);

/// Tries `match_at(i)` at every byte offset `i` of `text` left to right, reporting each match and
/// resuming after it.
pub(super) fn scan_from(
    text: &[u8],
    found: Found<'_>,
    mut match_at: impl FnMut(usize) -> Option<usize>,
) {
    let mut i = 0;
    while i < text.len() {
        match match_at(i) {
            Some(end) => {
                found(i, end);
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
}

/// IBANs (ISO 13616): two capital letters, two check digits and the BBAN, compact
/// (`DE89370400440532013000`) or in groups of four joined by single spaces (`DE89 3704 ...`). The
/// candidate must pass `iban_validate`: the country's length and BBAN format, and mod-97 = 1.
pub(super) fn scan_ibans(text: &[u8], found: Found<'_>) {
    let candidate = |i: usize| {
        text.len() - i >= 4
            && text[i].is_ascii_uppercase()
            && text[i + 1].is_ascii_uppercase()
            && text[i + 2].is_ascii_digit()
            && text[i + 3].is_ascii_digit()
            && starts_token(text, i)
    };
    scan_from(text, found, |i| {
        candidate(i).then(|| iban_from(text, i)).flatten()
    });
}

fn is_iban_char(byte: u8) -> bool {
    byte.is_ascii_uppercase() || byte.is_ascii_digit()
}

fn iban_from(text: &[u8], start: usize) -> Option<usize> {
    // Compact: the whole token is the IBAN.
    let mut end = start;
    while end < text.len() && is_iban_char(text[end]) {
        end += 1;
    }
    if ends_token(text, end) && (15..=34).contains(&(end - start)) && valid_iban(&text[start..end])
    {
        return Some(end);
    }
    // Grouped by four: try the longest run of groups first.
    if end - start != 4 {
        return None;
    }
    let mut compact = Vec::with_capacity(34);
    let mut ends = Vec::new();
    let mut at = start;
    loop {
        let group_end = (at..text.len())
            .find(|&j| !is_iban_char(text[j]))
            .unwrap_or(text.len());
        let len = group_end - at;
        if len == 0 || len > 4 || compact.len() + len > 34 || !ends_token(text, group_end) {
            break;
        }
        compact.extend_from_slice(&text[at..group_end]);
        ends.push((group_end, compact.len()));
        if len < 4 || text.get(group_end) != Some(&b' ') {
            break;
        }
        at = group_end + 1;
    }
    ends.iter()
        .rev()
        .find(|&&(_, len)| len >= 15 && valid_iban(&compact[..len]))
        .map(|&(end, _)| end)
}

fn valid_iban(compact: &[u8]) -> bool {
    std::str::from_utf8(compact).is_ok_and(|s| iban::Iban::from_str(s).is_ok())
}

/// Phone numbers: E.164 (`+` and 8–15 digits, single separators allowed: `+44 20 7946 0958`,
/// `+1 (415) 555-2671`) and national formats with separators: NANP (`(415) 555-2671`,
/// `415-555-2671`, `415.555.2671`, optionally `1-` first) and trunk-prefixed numbers
/// (`020 7946 0958`, `01 23 45 67 89`: a leading `0`, 10–11 digits in 3–5 groups of 2–4). Bare
/// digit runs are never phone numbers.
pub(super) fn scan_phones(text: &[u8], found: Found<'_>) {
    let candidate = |i: usize| {
        let byte = text[i];
        (byte == b'+' || byte == b'(' || byte.is_ascii_digit())
            && (i == 0 || !(is_word(text[i - 1]) || matches!(text[i - 1], b'+' | b'.' | b'-')))
    };
    scan_from(text, found, |i| {
        candidate(i).then(|| phone_from(text, i)).flatten()
    });
}

/// Lengths of a phone number's digit groups (rarely more than five; kept off the heap).
type GroupLens = smallvec::SmallVec<[usize; 6]>;

/// Reads digit groups from `at` joined by one `-`, `.` or space, a group possibly parenthesized
/// (`(415) 555`, `(415)555`); pushes their lengths and returns the end of the last group read.
fn phone_groups(text: &[u8], mut at: usize, lens: &mut GroupLens) -> usize {
    let mut last_end = at;
    loop {
        let paren = text.get(at) == Some(&b'(');
        let digits_start = at + usize::from(paren);
        let mut end = digits_start;
        while end < text.len() && text[end].is_ascii_digit() {
            end += 1;
        }
        if end == digits_start || (paren && text.get(end) != Some(&b')')) {
            return last_end;
        }
        lens.push(end - digits_start);
        last_end = end + usize::from(paren);
        let next = text.get(last_end + 1);
        at = match text.get(last_end) {
            Some(b' ' | b'-' | b'.') if next.is_some_and(|&b| b.is_ascii_digit() || b == b'(') => {
                last_end + 1
            }
            Some(b) if paren && b.is_ascii_digit() => last_end,
            _ => return last_end,
        };
    }
}

fn phone_from(text: &[u8], start: usize) -> Option<usize> {
    let international = text[start] == b'+';
    if !international && !may_start_national(text, start) {
        return None;
    }
    let mut lens = GroupLens::new();
    let end = phone_groups(text, start + usize::from(international), &mut lens);
    if lens.is_empty() || !ends_token(text, end) {
        return None;
    }
    let digits: usize = lens.iter().sum();
    if international {
        return (8..=15).contains(&digits).then_some(end);
    }
    let body = &text[start..end];
    let first_digit = body.iter().copied().find(u8::is_ascii_digit)?;
    let nanp = |lens: &[usize]| {
        lens == [3, 3, 4] && {
            let d: Vec<u8> = body.iter().copied().filter(u8::is_ascii_digit).collect();
            let tail = &d[d.len() - 10..];
            (b'2'..=b'9').contains(&tail[0]) && (b'2'..=b'9').contains(&tail[3])
        }
    };
    let is_nanp =
        nanp(&lens) || (lens.len() == 4 && lens[0] == 1 && first_digit == b'1' && nanp(&lens[1..]));
    let trunk = first_digit == b'0'
        && (10..=11).contains(&digits)
        && (3..=5).contains(&lens.len())
        && lens.iter().all(|&n| (2..=4).contains(&n));
    (is_nanp || trunk).then_some(end)
}

/// Whether a national number ([`phone_from`]) may start at `start` (a digit or `(`), judged on its
/// first group alone: three digits (NANP), the single digit `1` (NANP after `1-`), or a leading `0`
/// (trunk prefix).
fn may_start_national(text: &[u8], start: usize) -> bool {
    let digits = start + usize::from(text[start] == b'(');
    let len = text.get(digits..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    });
    match text.get(digits) {
        Some(b'0') => true,
        Some(b'1') if len == 1 => true,
        Some(_) => len == 3,
        None => false,
    }
}

/// IPv4 dotted quads (four decimal octets 0–255 without leading zeros, not part of a longer dotted
/// run like `1.2.3.4.5` and not right after a letter, so `v1.2.3.4` stays) and IPv6 addresses
/// (RFC 4291 §2.2 text, parsed by `std::net::Ipv6Addr`; the compressed form needs at least two
/// groups, one of them three or more hex digits, so `::1` and `a::b` stay).
pub(super) fn scan_ip_addresses(text: &[u8], found: Found<'_>) {
    scan_from(text, found, |i| {
        let v4 =
            text[i].is_ascii_digit() && (i == 0 || !(is_word(text[i - 1]) || text[i - 1] == b'.'));
        v4.then(|| ipv4_from(text, i)).flatten().or_else(|| {
            starts_address(text, i)
                .then(|| ipv6_from(text, i))
                .flatten()
        })
    });
}

/// Whether a hex address (IPv6, MAC) may start at `i`: a hex digit not preceded by a letter, digit,
/// `_`, `.`, `-`, or a `:` that follows a hex digit (the middle of a longer address).
fn starts_address(text: &[u8], i: usize) -> bool {
    let after_hex_colon = i >= 2 && text[i - 1] == b':' && text[i - 2].is_ascii_hexdigit();
    text[i].is_ascii_hexdigit()
        && !after_hex_colon
        && (i == 0 || !(is_word(text[i - 1]) || matches!(text[i - 1], b'.' | b'-')))
}

fn ipv4_from(text: &[u8], start: usize) -> Option<usize> {
    let mut at = start;
    for octet in 0..4 {
        if octet > 0 {
            if text.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
        let end = (at..text.len().min(at + 4))
            .find(|&j| !text[j].is_ascii_digit())
            .unwrap_or(text.len().min(at + 4));
        let digits = &text[at..end];
        let value: u32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
        if digits.is_empty()
            || digits.len() > 3
            || value > 255
            || (digits.len() > 1 && digits[0] == b'0')
        {
            return None;
        }
        at = end;
    }
    let continues =
        text.get(at) == Some(&b'.') && text.get(at + 1).is_some_and(u8::is_ascii_alphanumeric);
    (ends_token(text, at) && !continues).then_some(at)
}

fn ipv6_from(text: &[u8], start: usize) -> Option<usize> {
    let end = (start..text.len())
        .find(|&j| !(text[j].is_ascii_hexdigit() || text[j] == b':'))
        .unwrap_or(text.len());
    let candidate = &text[start..end];
    if !ends_token(text, end) || text.get(end) == Some(&b'.') {
        return None;
    }
    let colons = memchr_iter(b':', candidate).count();
    let compressed = memchr::memmem::find(candidate, b"::").is_some();
    let groups: Vec<&[u8]> = candidate
        .split(|&b| b == b':')
        .filter(|g| !g.is_empty())
        .collect();
    let shaped = if compressed {
        groups.len() >= 2 && groups.iter().any(|g| g.len() >= 3)
    } else {
        colons == 7
    };
    let text = std::str::from_utf8(candidate).ok()?;
    (shaped && Ipv6Addr::from_str(text).is_ok()).then_some(end)
}

/// MAC addresses (IEEE 802 MAC-48 as six hex pairs joined by one repeated `:` or `-`,
/// `00:1A:2B:3C:4D:5E`), not inside a longer run of such pairs.
pub(super) fn scan_mac_addresses(text: &[u8], found: Found<'_>) {
    scan_from(text, found, |i| {
        starts_address(text, i).then(|| mac_from(text, i)).flatten()
    });
}

fn mac_from(text: &[u8], start: usize) -> Option<usize> {
    let separator = *text.get(start + 2)?;
    if !matches!(separator, b':' | b'-') {
        return None;
    }
    for pair in 0..6 {
        let at = start + pair * 3;
        let hex = text.get(at..at + 2)?;
        if !hex.iter().all(u8::is_ascii_hexdigit)
            || (pair < 5 && text.get(at + 2) != Some(&separator))
        {
            return None;
        }
    }
    let end = start + 17;
    let continues =
        text.get(end) == Some(&separator) && text.get(end + 1).is_some_and(u8::is_ascii_hexdigit);
    (ends_token(text, end) && !continues).then_some(end)
}

/// UK National Insurance numbers (HMRC format): a two-letter prefix (first letter not D F I Q U V,
/// second not D F I O Q U V, and not BG GB KN NK NT TN ZZ), six digits and a suffix A–D, compact
/// (`AB123456C`) or spaced in pairs (`AB 12 34 56 C`).
pub(super) fn scan_ninos(text: &[u8], found: Found<'_>) {
    scan_from(text, found, |i| {
        (text[i].is_ascii_uppercase() && starts_token(text, i))
            .then(|| nino_from(text, i))
            .flatten()
    });
}

fn nino_from(text: &[u8], start: usize) -> Option<usize> {
    let (first, second) = (text[start], *text.get(start + 1)?);
    let prefix_ok = second.is_ascii_uppercase()
        && !b"DFIQUV".contains(&first)
        && !b"DFIOQUV".contains(&second)
        && ![b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"].contains(&&[first, second]);
    if !prefix_ok {
        return None;
    }
    let spaced = text.get(start + 2) == Some(&b' ');
    let mut at = start + 2;
    for _ in 0..3 {
        if spaced {
            if text.get(at) != Some(&b' ') {
                return None;
            }
            at += 1;
        }
        let pair = text.get(at..at + 2)?;
        if !pair.iter().all(u8::is_ascii_digit) {
            return None;
        }
        at += 2;
    }
    if spaced {
        if text.get(at) != Some(&b' ') {
            return None;
        }
        at += 1;
    }
    let suffix = *text.get(at)?;
    let end = at + 1;
    (matches!(suffix, b'A'..=b'D') && ends_token(text, end)).then_some(end)
}

/// How far after the word "passport" a US passport number may start, in bytes.
const PASSPORT_WINDOW: usize = 32;

/// US passport numbers, only near the word "passport" (any case) before them: within
/// [`PASSPORT_WINDOW`] bytes, a token of nine digits or one capital letter and eight digits
/// (next-generation passports).
pub(super) fn scan_us_passports(text: &[u8], found: Found<'_>) {
    let lower = text.to_ascii_lowercase();
    let mut next_free = 0;
    for keyword in memchr::memmem::find_iter(&lower, b"passport") {
        let from = (keyword + 8).max(next_free);
        let until = (keyword + 8 + PASSPORT_WINDOW).min(text.len());
        let Some(start) = (from..until).find(|&i| {
            starts_token(text, i)
                && (text[i].is_ascii_digit() || text[i].is_ascii_uppercase())
                && passport_number_at(text, i)
        }) else {
            continue;
        };
        found(start, start + 9);
        next_free = start + 9;
    }
}

fn passport_number_at(text: &[u8], start: usize) -> bool {
    let Some(token) = text.get(start..start + 9) else {
        return false;
    };
    let digits_from = usize::from(token[0].is_ascii_uppercase());
    token[digits_from..].iter().all(u8::is_ascii_digit) && ends_token(text, start + 9)
}
