//! Tests of the signature verifiers themselves ([`super::rsassa`], [`super::es256`]), below the JWT
//! layer: valid signatures made by independent implementations (jwt-simple's signers), encoded
//! messages crafted byte by byte and raw-signed with the dev RSA key (the `rsa` crate's private
//! operation), and tampered signatures that a verifier answering "valid" too often would accept.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_simple::prelude::*;
use p256::ecdsa::signature::Verifier as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256, Sha384};

use super::es256::Es256Verifier;
use super::rsassa::{RsaHash, RsaPadding, RsaVerifier};

const DEV_RS256_PEM: &str = include_str!("../../../policies/dev/dev-signing-key-rs256.pem");
const DEV_ES256_PEM: &str = include_str!("../../../policies/dev/dev-signing-key-es256.pem");
const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";

/// The signing input and the decoded signature of a compact JWS.
fn split(token: &str) -> (Vec<u8>, Vec<u8>) {
    let (input, signature) = token.rsplit_once('.').unwrap();
    (
        input.as_bytes().to_vec(),
        URL_SAFE_NO_PAD.decode(signature).unwrap(),
    )
}

fn claims() -> JWTClaims<NoCustomClaims> {
    Claims::create(Duration::from_hours(1)).with_subject("alice")
}

fn dev_rsa() -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::from_pkcs8_pem(DEV_RS256_PEM).unwrap()
}

fn rsa_verifier(key: &rsa::RsaPrivateKey, hash: RsaHash, padding: RsaPadding) -> RsaVerifier {
    RsaVerifier::new(
        &key.n().to_bytes_be(),
        &key.e().to_bytes_be(),
        hash,
        padding,
    )
    .unwrap()
}

/// `em^d mod n` as `k` octets: a "signature" whose RSAVP1 output is exactly `em`.
fn raw_sign(key: &rsa::RsaPrivateKey, em: &[u8]) -> Vec<u8> {
    let m = rsa::BigUint::from_bytes_be(em);
    let s =
        rsa::hazmat::rsa_decrypt_and_check(key, None::<&mut dyn rsa::rand_core::CryptoRngCore>, &m)
            .unwrap()
            .to_bytes_be();
    let mut out = vec![0u8; key.size() - s.len()];
    out.extend_from_slice(&s);
    out
}

