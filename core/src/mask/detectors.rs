//! The digit-group detectors (cards, SSNs, ITINs, NHS numbers) and e-mail addresses: hand-written
//! single-pass scanners over the bytes of a string, and helpers the other scanners share.
//!
//! They look for ASCII only (ASCII digits, ASCII e-mail characters), so every span they report
//! starts and ends on a UTF-8 character boundary of the `&str` they scan, whatever surrounds it.

use memchr::memchr_iter;

/// Which digit-based detector a span from [`scan_digit_groups`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DigitKind {
    /// A Luhn-valid payment card number.
    CreditCard,
    /// A US Social Security Number.
    UsSsn,
    /// A US Individual Taxpayer Identification Number.
    UsItin,
    /// A UK NHS number.
    UkNhs,
}

/// Which digit-based detectors [`scan_digit_groups`] looks for.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DigitKinds {
    pub cards: bool,
    pub ssns: bool,
    pub itins: bool,
    pub nhs: bool,
}

/// Fewest and most digits of a payment card number (ISO/IEC 7812-1 PANs are 8–19 digits; the
/// 13–19 range covers the major networks and keeps shorter numbers out).
const CARD_DIGITS: std::ops::RangeInclusive<usize> = 13..=19;

/// Reports payment card numbers, SSNs, ITINs and NHS numbers as `found(start, end, kind)` byte spans.
///
/// A *group* is a maximal run of ASCII digits; groups joined by one space or dash form a sequence.
/// - `CreditCard`: the longest run of consecutive groups of a sequence, starting at some group, with
///   13–19 digits in all and a valid Luhn check digit (ISO/IEC 7812-1 Annex B). A group is never cut,
///   so digits inside a longer run (`12345678901234567890`) never match.
/// - `UsSsn`: three consecutive groups of 3, 2 and 4 digits joined by the same separator (`-` or a
///   space: undelimited 9-digit numbers are too common to mask), with area not 000, 666 or 9xx,
///   group not 00 and serial not 0000 (SSA's rules for issued numbers).
/// - `UsItin`: the same shape with area 9xx and group 50–65, 70–88, 90–92 or 94–99 (IRS ranges).
/// - `UkNhs`: three groups of 3, 3 and 4 digits joined by the same separator whose tenth digit is
///   the NHS modulus-11 check digit (weights 10..2; a remainder giving check 10 is never issued).
pub(super) fn scan_digit_groups(
    text: &[u8],
    kinds: DigitKinds,
    found: &mut impl FnMut(usize, usize, DigitKind),
) {
    let mut at = 0;
    // Digits from the current group to the end of its sequence: a card needs at least 13.
    let mut digits_left = 0;
    let mut previous_end = None;
    while let Some(offset) = text[at..].iter().position(u8::is_ascii_digit) {
        let start = at + offset;
        let group_end = digit_run_end(text, start);
        if previous_end.and_then(|e| next_group(text, e)) != Some(start) {
            digits_left = sequence_digits(text, start);
        }
        if kinds.cards && digits_left >= *CARD_DIGITS.start() {
            if let Some(end) = longest_card_from(text, start) {
                found(start, end, DigitKind::CreditCard);
            }
        }
        // SSNs, ITINs and NHS numbers start with a group of three digits.
        let three = group_end - start == 3;
        if three && (kinds.ssns || kinds.itins) {
            if let Some((end, kind)) = ssn_shape_from(text, start) {
                if (kind == DigitKind::UsSsn && kinds.ssns)
                    || (kind == DigitKind::UsItin && kinds.itins)
                {
                    found(start, end, kind);
                }
            }
        }
        if three && kinds.nhs {
            if let Some(end) = nhs_from(text, start) {
                found(start, end, DigitKind::UkNhs);
            }
        }
        digits_left = digits_left.saturating_sub(group_end - start);
        previous_end = Some(group_end);
        at = group_end;
    }
}

/// The number of digits of the sequence from the group at `start` to its last group.
fn sequence_digits(text: &[u8], start: usize) -> usize {
    let mut digits = 0;
    let mut group = start;
    loop {
        let end = digit_run_end(text, group);
        digits += end - group;
        match next_group(text, end) {
            Some(next) => group = next,
            None => return digits,
        }
    }
}

/// Whether the byte before `start` leaves `start` at the beginning of a token (not after a letter,
/// digit or `_`).
pub(super) fn starts_token(text: &[u8], start: usize) -> bool {
    start == 0 || !is_word(text[start - 1])
}

/// Whether `end` ends a token (no letter, digit or `_` follows).
pub(super) fn ends_token(text: &[u8], end: usize) -> bool {
    text.get(end).is_none_or(|&b| !is_word(b))
}

