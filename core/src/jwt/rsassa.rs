//! RSASSA-PKCS1-v1_5 (RFC 8017 §8.2.2) and RSASSA-PSS (RFC 8017 §8.1.2) signature verification for
//! the RS256/384/512 and PS256/384/512 JWS algorithms (RFC 7518 §3.3, §3.5).
//!
//! RSAVP1 (RFC 8017 §5.2.2), `m = s^e mod n`, runs in Montgomery form with `crypto-bigint`; the
//! Montgomery parameters of the modulus, and `R^e mod n` (see [`RsaVerifier::rsavp1`]), are
//! computed once, when the JWK is loaded, and kept with the key. Verification only handles public
//! values (the key, the token), so the exponentiation is the plain square-and-multiply over the
//! public exponent's bits. The encoded message is then checked byte for byte: for PKCS#1 v1.5 the
//! whole expected `EM` is rebuilt and compared (the comparison RFC 8017 §8.2.2 step 4 prescribes,
//! never a parse of `EM`), for PSS `EMSA-PSS-VERIFY` (§9.1.2) runs with the salt length equal to
//! the hash length, as RFC 7518 §3.5 requires.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Limb, MontyForm, MontyMultiplier, Odd};
use sha2::{Sha256, Sha384, Sha512};

/// The hash of an RS*/PS* algorithm (RFC 7518 §3.3, §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RsaHash {
    /// SHA-256 (RS256, PS256).
    Sha256,
    /// SHA-384 (RS384, PS384).
    Sha384,
    /// SHA-512 (RS512, PS512).
    Sha512,
}

impl RsaHash {
    /// The digest of the concatenation of `parts`.
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Self::Sha256 => run::<Sha256>(parts),
            Self::Sha384 => run::<Sha384>(parts),
            Self::Sha512 => run::<Sha512>(parts),
        }
    }

    /// `hLen`, the output length in octets.
    fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The DER `DigestInfo` prefix (the `AlgorithmIdentifier` with NULL parameters and the OCTET
    /// STRING header) that precedes the hash in `T` (RFC 8017 §9.2, note 1).
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Self::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Self::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Self::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// The signature scheme of an RSA JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RsaPadding {
    /// RSASSA-PKCS1-v1_5 (RS*).
    Pkcs1v15,
    /// RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash (PS*).
    Pss,
}

/// An RSA public key `(n, e)` ready to verify signatures of one algorithm.
#[derive(Clone)]
pub(super) struct RsaVerifier {
    /// Montgomery parameters of `n` (holds `n` itself).
    params: BoxedMontyParams,
    /// `R^e mod n` (`R` the Montgomery radix), kept as a Montgomery form: the one product that
    /// turns the exponentiation of the signature read as a Montgomery form into `s^e mod n` (see
    /// [`RsaVerifier::rsavp1`]).
    correction: BoxedMontyForm,
    /// The public exponent.
    exponent: u64,
    /// `k`: the length of `n` in octets (RFC 8017 §2).
    modulus_len: usize,
    /// `modBits`: the length of `n` in bits.
    modulus_bits: u32,
    hash: RsaHash,
    padding: RsaPadding,
}

