//! JWS signature verification (RFC 7515 §5.2, step 8) with one trusted key, over the token's own
//! signing input.
//!
//! The signature is checked over the bytes `BASE64URL(header) || '.' || BASE64URL(payload)` exactly
//! as the token carries them, so no header parameter has to be understood (or even typed) for a valid
//! token to verify, and none of them can choose the key. Keys are parsed and checked by jwt-simple
//! from the JWK; RSA signatures are verified by [`super::rsassa`] (a Montgomery modexp with
//! per-key precomputation, several times faster in wasm than the `rsa` crate jwt-simple uses), ES256
//! by [`super::es256`] (p256 arithmetic with per-key fixed-base tables), ES384 by p384, EdDSA by ed25519-compact and HMAC by jwt-simple.

use jwt_simple::prelude::{
    ECDSAP256PublicKeyLike as _, ECDSAP384PublicKeyLike as _, ES256PublicKey, ES384PublicKey,
    Ed25519PublicKey, EdDSAPublicKeyLike as _, HS256Key, HS384Key, HS512Key, MACLike as _,
    RSAPublicKeyLike,
};
use jwt_simple::reexports::ct_codecs;
use p256::ecdsa::signature::Verifier as _;

use super::es256::Es256Verifier;
use super::rsassa::{RsaHash, RsaPadding, RsaVerifier};
use super::AuthError;

/// A key ready to check the signature of one JWS algorithm (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Clone)]
pub(super) enum SignatureKey {
    /// RS256/384/512 (RSASSA-PKCS1-v1_5, RFC 7518 §3.3) and PS256/384/512 (RSASSA-PSS, §3.5).
    Rsa(RsaVerifier),
    /// ES256: ECDSA P-256 with SHA-256 (RFC 7518 §3.4), with the key's precomputed table.
    Es256(Es256Verifier),
    /// ES384: ECDSA P-384 with SHA-384 (RFC 7518 §3.4).
    Es384(p384::ecdsa::VerifyingKey),
    /// EdDSA with Ed25519 (RFC 8037 §3.1).
    EdDsa(ed25519_compact::PublicKey),
    /// HS256 (RFC 7518 §3.2).
    Hs256(HS256Key),
    /// HS384 (RFC 7518 §3.2).
    Hs384(HS384Key),
    /// HS512 (RFC 7518 §3.2).
    Hs512(HS512Key),
}

impl SignatureKey {
    /// An RSA key (as jwt-simple parsed and checked it) for `hash` and `padding`.
    ///
    /// # Errors
    /// The modulus or exponent is unusable (see [`RsaVerifier::new`]; a message for the
    /// configuration error).
    pub(super) fn rsa<K: RSAPublicKeyLike>(
        key: &K,
        hash: RsaHash,
        padding: RsaPadding,
    ) -> Result<Self, String> {
        let components = key.public_key().to_components();
        RsaVerifier::new(&components.n, &components.e, hash, padding).map(Self::Rsa)
    }

    /// An ES256 key.
    pub(super) fn es256(key: &ES256PublicKey) -> Self {
        Self::Es256(Es256Verifier::new(key.public_key().as_ref()))
    }

    /// An ES384 key.
    pub(super) fn es384(key: &ES384PublicKey) -> Self {
        Self::Es384(*key.public_key().as_ref())
    }

    /// An Ed25519 key.
    pub(super) fn eddsa(key: &Ed25519PublicKey) -> Self {
        Self::EdDsa(*key.public_key().as_ref())
    }

    /// Checks `signature` (the decoded third part of the compact JWS) over `signing_input` (the first
    /// two parts and the dot between them, as sent). ECDSA signatures are the fixed-size `R || S`
    /// of RFC 7518 §3.4, not DER; HMAC tags are compared in constant time.
    ///
    /// # Errors
    /// [`AuthError::BadSignature`] when the signature does not verify, including one of the wrong
    /// length for the algorithm.
    pub(super) fn verify(&self, signing_input: &[u8], signature: &[u8]) -> Result<(), AuthError> {
        let valid = match self {
            Self::Rsa(key) => key.verify(signing_input, signature),
            Self::Es256(key) => key.verify(signing_input, signature),
            Self::Es384(key) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify(signing_input, &s).is_ok()),
            Self::EdDsa(key) => ed25519_compact::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify(signing_input, &s).is_ok()),
            Self::Hs256(key) => {
                ct_codecs::verify(&key.authentication_tag(signing_input), signature)
            }
            Self::Hs384(key) => {
                ct_codecs::verify(&key.authentication_tag(signing_input), signature)
            }
            Self::Hs512(key) => {
                ct_codecs::verify(&key.authentication_tag(signing_input), signature)
            }
        };
        if valid {
            Ok(())
        } else {
            Err(AuthError::BadSignature)
        }
    }
}
