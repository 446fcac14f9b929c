//! The bookkeeping of a search that classifies a text sixteen bytes at a time and keeps the last
//! block's bit mask, so that a loop visiting every wanted byte classifies each block once
//! ([`super::escapes::Cursor`], [`super::specials::Specials`]), and the load of such a block.

/// Sixteen bytes as one vector (LLVM emits a single `v128.load` for it).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(super) fn vector(bytes: &[u8; 16]) -> core::arch::wasm32::v128 {
    let (mut low, mut high) = ([0; 8], [0; 8]);
    low.copy_from_slice(&bytes[..8]);
    high.copy_from_slice(&bytes[8..]);
    core::arch::wasm32::i64x2(i64::from_le_bytes(low), i64::from_le_bytes(high))
}

/// The last classified block of a text: where it starts and ends, and which of its bytes are wanted.
#[derive(Debug, Default)]
pub(super) struct BlockMask {
    /// Start of the block.
    base: usize,
    /// End of the block (`base` when none is classified yet).
    end: usize,
    /// Bit `i` set when the byte at `base + i` is wanted.
    mask: u16,
}

impl BlockMask {
    /// For a search from `from`: `Ok` with the first wanted byte at or after it in this block, or
    /// `Err` with where to classify next (`from`, or this block's end when `from` is inside it).
    pub(super) fn resume(&self, from: usize) -> Result<usize, usize> {
        if !(self.base..self.end).contains(&from) {
            return Err(from);
        }
        match self.mask & u16::MAX << (from - self.base) {
            0 => Err(self.end),
            ahead => Ok(self.base + ahead.trailing_zeros() as usize),
        }
    }

    /// Keeps `mask` as the block of 16 bytes at `base`; returns its first wanted byte, if any.
    pub(super) fn keep(&mut self, base: usize, mask: u16) -> Option<usize> {
        *self = BlockMask {
            base,
            end: base + 16,
            mask,
        };
        (mask != 0).then(|| base + mask.trailing_zeros() as usize)
    }
}
