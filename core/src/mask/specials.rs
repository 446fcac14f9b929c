//! The bytes that may fire a pre-scan trigger (see `prefilter.rs`), and the search for the next one.
//!
//! In the `.wasm` (`simd128`) sixteen bytes are classified at once with two 16-entry tables indexed by
//! each byte's low and high nibble (`i8x16.swizzle`): a byte is special when the two entries share a
//! bit. Every high nibble of a special byte has a bit of its own, so the test is exact, and it is
//! the same test [`is_special`] makes one byte at a time (checked against [`SPECIALS`] for every byte
//! value in the tests). Elsewhere the same tables are read byte by byte. [`Specials`] classifies each
//! block once and reads its special bytes from the block's bit mask.
//!
//! Most special bytes of JSON fire nothing, and each stop costs the pre-scan's loop a dispatch (about
//! 6 ns in V8). So the block's mask leaves out the ones its neighbours prove quiet: a lead byte not
//! followed by its letter ([`LEADS`]: `p` or `P` not before `a`, `\` not before `u`, `b` not before
//! `l`; in the same vector operations), and the `:` and `_` that [`quiet_stop`] clears one at a time
//! (member names' colons, most underscores). Measured in V8 (`just bench-v8-core`): 64 KiB of
//! PII-free JSON from about 82 to about 65 µs, then to about 60 µs with `\` and `b` among the leads
//! (raw JSON's checks in the same pass) and masks from `i8x16.eq` (V8 builds `i8x16.ne` from two
//! instructions). In V8 14.6, Envoy 1.40's, the classification's tables and splats are read from
//! memory ([`Classifier::new`]): as constants V8 built every one again for each block, and reading
//! them cut PII-free from about 65 to about 56 µs.

use super::block_mask::BlockMask;
use super::prefilter::quiet_stop;

/// Bytes that may fire a trigger: digits, `@`, `+`, `:`, `=`, `-`, `_`, the first letters of the
/// triggers that start with a letter, and the `\` of a `\u` escape and the `b` of `blob` (raw JSON's
/// triggers).
pub(super) const SPECIALS: &[u8] = b"0123456789@+:=-_AJpPxX\\b";

/// Special bytes that fire nothing unless the next byte is a given letter (in either case), that
/// letter being the one at the same place in [`LETTERS`]. Leads sharing a low nibble must share their
/// letter (checked when [`FOLLOWER`] is built).
const LEADS: &[u8] = b"pP\\b";

/// The letter each of [`LEADS`] waits for, lower-case.
const LETTERS: &[u8; LEADS.len()] = b"aaul";

/// Per high nibble, its bit (zero when no special byte has that high nibble).
const HIGH: [u8; 16] = {
    let mut table = [0u8; 16];
    let mut next_bit = 0;
    let mut i = 0;
    while i < SPECIALS.len() {
        let high = (SPECIALS[i] >> 4) as usize;
        if table[high] == 0 {
            assert!(next_bit < 8, "more than 8 high nibbles");
            table[high] = 1 << next_bit;
            next_bit += 1;
        }
        i += 1;
    }
    table
};

/// Per low nibble, the bits (of [`HIGH`]) of the high nibbles with which it makes one of `bytes`
/// (each of whose high nibbles must have a bit).
const fn low_table(bytes: &[u8]) -> [u8; 16] {
    let mut table = [0u8; 16];
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        assert!(
            HIGH[(byte >> 4) as usize] != 0,
            "a high nibble without a bit"
        );
        table[(byte & 0x0f) as usize] |= HIGH[(byte >> 4) as usize];
        i += 1;
    }
    table
}

/// Per low nibble, the bits of the high nibbles with which it makes a special byte.
const LOW: [u8; 16] = low_table(SPECIALS);

/// Per low nibble, the bits of the high nibbles with which it makes a lead byte.
const LEAD: [u8; 16] = low_table(LEADS);

/// Per low nibble, the letter its lead bytes wait for (zero when it has none).
const FOLLOWER: [u8; 16] = {
    let mut table = [0u8; 16];
    let mut i = 0;
    while i < LEADS.len() {
        let (byte, letter) = (LEADS[i], LETTERS[i]);
        let low = (byte & 0x0f) as usize;
        assert!(
            table[low] == 0 || table[low] == letter,
            "leads sharing a low nibble"
        );
        table[low] = letter;
        i += 1;
    }
    table
};