/// ASCII letter, digit or `_`.
pub(super) fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Groups of the given lengths joined by one repeated separator (`-` or a space) starting at
/// `start`, not inside a longer digit run: the end of the last group.
fn grouped_digits(text: &[u8], start: usize, groups: &[usize]) -> Option<usize> {
    let mut separator = None;
    let mut at = start;
    for (i, &len) in groups.iter().enumerate() {
        if i > 0 {
            let sep = *text.get(at)?;
            if !matches!(sep, b'-' | b' ') || *separator.get_or_insert(sep) != sep {
                return None;
            }
            at += 1;
        }
        if digit_run_end(text, at) != at + len {
            return None;
        }
        at += len;
    }
    Some(at)
}

fn nhs_from(text: &[u8], start: usize) -> Option<usize> {
    let end = grouped_digits(text, start, &[3, 3, 4])?;
    let mut digits = text[start..end].iter().filter(|b| b.is_ascii_digit());
    let mut sum = 0u32;
    for weight in (2..=10).rev() {
        sum += weight * u32::from(digits.next()? - b'0');
    }
    let check = (11 - sum % 11) % 11;
    let last = u32::from(digits.next()? - b'0');
    (check != 10 && check == last).then_some(end)
}

fn digit_run_end(text: &[u8], start: usize) -> usize {
    text[start..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(text.len(), |len| start + len)
}

/// After a group ending at `end`: the start of the next group of the sequence, if any.
fn next_group(text: &[u8], end: usize) -> Option<usize> {
    match (text.get(end), text.get(end + 1)) {
        (Some(b' ' | b'-'), Some(digit)) if digit.is_ascii_digit() => Some(end + 1),
        _ => None,
    }
}

/// The longest card number from `start`: 13–19 digits passing Luhn, plain or grouped as cards are
/// printed ([`card_grouping`]). Digits glued to letters count too (`x4111111111111111`): a card
/// inside a token still leaks.
fn longest_card_from(text: &[u8], start: usize) -> Option<usize> {
    let mut digits = [0u8; 19];
    let mut groups = [0usize; 19];
    let mut count = 0;
    let mut group_count = 0;
    let mut group = start;
    let mut best = None;
    loop {
        let end = digit_run_end(text, group);
        if count + (end - group) > *CARD_DIGITS.end() {
            return best;
        }
        for &byte in &text[group..end] {
            digits[count] = byte - b'0';
            count += 1;
        }
        groups[group_count] = end - group;
        group_count += 1;
        if CARD_DIGITS.contains(&count)
            && card_grouping(&groups[..group_count])
            && luhn_valid(&digits[..count])
        {
            best = Some(end);
        }
        match next_group(text, end) {
            Some(next) => group = next,
            None => return best,
        }
    }
}

/// Whether digit groups of these lengths are laid out as card numbers are printed: one group, or
/// groups of 4 with a last group of 1–4 (16–19 digits as 4-4-4-4[-3]), or 4-6-5 / 4-6-4 (American
/// Express, Diners Club). ISBNs (978-0-306-40615-7) and other identifiers grouped otherwise are not
/// cards even when their digits pass Luhn.
fn card_grouping(groups: &[usize]) -> bool {
    match groups {
        [_] | [4, 6, 5] | [4, 6, 4] => true,
        [init @ .., last] => init.iter().all(|&g| g == 4) && (1..=4).contains(last),
        [] => false,
    }
}

/// Luhn (mod 10) check over decimal digit values, check digit last.
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// An SSN-shaped span (`AAA-GG-SSSS`, same separator twice) from `start`: its end and whether it is
/// an issuable SSN or an ITIN; `None` for neither.
fn ssn_shape_from(text: &[u8], start: usize) -> Option<(usize, DigitKind)> {
    let end = grouped_digits(text, start, &[3, 2, 4])?;
    let area = &text[start..start + 3];
    let group = &text[start + 4..start + 6];
    let serial = &text[start + 7..end];
    if area[0] == b'9' {
        let group = (group[0] - b'0') * 10 + (group[1] - b'0');
        let itin = matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99);
        return itin.then_some((end, DigitKind::UsItin));
    }
    let issued = area != b"000" && area != b"666" && group != b"00" && serial != b"0000";
    issued.then_some((end, DigitKind::UsSsn))
}

