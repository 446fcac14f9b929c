//! The bytes a JSON string cannot hold as themselves (RFC 8259 §7): `"`, `\` and the control
//! characters U+0000–U+001F. Found eight bytes at a time with word arithmetic (SWAR), which runs the
//! same natively and in the `.wasm`: JSON walking, escaping and the masked leaves' checks all search
//! for the next such byte, and a byte-at-a-time loop spends most of its time on mispredicted branches.

/// `0x01` in every byte of a word.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// `0x80` in every byte of a word.
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Whether JSON escapes `byte` inside a string: `"`, `\` and control characters.
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The high bit of every byte of `word` (little-endian) that is `"`, `\` or below `0x20`, and maybe
/// of bytes above the first one: the lowest set bit is exact, which is all [`find`] reads.
///
/// `x - 0x01…01 & !x & 0x80…80` flags a zero byte of `x`; a byte is flagged wrongly only when a
/// borrow reaches it from a lower flagged byte, so the lowest flag of each term, and of their union,
/// is a true one.
fn flags(word: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\'))) | below_space
}

/// The offset of the first byte of `bytes` that JSON escapes ([`needs_escape`]), if any.
pub(super) fn find(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let flagged = flags(u64::from_le_bytes(word));
        if flagged != 0 {
            // Lossless: at most 63.
            return Some(at + (flagged.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| needs_escape(b))
        .map(|offset| at + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_byte_to_escape_at_every_offset_and_after_any_prefix() {
        // Every byte value, at every offset of a 20-byte text, after every kind of earlier byte
        // (including the ones whose borrows could flag a later byte wrongly).
        for prefix in [
            b'a', 0x1f, 0x20, 0x21, b'!', b'#', b'[', b']', 0x7f, 0x80, 0xa0, 0xff,
        ] {
            for byte in 0..=255u8 {
                for offset in 0..20 {
                    let mut text = vec![prefix; 20];
                    text[offset] = byte;
                    let expected = text.iter().position(|&b| needs_escape(b));
                    assert_eq!(find(&text), expected, "{prefix:#x} {byte:#x} at {offset}");
                }
            }
        }
        assert_eq!(find(b""), None);
        assert_eq!(find("caf\u{e9} \u{1f600}".as_bytes()), None);
    }
}
