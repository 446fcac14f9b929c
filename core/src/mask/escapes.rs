//! The bytes a JSON string cannot hold as themselves (RFC 8259 §7): `"`, `\` and the control
//! characters U+0000–U+001F. A single search ([`find`], whether a rendering needs escaping) goes
//! eight bytes at a time with word arithmetic (SWAR), which runs the same natively and in the `.wasm`
//! (a byte-at-a-time loop spends most of its time on mispredicted branches). Loops that visit every
//! such byte of a text (unescaping, escaping, walking a string) use a [`Cursor`], which classifies
//! sixteen bytes at once (`simd128` in the `.wasm`) and keeps the block's mask.

use super::block_mask::BlockMask;

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

/// The bytes of a text that JSON escapes, found in order by a loop that visits each of them (escaped
/// JSON text has one every few bytes): each 16-byte block is classified once and its bytes to
/// escape are read from the block's bit mask, so the search does not start again after each one.
/// Measured in V8 (`just bench-v8-core`): 64 KiB PII-dense, whose nested JSON text is unescaped,
/// walked and escaped again, 3–4 % faster than calling [`find`] at each one.
pub(super) struct Cursor<'b> {
    bytes: &'b [u8],
    block: BlockMask,
}

impl<'b> Cursor<'b> {
    /// A cursor over the bytes of `bytes` that JSON escapes, none classified yet.
    pub(super) fn new(bytes: &'b [u8]) -> Self {
        Self {
            bytes,
            block: BlockMask::default(),
        }
    }

    /// The index of the first byte at or after `from` that JSON escapes ([`needs_escape`]), if any.
    pub(super) fn next_from(&mut self, from: usize) -> Option<usize> {
        let mut from = match self.block.resume(from) {
            Ok(found) => return Some(found),
            Err(next) => next,
        };
        while let Some(chunk) = self.bytes.get(from..from + 16) {
            let mut block = [0; 16];
            block.copy_from_slice(chunk);
            if let Some(found) = self.block.keep(from, block_mask(&block)) {
                return Some(found);
            }
            from += 16;
        }
        // The last few bytes one at a time: with `find` inlined here instead, V8 ran the PII-dense
        // body 6–15 % slower than with this loop (`just bench-v8-core`).
        let rest = self.bytes.get(from..)?;
        rest.iter()
            .position(|&b| needs_escape(b))
            .map(|offset| from + offset)
    }
}

/// Bit `i` set when `block[i]` needs escaping.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn block_mask(block: &[u8; 16]) -> u16 {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_splat, v128_or};
    let bytes = super::block_mask::vector(block);
    u8x16_bitmask(v128_or(
        v128_or(
            u8x16_eq(bytes, u8x16_splat(b'"')),
            u8x16_eq(bytes, u8x16_splat(b'\\')),
        ),
        u8x16_lt(bytes, u8x16_splat(0x20)),
    ))
}

/// Bit `i` set when `block[i]` needs escaping (the `simd128` version's mask, a byte at a time).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn block_mask(block: &[u8; 16]) -> u16 {
    block.iter().enumerate().fold(0, |mask, (i, &byte)| {
        mask | u16::from(needs_escape(byte)) << i
    })
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

    #[test]
    fn the_cursor_finds_what_a_byte_by_byte_search_finds_from_each_place_asked() {
        const ALPHABET: &[u8] = b"ab\"\\\n\x1f \xc3\xa9{}:";
        let mut rng = crate::test_rng::Rng(0x2f6b_7d1c_9a3e_5b41);
        for _ in 0..20_000 {
            let len = rng.below(70);
            let text: Vec<u8> = (0..len).map(|_| *rng.pick(ALPHABET)).collect();
            // Asked as the callers ask: never backwards, often from right after the last one found.
            let mut cursor = Cursor::new(&text);
            let mut from = rng.below(3);
            while from <= len + 1 {
                let expected = (from..len).find(|&i| needs_escape(text[i]));
                assert_eq!(cursor.next_from(from), expected, "{text:?} from {from}");
                from = expected.unwrap_or(from) + 1 + rng.below(3);
            }
        }
    }
}
