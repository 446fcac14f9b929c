//! JWS signature verification (RFC 7515 §5.2, step 8) with one trusted key, over the token's own
//! signing input.
//!
//! The signature is checked over the bytes `BASE64URL(header) || '.' || BASE64URL(payload)` exactly
//! as the token carries them, so no header parameter has to be understood (or even typed) for a valid
//! token to verify, and none of them can choose the key. The crypto is that of the crates jwt-simple
//! uses underneath (superboring for RSA, p256/p384 for ECDSA, ed25519-compact for EdDSA, jwt-simple's
//! own HMAC), reached through the key types jwt-simple parsed from the JWK.

use jwt_simple::prelude::{
    ECDSAP256PublicKeyLike as _, ECDSAP384PublicKeyLike as _, ES256PublicKey, ES384PublicKey,
    Ed25519PublicKey, EdDSAPublicKeyLike as _, HS256Key, HS384Key, HS512Key, MACLike as _,
    RSAPublicKeyLike,
};
use jwt_simple::reexports::ct_codecs;
use p256::ecdsa::signature::Verifier as _;
use superboring::hash::MessageDigest;
use superboring::pkey::{PKey, Public};
use superboring::rsa::Padding;

use super::AuthError;

/// A key ready to check the signature of one JWS algorithm (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Clone)]
pub(super) enum SignatureKey {
    /// RS256/384/512 (RSASSA-PKCS1-v1_5, RFC 7518 §3.3) and PS256/384/512 (RSASSA-PSS, §3.5).
    Rsa {
        key: PKey<Public>,
        digest: MessageDigest,
        padding: Padding,
    },
    /// ES256: ECDSA P-256 with SHA-256 (RFC 7518 §3.4).
    Es256(p256::ecdsa::VerifyingKey),
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
    /// An RSA key with the hash and padding of its jwt-simple algorithm type.
    ///
    /// # Errors
    /// The RSA key could not be wrapped for verification (a message for the configuration error).
    pub(super) fn rsa<K: RSAPublicKeyLike>(key: &K) -> Result<Self, String> {
        let pkey = PKey::from_rsa(key.public_key().as_ref().clone()).map_err(|e| e.to_string())?;
        Ok(Self::Rsa {
            key: pkey,
            digest: K::hash(),
            padding: key.padding_scheme(),
        })
    }

    /// An ES256 key.
    pub(super) fn es256(key: &ES256PublicKey) -> Self {
        Self::Es256(*key.public_key().as_ref())
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
            Self::Rsa {
                key,
                digest,
                padding,
            } => verify_rsa(key, digest, *padding, signing_input, signature),
            Self::Es256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.verify(signing_input, &s).is_ok()),
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

/// RSASSA verification through superboring, as jwt-simple does it.
fn verify_rsa(
    key: &PKey<Public>,
    digest: &MessageDigest,
    padding: Padding,
    signing_input: &[u8],
    signature: &[u8],
) -> bool {
    let Ok(mut verifier) = superboring::sign::Verifier::new(digest.clone(), key) else {
        return false;
    };
    verifier.set_rsa_padding(padding).is_ok()
        && verifier.update(signing_input).is_ok()
        && verifier.verify(signature).unwrap_or(false)
}