/// Whether `byte` may fire a trigger.
fn is_special(byte: u8) -> bool {
    LOW[usize::from(byte & 0x0f)] & HIGH[usize::from(byte >> 4)] != 0
}

/// Whether `byte` is a lead byte ([`LEADS`]) and `after`, lower-cased, is not its letter (what the
/// `simd128` [`Classifier::classify`] tests sixteen bytes at a time).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn is_quiet_lead(byte: u8, after: u8) -> bool {
    let low = usize::from(byte & 0x0f);
    LEAD[low] & HIGH[usize::from(byte >> 4)] != 0 && after | 0x20 != FOLLOWER[low]
}

/// The vectors [`Classifier::classify`] works with: the nibble tables and the splats.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[repr(C, align(16))]
struct Vectors {
    high: [u8; 16],
    low: [u8; 16],
    lead: [u8; 16],
    follower: [u8; 16],
    nibble: [u8; 16],
    lower: [u8; 16],
    colon: [u8; 16],
    underscore: [u8; 16],
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
static VECTORS: Vectors = Vectors {
    high: HIGH,
    low: LOW,
    lead: LEAD,
    follower: FOLLOWER,
    nibble: [0x0f; 16],
    lower: [0x20; 16],
    colon: [b':'; 16],
    underscore: [b'_'; 16],
};

/// Classifies 16-byte blocks, sixteen bytes at once.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
struct Classifier(&'static Vectors);

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl Classifier {
    /// A classifier reading its vectors from memory, through a reference the compiler cannot see
    /// through: given as constants, V8 14 builds each of them again for every block (three or four
    /// instructions each); read from memory, each is one load.
    fn new() -> Self {
        Self(core::hint::black_box(&VECTORS))
    }

    /// For a 16-byte block and the 16 bytes one further on: bit `i` of the first mask set when
    /// `block[i]` is special and not a quiet lead (see `is_quiet_lead`); bit `i` of the second set
    /// when `block[i]` is `:` or `_`, a stop [`quiet_stop`] may prove quiet.
    fn classify(&self, block: &[u8; 16], next: &[u8; 16]) -> (u16, u16) {
        use super::block_mask::vector;
        use core::arch::wasm32::{
            i8x16_swizzle, u8x16_bitmask, u8x16_eq, u8x16_shr, u8x16_splat, v128_and, v128_or,
        };
        let v = self.0;
        let bytes = vector(block);
        let low_nibbles = v128_and(bytes, vector(&v.nibble));
        let high = i8x16_swizzle(vector(&v.high), u8x16_shr(bytes, 4));
        let low = i8x16_swizzle(vector(&v.low), low_nibbles);
        // Masks of `eq`, negated as integers: V8 has no single instruction for `i8x16.ne`.
        let zero = u8x16_splat(0);
        let special = !u8x16_bitmask(u8x16_eq(v128_and(low, high), zero));
        let lead = !u8x16_bitmask(u8x16_eq(
            v128_and(i8x16_swizzle(vector(&v.lead), low_nibbles), high),
            zero,
        ));
        // Setting bit 5 lower-cases a letter (and makes no other byte a lower-case letter).
        let after = v128_or(vector(next), vector(&v.lower));
        let followed = u8x16_bitmask(u8x16_eq(
            after,
            i8x16_swizzle(vector(&v.follower), low_nibbles),
        ));
        let quiet_lead = lead & !followed;
        let colon_or_underscore = u8x16_bitmask(v128_or(
            u8x16_eq(bytes, vector(&v.colon)),
            u8x16_eq(bytes, vector(&v.underscore)),
        ));
        (special & !quiet_lead, colon_or_underscore)
    }
}

/// Classifies 16-byte blocks, a byte at a time (the `simd128` version's masks).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
struct Classifier;

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
impl Classifier {
    fn new() -> Self {
        Classifier
    }

    /// For a 16-byte block and the 16 bytes one further on: bit `i` of the first mask set when
    /// `block[i]` is special and not a quiet lead ([`is_quiet_lead`]); bit `i` of the second set
    /// when `block[i]` is `:` or `_`, a stop [`quiet_stop`] may prove quiet.
    fn classify(&self, block: &[u8; 16], next: &[u8; 16]) -> (u16, u16) {
        let mut masks = (0, 0);
        for (i, (&byte, &after)) in block.iter().zip(next).enumerate() {
            masks.0 |= u16::from(is_special(byte) && !is_quiet_lead(byte, after)) << i;
            masks.1 |= u16::from(matches!(byte, b':' | b'_')) << i;
        }
        masks
    }
}

/// The special bytes of a text, found in order: each 16-byte block is classified once and its special
/// bytes are read from the block's bit mask, so a text with a special byte every few bytes costs one
/// classification per block, not one per special byte.
pub(super) struct Specials<'b> {
    bytes: &'b [u8],
    block: BlockMask,
    classifier: Classifier,
}

impl<'b> Specials<'b> {
    /// A cursor over the special bytes of `bytes`, none classified yet.
    pub(super) fn new(bytes: &'b [u8]) -> Self {
        Self {
            bytes,
            block: BlockMask::default(),
            classifier: Classifier::new(),
        }
    }