const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// A PKCS#1 v1.5 `EM` of `k` octets: `00 01 FF.. 00 || prefix || hash`, then `edit` applied.
fn pkcs1_em(k: usize, prefix: &[u8], hash: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut em = vec![0x00, 0x01];
    em.resize(k - prefix.len() - hash.len() - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(prefix);
    em.extend_from_slice(hash);
    edit(&mut em);
    em
}

#[test]
fn rs256_accepts_jwt_simple_signatures_and_refuses_tampered_ones() {
    let signer = RS256KeyPair::from_pem(DEV_RS256_PEM).unwrap();
    let verifier = rsa_verifier(&dev_rsa(), RsaHash::Sha256, RsaPadding::Pkcs1v15);
    let (input, signature) = split(&signer.sign(claims()).unwrap());
    assert!(verifier.verify(&input, &signature));
    let mut other_input = input.clone();
    other_input[3] ^= 1;
    assert!(!verifier.verify(&other_input, &signature));
    for bit in [0, 7, 100, 1000, 2047] {
        let mut flipped = signature.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert!(!verifier.verify(&input, &flipped), "bit {bit} flipped");
    }
}

#[test]
fn rsa_verifiers_of_each_hash_and_padding_accept_only_their_own_signatures() {
    let key = dev_rsa();
    let tokens = [
        (
            RsaHash::Sha256,
            RsaPadding::Pkcs1v15,
            RS256KeyPair::from_pem(DEV_RS256_PEM)
                .unwrap()
                .sign(claims()),
        ),
        (
            RsaHash::Sha384,
            RsaPadding::Pkcs1v15,
            RS384KeyPair::from_pem(DEV_RS256_PEM)
                .unwrap()
                .sign(claims()),
        ),
        (
            RsaHash::Sha512,
            RsaPadding::Pkcs1v15,
            RS512KeyPair::from_pem(DEV_RS256_PEM)
                .unwrap()
                .sign(claims()),
        ),
        (
            RsaHash::Sha256,
            RsaPadding::Pss,
            PS256KeyPair::from_pem(DEV_RS256_PEM)
                .unwrap()
                .sign(claims()),
        ),
        (
            RsaHash::Sha384,
            RsaPadding::Pss,
            PS384KeyPair::from_pem(DEV_RS256_PEM)
                .unwrap()
                .sign(claims()),
        ),
        (
            RsaHash::Sha512,
            RsaPadding::Pss,
            PS512KeyPair::from_pem(DEV_RS256_PEM)
                .unwrap()
                .sign(claims()),
        ),
    ];
    for (hash, padding, token) in &tokens {
        let (input, signature) = split(token.as_ref().unwrap());
        for (other_hash, other_padding, _) in &tokens {
            let verifier = rsa_verifier(&key, *other_hash, *other_padding);
            assert_eq!(
                verifier.verify(&input, &signature),
                (hash, padding) == (other_hash, other_padding),
                "{hash:?}/{padding:?} signature checked as {other_hash:?}/{other_padding:?}"
            );
        }
    }
}

#[test]
fn rsa_signature_from_another_key_is_refused() {
    let attacker = include_str!("testdata/attacker-rs256.pem");
    let (input, signature) = split(
        &RS256KeyPair::from_pem(attacker)
            .unwrap()
            .sign(claims())
            .unwrap(),
    );
    let verifier = rsa_verifier(&dev_rsa(), RsaHash::Sha256, RsaPadding::Pkcs1v15);
    assert!(!verifier.verify(&input, &signature));
}

#[test]
fn pkcs1v15_accepts_only_the_exact_encoded_message() {
    let key = dev_rsa();
    let k = key.size();
    let verifier = rsa_verifier(&key, RsaHash::Sha256, RsaPadding::Pkcs1v15);
    let hash = Sha256::digest(MESSAGE);
    // The crafted encoding itself verifies: the raw signing below is sound.
    let good = pkcs1_em(k, &SHA256_DIGEST_INFO, &hash, |_| {});
    assert!(verifier.verify(MESSAGE, &raw_sign(&key, &good)));
    let sha384_info = [
        0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
        0x05, 0x00, 0x04, 0x30,
    ];
    let forged: Vec<(&str, Vec<u8>)> = vec![
        (
            "block type 02",
            pkcs1_em(k, &SHA256_DIGEST_INFO, &hash, |em| em[1] = 0x02),
        ),
        (
            "leading octet 01",
            pkcs1_em(k, &SHA256_DIGEST_INFO, &hash, |em| em[0] = 0x01),
        ),
        (
            "padding octet fe",
            pkcs1_em(k, &SHA256_DIGEST_INFO, &hash, |em| em[20] = 0xfe),
        ),
        ("separator not zero", {
            let sep = k - SHA256_DIGEST_INFO.len() - 32 - 1;
            pkcs1_em(k, &SHA256_DIGEST_INFO, &hash, |em| em[sep] = 0x01)
        }),
        // Bleichenbacher 2006: short padding, the DigestInfo and hash, then garbage to the end.
        ("garbage after the hash", {
            let mut em = vec![
                0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
            ];
            em.extend_from_slice(&SHA256_DIGEST_INFO);
            em.extend_from_slice(&hash);
            em.resize(k, 0x42);
            em
        }),
        (
            "SHA-384 DigestInfo",
            pkcs1_em(k, &sha384_info[..], &Sha384::digest(MESSAGE), |_| {}),
        ),
        (
            "DigestInfo with the length of SHA-384",
            pkcs1_em(k, &sha384_info[..], &hash, |_| {}),
        ),
        (
            "hash of another message",
            pkcs1_em(k, &SHA256_DIGEST_INFO, &Sha256::digest(b"x"), |_| {}),
        ),
        (
            "last hash octet flipped",
            pkcs1_em(k, &SHA256_DIGEST_INFO, &hash, |em| em[k - 1] ^= 1),
        ),
    ];
    for (what, em) in forged {
        assert!(!verifier.verify(MESSAGE, &raw_sign(&key, &em)), "{what}");
    }
}

#[test]
fn rsa_signature_of_the_wrong_length_or_not_below_the_modulus_is_refused() {
    let key = dev_rsa();
    let signer = RS256KeyPair::from_pem(DEV_RS256_PEM).unwrap();
    let (input, signature) = split(&signer.sign(claims()).unwrap());
    for verifier in [
        rsa_verifier(&key, RsaHash::Sha256, RsaPadding::Pkcs1v15),
        rsa_verifier(&key, RsaHash::Sha256, RsaPadding::Pss),
    ] {
        assert!(!verifier.verify(&input, &signature[1..]), "truncated");
        assert!(
            !verifier.verify(&input, &[&[0u8][..], &signature].concat()),
            "leading zero added"
        );
        assert!(!verifier.verify(&input, &[]), "empty");
        // s + n ≡ s (mod n) would verify if the s < n check were missing; s = n and all-ones too.
        let n = key.n().to_bytes_be();
        assert!(!verifier.verify(&input, &n), "s = n");
        assert!(
            !verifier.verify(&input, &vec![0xff; n.len()]),
            "s = 2^(8k) - 1"
        );
        let s_plus_n = (rsa::BigUint::from_bytes_be(&signature) + key.n()).to_bytes_be();
        if s_plus_n.len() == n.len() {
            assert!(!verifier.verify(&input, &s_plus_n), "s + n");
        }
    }
}

/// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with SHA-256 for a `bits`-bit modulus, then `edit`.
fn pss_em(
    key_bits: usize,
    message: &[u8],
    salt: &[u8],
    edit: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let em_bits = key_bits - 1;
    let em_len = em_bits.div_ceil(8);
    let m_hash = Sha256::digest(message);
    let h = Sha256::digest([&[0u8; 8][..], &m_hash, salt].concat());
    let mut db = vec![0u8; em_len - salt.len() - 32 - 2];
    db.push(0x01);
    db.extend_from_slice(salt);
    let mut counter = 0u32;
    let mut mask = Vec::new();
    while mask.len() < db.len() {
        mask.extend_from_slice(&Sha256::digest([&h[..], &counter.to_be_bytes()].concat()));
        counter += 1;
    }
    for (byte, m) in db.iter_mut().zip(mask) {
        *byte ^= m;
    }
    db[0] &= 0xff >> (8 * em_len - em_bits);
    let mut em = db;
    em.extend_from_slice(&h);
    em.push(0xbc);
    edit(&mut em);
    em
}

#[test]
fn pss_accepts_a_salt_of_the_hash_length_only_and_checks_every_field() {
    let key = dev_rsa();
    let bits = key.n().bits();
    let verifier = rsa_verifier(&key, RsaHash::Sha256, RsaPadding::Pss);
    let salt = [0x5a; 32];
    assert!(verifier.verify(
        MESSAGE,
        &raw_sign(&key, &pss_em(bits, MESSAGE, &salt, |_| {}))
    ));
    let forged: Vec<(&str, Vec<u8>)> = vec![
        ("empty salt", pss_em(bits, MESSAGE, &[], |_| {})),
        ("20-octet salt", pss_em(bits, MESSAGE, &[7; 20], |_| {})),
        (
            "trailer bb",
            pss_em(bits, MESSAGE, &salt, |em| *em.last_mut().unwrap() = 0xbb),
        ),
        // Still below n (whose top octet is 0xc9), so the raw signing works.
        (
            "top bit of maskedDB set",
            pss_em(bits, MESSAGE, &salt, |em| em[0] = em[0] & 0x3f | 0x80),
        ),
        (
            "H flipped",
            pss_em(bits, MESSAGE, &salt, |em| {
                let at = em.len() - 2;
                em[at] ^= 1;
            }),
        ),
        (
            "salt octet flipped",
            pss_em(bits, MESSAGE, &salt, |em| {
                let at = em.len() - 34;
                em[at] ^= 1;
            }),
        ),
        ("another message", pss_em(bits, b"another", &salt, |_| {})),
    ];
    for (what, em) in forged {
        assert!(!verifier.verify(MESSAGE, &raw_sign(&key, &em)), "{what}");
    }
}

#[test]
fn rsa_keys_with_unusable_parameters_are_refused() {
    let key = dev_rsa();
    let n = key.n().to_bytes_be();
    let e = key.e().to_bytes_be();
    let new = |n: &[u8], e: &[u8]| RsaVerifier::new(n, e, RsaHash::Sha256, RsaPadding::Pkcs1v15);
    let mut even = n.clone();
    *even.last_mut().unwrap() &= 0xfe;
    assert!(new(&even, &e).is_err(), "even modulus");
    assert!(new(&[], &e).is_err(), "empty modulus");
    assert!(new(&[1], &e).is_err(), "modulus 1");
    assert!(new(&n, &[1]).is_err(), "e = 1");
    assert!(new(&n, &[0x01, 0x00, 0x00]).is_err(), "even e");
    assert!(new(&n, &[1; 9]).is_err(), "e over 64 bits");
    assert!(
        new(&[&[0, 0][..], &n].concat(), &[0, 1, 0, 1]).is_ok(),
        "leading zeros"
    );
}

fn es256_pair() -> (ES256KeyPair, Es256Verifier, p256::ecdsa::VerifyingKey) {
    let pair = ES256KeyPair::generate();
    let reference = *pair.public_key().public_key().as_ref();
    let verifier = Es256Verifier::new(&reference);
    (pair, verifier, reference)
}

#[test]
fn es256_agrees_with_p256_on_valid_and_tampered_signatures() {
    let dev = ES256KeyPair::from_pem(DEV_ES256_PEM).unwrap();
    let pairs = [
        (
            Es256Verifier::new(dev.public_key().public_key().as_ref()),
            *dev.public_key().public_key().as_ref(),
            dev,
        ),
        {
            let (pair, verifier, reference) = es256_pair();
            (verifier, reference, pair)
        },
    ];
    for (verifier, reference, pair) in &pairs {
        for i in 0..16u64 {
            let token = pair
                .sign(claims().with_subject(format!("user-{i}")))
                .unwrap();
            let (input, signature) = split(&token);
            assert!(verifier.verify(&input, &signature), "valid signature {i}");
            let mut candidates = vec![signature[32..]
                .iter()
                .chain(&signature[..32])
                .copied()
                .collect::<Vec<u8>>()];
            for bit in [0, 9, 255, 256, 300, 511] {
                let mut flipped = signature.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                candidates.push(flipped);
            }
            let mut other_input = input.clone();
            other_input[0] ^= 1;
            assert!(
                !verifier.verify(&other_input, &signature),
                "other message {i}"
            );
            for candidate in candidates {
                let reference_says = p256::ecdsa::Signature::from_slice(&candidate)
                    .is_ok_and(|s| reference.verify(&input, &s).is_ok());
                assert!(!reference_says, "p256 accepts a tampered signature?");
                assert!(
                    !verifier.verify(&input, &candidate),
                    "tampered signature {i}"
                );
            }
        }
    }
}

#[test]
fn es256_accepts_the_high_s_twin_as_p256_does() {
    // ECDSA signatures are malleable: (r, n - s) verifies too. p256 accepts it for ES256 (no
    // low-S rule in RFC 7518); the table verifier keeps that behaviour, nothing more.
    let (pair, verifier, reference) = es256_pair();
    let (input, signature) = split(&pair.sign(claims()).unwrap());
    let parsed = p256::ecdsa::Signature::from_slice(&signature).unwrap();
    let (r, s) = parsed.split_scalars();
    let twin = p256::ecdsa::Signature::from_scalars(*r, -*s).unwrap();
    assert_eq!(
        verifier.verify(&input, &twin.to_bytes()),
        reference.verify(&input, &twin).is_ok()
    );
}

#[test]
fn es256_refuses_signatures_of_another_key_and_out_of_range_scalars() {
    let (pair, _, _) = es256_pair();
    let (_, verifier, _) = es256_pair();
    let (input, signature) = split(&pair.sign(claims()).unwrap());
    assert!(!verifier.verify(&input, &signature), "another key");
    let order: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    let (r, s) = signature.split_at(32);
    for (what, candidate) in [
        ("r = 0", [&[0u8; 32][..], s].concat()),
        ("s = 0", [r, &[0u8; 32][..]].concat()),
        ("r = n", [&order[..], s].concat()),
        ("s = n", [r, &order[..]].concat()),
        ("63 octets", signature[1..].to_vec()),
        ("DER-sized", [&signature[..], &[0u8; 8][..]].concat()),
    ] {
        assert!(!verifier.verify(&input, &candidate), "{what}");
    }
}

proptest::proptest! {
    /// RSAVP1 computes `s^e mod n` (then I2OSP) for any odd modulus of 512 to 4,096 bits and the
    /// public exponents keys use, against `num-bigint-dig`'s `modpow`: the signature entering the
    /// exponentiation as a Montgomery form and leaving it through the per-key `R^e mod n` must give
    /// the plain power, at every precision (limb count) and for exponents of two to 33 bits.
    #[test]
    fn rsavp1_is_the_plain_modular_power(
        n_bytes in proptest::collection::vec(proptest::num::u8::ANY, 64..=512),
        s_seed in proptest::collection::vec(proptest::num::u8::ANY, 512),
        e in proptest::sample::select(vec![3u64, 17, 65_537, (1 << 32) + 15]),
    ) {
        let mut n_bytes = n_bytes;
        n_bytes[0] |= 0x80;
        *n_bytes.last_mut().unwrap() |= 1;
        let n = rsa::BigUint::from_bytes_be(&n_bytes);
        let s = rsa::BigUint::from_bytes_be(&s_seed[..n_bytes.len()]) % &n;
        let mut signature = vec![0u8; n_bytes.len()];
        let s_bytes = s.to_bytes_be();
        signature[n_bytes.len() - s_bytes.len()..].copy_from_slice(&s_bytes);
        let verifier =
            RsaVerifier::new(&n_bytes, &e.to_be_bytes(), RsaHash::Sha256, RsaPadding::Pkcs1v15)
                .unwrap();
        let expected = s.modpow(&rsa::BigUint::from(e), &n).to_bytes_be();
        let mut expected_k = vec![0u8; n_bytes.len() - expected.len()];
        expected_k.extend_from_slice(&expected);
        proptest::prop_assert_eq!(verifier.rsavp1(&signature), Some(expected_k));
    }
}