/// Reports e-mail addresses as `found(start, end)` byte spans.
///
/// An RFC 5322 §3.4.1 `dot-atom` local part (ASCII `atext` and single dots, not at either end),
/// `@`, and a DNS name of at least two labels (letters, digits, inner hyphens, 1–63 bytes each)
/// whose last label is at least two letters. Quoted local parts, address literals and
/// internationalized addresses (RFC 6531) are not detected. A dot or hyphen ending the domain is
/// left out (`mail a@b.com.` masks `a@b.com`).
pub(super) fn scan_emails(text: &[u8], found: &mut impl FnMut(usize, usize)) {
    for at in memchr_iter(b'@', text) {
        let Some(start) = local_part_start(text, at) else {
            continue;
        };
        let mut end = at + 1;
        while end < text.len()
            && (text[end].is_ascii_alphanumeric() || matches!(text[end], b'.' | b'-'))
        {
            end += 1;
        }
        while end > at + 1 && matches!(text[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if valid_domain(&text[at + 1..end]) {
            found(start, end);
        }
    }
}

fn is_atext(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&byte)
}

/// Start of the dot-atom that ends right before `at`, `None` when there is none.
fn local_part_start(text: &[u8], at: usize) -> Option<usize> {
    if at == 0 || text[at - 1] == b'.' {
        return None;
    }
    let mut start = at;
    while start > 0
        && (is_atext(text[start - 1]) || (text[start - 1] == b'.' && text[start] != b'.'))
    {
        start -= 1;
    }
    while text[start] == b'.' {
        start += 1;
    }
    (start < at).then_some(start)
}

fn valid_domain(domain: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in domain.split(|&b| b == b'.') {
        let valid = (1..=63).contains(&label.len())
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-');
        if !valid {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit_spans(text: &str) -> Vec<(&str, DigitKind)> {
        let mut spans = Vec::new();
        let kinds = DigitKinds {
            cards: true,
            ssns: true,
            itins: true,
            nhs: true,
        };
        scan_digit_groups(text.as_bytes(), kinds, &mut |s, e, k| {
            spans.push((&text[s..e], k))
        });
        spans
    }

    fn emails(text: &str) -> Vec<&str> {
        let mut spans = Vec::new();
        scan_emails(text.as_bytes(), &mut |s, e| spans.push(&text[s..e]));
        spans
    }

    #[test]
    fn luhn_accepts_known_test_numbers_and_rejects_a_changed_digit() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        for valid in [
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "79927398713",
        ] {
            assert!(luhn_valid(&digits(valid)), "{valid}");
        }
        assert!(!luhn_valid(&digits("4111111111111112")));
        assert!(!luhn_valid(&digits("79927398710")));
    }

    #[test]
    fn finds_cards_plain_spaced_dashed_and_amex_grouped() {
        use DigitKind::CreditCard as C;
        assert_eq!(
            digit_spans("card 4111111111111111."),
            [("4111111111111111", C)]
        );
        assert_eq!(
            digit_spans("4111 1111 1111 1111"),
            [("4111 1111 1111 1111", C)]
        );
        assert_eq!(
            digit_spans("x5555-5555-5555-4444y"),
            [("5555-5555-5555-4444", C)]
        );
        assert_eq!(
            digit_spans("amex 3782 822463 10005"),
            [("3782 822463 10005", C)]
        );
    }

    #[test]
    fn card_followed_by_other_digit_groups_is_still_found() {
        assert_eq!(
            digit_spans("4111 1111 1111 1111 2029"),
            [("4111 1111 1111 1111", DigitKind::CreditCard)]
        );
    }

    #[test]
    fn rejects_invalid_luhn_longer_runs_double_separators_and_short_numbers() {
        assert!(digit_spans("4111111111111112").is_empty());
        assert!(
            digit_spans("94111111111111111").is_empty(),
            "17 digits, Luhn invalid"
        );
        assert!(
            digit_spans("41111111111111110000").is_empty(),
            "20-digit run"
        );
        assert!(digit_spans("4111  1111  1111  1111").is_empty());
        assert!(digit_spans("4111--1111--1111--1111").is_empty());
        assert!(digit_spans("79927398713").is_empty(), "11 digits");
    }

    #[test]
    fn finds_ssns_with_dashes_or_spaces_only() {
        use DigitKind::UsSsn as S;
        assert_eq!(digit_spans("ssn 123-45-6789!"), [("123-45-6789", S)]);
        assert_eq!(digit_spans("123 45 6789"), [("123 45 6789", S)]);
        assert!(digit_spans("123456789").is_empty());
        assert!(digit_spans("123-45 6789").is_empty(), "mixed separators");
    }

    #[test]
    fn rejects_ssns_that_are_never_issued() {
        for ssn in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "999-12-3456",
            "123-00-4567",
            "123-45-0000",
        ] {
            assert!(digit_spans(ssn).is_empty(), "{ssn}");
        }
    }

    #[test]
    fn rejects_ssn_shapes_inside_longer_digit_runs() {
        assert!(digit_spans("1123-45-6789").is_empty());
        assert!(digit_spans("123-45-67890").is_empty());
        assert!(digit_spans("123-456-6789").is_empty());
    }

    #[test]
    fn finds_email_addresses_and_leaves_sentence_punctuation_out() {
        assert_eq!(
            emails("mail jane.doe+tag@example.co.uk."),
            ["jane.doe+tag@example.co.uk"]
        );
        assert_eq!(
            emails("<a_b@sub-domain.example.org>"),
            ["a_b@sub-domain.example.org"]
        );
        assert_eq!(emails("x@y.io, z@w.dev"), ["x@y.io", "z@w.dev"]);
        assert_eq!(emails(".lead@example.com"), ["lead@example.com"]);
    }

    #[test]
    fn rejects_things_that_are_not_email_addresses() {
        for text in [
            "@example.com",
            "user@",
            "user@localhost",
            "user@example.c",
            "user@-x.com",
            "user.@example.com",
            "user@exa..mple.com",
            "a@b.123",
            "@@",
        ] {
            assert!(emails(text).is_empty(), "{text}");
        }
    }
}