    /// The index of the first special byte at or after `from`; the text's length when there is none.
    pub(super) fn next_from(&mut self, from: usize) -> usize {
        let mut from = match self.block.resume(from) {
            Ok(found) => return found,
            Err(next) => next,
        };
        // Whole blocks with the byte after them; the last few bytes are read one at a time, unfiltered.
        while let Some(chunk) = self.bytes.get(from..from + 17) {
            let mut block = [0; 16];
            block.copy_from_slice(&chunk[..16]);
            let mut next = [0; 16];
            next.copy_from_slice(&chunk[1..]);
            let (mut special, mut unsure) = self.classifier.classify(&block, &next);
            while unsure != 0 {
                let j = unsure.trailing_zeros() as usize;
                unsure &= unsure - 1;
                if quiet_stop(self.bytes, from + j) {
                    special &= !(1 << j);
                }
            }
            if let Some(found) = self.block.keep(from, special) {
                return found;
            }
            from += 16;
        }
        let rest = self.bytes.get(from..).unwrap_or_default();
        rest.iter()
            .position(|&byte| is_special(byte))
            .map_or(self.bytes.len(), |offset| from + offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nibble_tables_classify_every_byte_exactly() {
        for byte in 0..=255u8 {
            assert_eq!(is_special(byte), SPECIALS.contains(&byte), "{byte:#x}");
        }
    }

    #[test]
    fn the_next_special_byte_is_found_in_blocks_and_in_the_tail() {
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 40] {
            for at in 0..len {
                for &special in SPECIALS {
                    // Neighbours that leave every special byte a stop: its letter after a lead byte
                    // (maybe "passport", a `\u` escape, "blob"), no quote before a `:`, and `ve`
                    // before a `_` (maybe `sk_live_`).
                    let mut bytes = vec![if special == b'_' { b'e' } else { b'a' }; len];
                    if special == b'_' && at >= 2 {
                        bytes[at - 2] = b'v';
                    }
                    bytes[at] = special;
                    // A lead byte before its letter.
                    if let Some(at_lead) = LEADS.iter().position(|&lead| lead == special) {
                        if let Some(after) = bytes.get_mut(at + 1) {
                            *after = LETTERS[at_lead];
                        }
                    }
                    let mut specials = Specials::new(&bytes);
                    for from in 0..=at {
                        assert_eq!(specials.next_from(from), at, "{len} {at} {from}");
                        assert_eq!(Specials::new(&bytes).next_from(from), at);
                    }
                    assert_eq!(specials.next_from(at + 1), len);
                    assert_eq!(specials.next_from(0), at, "backwards");
                }
            }
            assert_eq!(Specials::new(&vec![b'q'; len]).next_from(0), len);
        }
    }

    #[test]
    fn a_lead_byte_stops_only_before_its_letter_in_whole_blocks() {
        for (&lead, &letter) in LEADS.iter().zip(LETTERS) {
            for (after, stops) in [
                (letter, true),
                (letter.to_ascii_uppercase(), true),
                (b'q', false),
            ] {
                let mut bytes = vec![b'q'; 40];
                (bytes[5], bytes[6]) = (lead, after);
                let expected = if stops { 5 } else { bytes.len() };
                assert_eq!(
                    Specials::new(&bytes).next_from(0),
                    expected,
                    "{lead} {after}"
                );
                // The last bytes (no whole block) are not filtered: every special byte stops.
                bytes[39] = lead;
                assert_eq!(Specials::new(&bytes).next_from(7), 39, "{lead} {after}");
            }
        }
    }
}