impl RsaVerifier {
    /// A verifier for the key of big-endian modulus `n` and public exponent `e` (the JWK's `n` and
    /// `e`, RFC 7518 §6.3.1, decoded; leading zero octets allowed).
    ///
    /// # Errors
    /// A message for the configuration error: `n` is not odd and greater than 1, or `e` is not odd,
    /// at least 3 and at most 64 bits long.
    pub(super) fn new(
        n: &[u8],
        e: &[u8],
        hash: RsaHash,
        padding: RsaPadding,
    ) -> Result<Self, String> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let exponent = match e.len() {
            1..=8 => e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
            _ => return Err("the RSA public exponent must fit 64 bits".to_owned()),
        };
        if exponent < 3 || exponent % 2 == 0 {
            return Err("the RSA public exponent must be odd and at least 3".to_owned());
        }
        let precision = u32::try_from(n.len() * 8)
            .map_err(|_| "the RSA modulus is too long".to_owned())?
            .next_multiple_of(Limb::BITS);
        let modulus = BoxedUint::from_be_slice(n, precision).map_err(|e| e.to_string())?;
        let modulus_bits = modulus.bits();
        let modulus: Option<Odd<BoxedUint>> = Odd::new(modulus).into();
        let modulus = modulus
            .filter(|_| modulus_bits > 1)
            .ok_or_else(|| "the RSA modulus must be odd and greater than 1".to_owned())?;
        let params = BoxedMontyParams::new_vartime(modulus);
        // `R mod n` is the Montgomery form of 1; raised to `e` in Montgomery arithmetic and taken
        // out of it, `R^e mod n`.
        let radix = BoxedMontyForm::one(&params).to_montgomery();
        let radix_to_e = power(BoxedMontyForm::new(radix, &params), exponent).retrieve();
        Ok(Self {
            correction: BoxedMontyForm::from_montgomery(radix_to_e, &params),
            params,
            exponent,
            modulus_len: n.len(),
            modulus_bits,
            hash,
            padding,
        })
    }

    /// Whether `signature` (the JWS signature octets) is a valid signature of this key's algorithm
    /// over `message` (the JWS signing input).
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        // RFC 8017 §8.2.2 / §8.1.2 step 1: the signature is exactly k octets.
        if signature.len() != self.modulus_len {
            return false;
        }
        let Some(em) = self.rsavp1(signature) else {
            return false;
        };
        let hashed = self.hash.digest(&[message]);
        match self.padding {
            RsaPadding::Pkcs1v15 => self.pkcs1v15_matches(&em, &hashed),
            RsaPadding::Pss => self.pss_matches(&em, &hashed),
        }
    }

    /// RSAVP1 (RFC 8017 §5.2.2) and I2OSP to `k` octets: `None` when the signature representative
    /// is not below `n`.
    pub(super) fn rsavp1(&self, signature: &[u8]) -> Option<Vec<u8>> {
        let modulus = self.params.modulus().as_ref();
        let s = BoxedUint::from_be_slice(signature, modulus.bits_precision()).ok()?;
        if s >= *modulus {
            return None;
        }
        // `s` itself is read as a Montgomery form, that of `x = s·R⁻¹`, so it needs no product to
        // enter Montgomery form. The exponentiation then holds `x^e·R = s^e·R^(1−e) mod n`, and one
        // product with `R^e mod n` (a Montgomery product divides by `R`) leaves `s^e mod n`, out of
        // Montgomery form already: one product where converting `s` in and `m` out took a product
        // and a reduction.
        let x = BoxedMontyForm::from_montgomery(s, &self.params);
        let m = power(x, self.exponent).mul(&self.correction);
        let bytes = m.as_montgomery().to_be_bytes();
        // m < n < 2^(8k): the octets before the last k are zero.
        let skip = bytes.len().checked_sub(self.modulus_len)?;
        Some(bytes[skip..].to_vec())
    }

    /// EMSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2 steps 3 and 4): `em` equals
    /// `0x00 || 0x01 || PS || 0x00 || T`, PS at least 8 octets 0xff, T the DigestInfo of `hashed`.
    fn pkcs1v15_matches(&self, em: &[u8], hashed: &[u8]) -> bool {
        let prefix = self.hash.digest_info_prefix();
        let t_len = prefix.len() + hashed.len();
        // §9.2 step 3: emLen < tLen + 11 is "intended encoded message length too short".
        let Some(ps_len) = self.modulus_len.checked_sub(t_len + 3) else {
            return false;
        };
        if ps_len < 8 || em.len() != self.modulus_len {
            return false;
        }
        let mut expected = Vec::with_capacity(self.modulus_len);
        expected.extend_from_slice(&[0x00, 0x01]);
        expected.resize(2 + ps_len, 0xff);
        expected.push(0x00);
        expected.extend_from_slice(prefix);
        expected.extend_from_slice(hashed);
        expected == em
    }

    /// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with `emBits = modBits - 1` and `sLen = hLen`, over the
    /// `k`-octet output of RSAVP1 (RSASSA-PSS-VERIFY step 2c).
    fn pss_matches(&self, em: &[u8], m_hash: &[u8]) -> bool {
        let h_len = m_hash.len();
        let s_len = h_len;
        let em_bits = self.modulus_bits as usize - 1;
        let em_len = em_bits.div_ceil(8);
        // Step 2c: EM is emLen octets; when emLen = k - 1 the leading octet of the k must be zero.
        let Some((leading, em)) = em.split_at_checked(em.len() - em_len) else {
            return false;
        };
        if leading.iter().any(|b| *b != 0) {
            return false;
        }
        // Steps 3 and 4.
        if em_len < h_len + s_len + 2 || em.last() != Some(&0xbc) {
            return false;
        }
        // Step 5.
        let (masked_db, rest) = em.split_at(em_len - h_len - 1);
        let h = &rest[..h_len];
        // Step 6: the leftmost 8·emLen − emBits bits of maskedDB must be zero.
        let unused_bits = 8 * em_len - em_bits;
        let top_mask = 0xffu8 >> unused_bits;
        if masked_db.first().is_none_or(|b| b & !top_mask != 0) {
            return false;
        }
        // Steps 7 to 9.
        let mut db = masked_db.to_vec();
        self.mgf1_xor(h, &mut db);
        if let Some(first) = db.first_mut() {
            *first &= top_mask;
        }
        // Step 10: emLen − hLen − sLen − 2 zero octets, then 0x01.
        let (zeros, rest) = db.split_at(em_len - h_len - s_len - 2);
        if zeros.iter().any(|b| *b != 0) || rest.first() != Some(&0x01) {
            return false;
        }
        // Steps 11 to 14.
        let salt = &rest[1..];
        self.hash.digest(&[&[0u8; 8], m_hash, salt]) == h
    }

    /// XORs `MGF1(seed, out.len())` (RFC 8017 §B.2.1, with this key's hash) into `out`.
    fn mgf1_xor(&self, seed: &[u8], out: &mut [u8]) {
        let mut counter: u32 = 0;
        for chunk in out.chunks_mut(self.hash.len()) {
            let mask = self.hash.digest(&[seed, &counter.to_be_bytes()]);
            for (byte, m) in chunk.iter_mut().zip(mask) {
                *byte ^= m;
            }
            counter = counter.wrapping_add(1);
        }
    }
}

/// `base^exponent` in Montgomery arithmetic, left to right over the exponent's bits below its top
/// bit, with one multiplier (its scratch buffer allocated once) for every product. Not constant
/// time: the exponent is public (`exponent` ≥ 1).
fn power(base: BoxedMontyForm, exponent: u64) -> BoxedMontyForm {
    let mut multiplier = <BoxedMontyForm as MontyForm>::Multiplier::from(base.params());
    let mut m = base.clone();
    for bit in (0..63 - exponent.leading_zeros()).rev() {
        multiplier.square_assign(&mut m);
        if exponent >> bit & 1 == 1 {
            multiplier.mul_assign(&mut m, &base);
        }
    }
    m
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}
