//! ES256 (ECDSA P-256 with SHA-256, RFC 7518 §3.4) signature verification with fixed-base tables.
//!
//! ECDSA verification (SEC 1 v2 §4.1.4) computes `R = u1·G + u2·Q`. A JWKS key `Q` is fixed between
//! key-set fetches, so instead of p256's generic double-and-add over both scalars (256 doublings per
//! signature) each key keeps a table of its multiples `m · 2^(6j) · Q` (signed radix-64 digits, 43
//! windows × 32 points, affine, about 90 KiB) and `G` has one such table for the process: `u1·G +
//! u2·Q` is then 86 mixed additions and no doubling. Verification handles public values only (key,
//! token), so the table lookups are variable-time. Field, scalar and point arithmetic are p256's.

use std::sync::{Arc, OnceLock};

use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::group::{Curve as _, Group as _};
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates as _;
use p256::elliptic_curve::PrimeField as _;
use p256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};
use sha2::{Digest as _, Sha256};

/// Bits per signed digit.
const WINDOW_BITS: usize = 6;
/// Table entries per window: the multiples `1..=2^(w-1)` (digits are in `-2^(w-1)..=2^(w-1)`).
const PER_WINDOW: usize = 1 << (WINDOW_BITS - 1);
/// Windows covering a 256-bit scalar, plus the carry of the last signed digit.
const WINDOWS: usize = 256 / WINDOW_BITS + 1;

/// The multiples `m · 2^(w·j) · P` for every window `j` and `m` in `1..=2^(w-1)`, affine.
struct FixedBaseTable(Vec<AffinePoint>);

impl FixedBaseTable {
    fn new(point: ProjectivePoint) -> Self {
        let mut projective = Vec::with_capacity(WINDOWS * PER_WINDOW);
        let mut base = point;
        for _ in 0..WINDOWS {
            let mut multiple = base;
            for _ in 0..PER_WINDOW {
                projective.push(multiple);
                multiple += base;
            }
            // `multiple` is now (2^(w-1) + 1)·base; the next window's base is 2^w·base.
            for _ in 0..WINDOW_BITS {
                base = base.double();
            }
        }
        let mut affine = vec![AffinePoint::IDENTITY; projective.len()];
        ProjectivePoint::batch_normalize(&projective, &mut affine);
        Self(affine)
    }

    /// Adds `k · P` to `acc`, one table addition per non-zero signed digit of `k`.
    fn mul_add(&self, acc: &mut ProjectivePoint, k: &Scalar) {
        for (window, digit) in signed_digits(k).into_iter().enumerate() {
            let index = window * PER_WINDOW + usize::from(digit.unsigned_abs()).saturating_sub(1);
            match (digit.signum(), self.0.get(index)) {
                (1, Some(point)) => *acc += point,
                (-1, Some(point)) => *acc -= point,
                _ => {}
            }
        }
    }
}

/// The signed radix-2^w digits of `k` (least significant first), each in `-2^(w-1)..=2^(w-1)`.
fn signed_digits(k: &Scalar) -> [i8; WINDOWS] {
    let repr = k.to_repr();
    let bit = |i: usize| -> u16 {
        let byte = repr.get(31 - i / 8).copied().unwrap_or(0);
        u16::from(byte >> (i % 8) & 1)
    };
    let mut digits = [0i8; WINDOWS];
    let mut carry = 0u16;
    for (window, digit) in digits.iter_mut().enumerate() {
        let value = (0..WINDOW_BITS)
            .map(|b| window * WINDOW_BITS + b)
            .filter(|i| *i < 256)
            .fold(0u16, |acc, i| acc | bit(i) << (i - window * WINDOW_BITS))
            + carry;
        let (signed, next_carry) = if value > PER_WINDOW as u16 {
            (i32::from(value) - (1 << WINDOW_BITS), 1)
        } else {
            (i32::from(value), 0)
        };
        *digit = i8::try_from(signed).unwrap_or(0);
        carry = next_carry;
    }
    digits
}

/// The generator's table, built on first use.
fn generator_table() -> &'static FixedBaseTable {
    static TABLE: OnceLock<FixedBaseTable> = OnceLock::new();
    TABLE.get_or_init(|| FixedBaseTable::new(ProjectivePoint::GENERATOR))
}

/// A P-256 public key with its precomputed table, ready to verify ES256 signatures.
#[derive(Clone)]
pub(super) struct Es256Verifier {
    /// Shared: key sets are cloned, the table (about 90 KiB) is not.
    table: Arc<FixedBaseTable>,
}

impl Es256Verifier {
    /// Precomputes the table of `key` (a point on the curve, not the identity: p256 checked it when
    /// the JWK was parsed).
    pub(super) fn new(key: &VerifyingKey) -> Self {
        Self {
            table: Arc::new(FixedBaseTable::new(key.as_affine().into())),
        }
    }

    /// Whether `signature` (the 64-octet `R || S` of RFC 7518 §3.4) is a valid ES256 signature of
    /// `message` (the JWS signing input): SEC 1 v2 §4.1.4, as p256's verifier does it.
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        // r and s in 1..n (step 1), checked by `from_slice`.
        let Ok(signature) = Signature::from_slice(signature) else {
            return false;
        };
        let (r, s) = signature.split_scalars();
        // Steps 2 to 4: e = SHA-256(M) as an integer mod n (the hash is exactly 256 bits).
        let digest: [u8; 32] = Sha256::digest(message).into();
        let e = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(digest));
        let Some(s_inv) = Option::<Scalar>::from(s.as_ref().invert_vartime()) else {
            return false;
        };
        let (u1, u2) = (e * s_inv, *r * s_inv);
        // Step 5: R = u1·G + u2·Q, rejected when it is the identity.
        let mut point = ProjectivePoint::IDENTITY;
        generator_table().mul_add(&mut point, &u1);
        self.table.mul_add(&mut point, &u2);
        if bool::from(point.is_identity()) {
            return false;
        }
        // Steps 6 to 8: v = x(R) mod n must equal r.
        let x = point.to_affine().x();
        <Scalar as Reduce<FieldBytes>>::reduce(&x) == *r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_digits_recompose_the_scalar() {
        for k in [
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::from(0x20u64),
            Scalar::from(0x21u64),
            Scalar::from(u64::MAX),
            -Scalar::from(12345u64),
        ] {
            let radix = Scalar::from(1u64 << WINDOW_BITS);
            let recomposed = signed_digits(&k).iter().rev().fold(Scalar::ZERO, |acc, d| {
                let digit = Scalar::from(u64::from(d.unsigned_abs()));
                acc * radix + if *d < 0 { -digit } else { digit }
            });
            assert_eq!(recomposed, k);
            assert!(signed_digits(&k)
                .iter()
                .all(|d| d.unsigned_abs() as usize <= PER_WINDOW));
        }
    }
}
