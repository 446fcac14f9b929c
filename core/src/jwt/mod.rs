//! Bearer-token authentication: the OAuth resource server side of Warden.
//!
//! - [`bearer_token`] reads the token from the `Authorization` header (RFC 6750 §2.1).
//! - [`Verifier`] checks a compact JWS (RFC 7515) JWT (RFC 7519) against the configured issuers and
//!   yields the caller's [`Identity`].
//! - [`KeySet`], [`RemoteJwks`]: inline key sets, and key sets fetched from the identity provider
//!   (`jwks_uri` or OpenID Connect discovery) with their refresh schedule.
//! - [`TokenCache`] remembers verified tokens (by a keyed SipHash of the token) until their `exp`.
//! - [`ResourceServer`]: the RFC 9728 protected-resource metadata, `WWW-Authenticate` challenges
//!   (RFC 6750 §3), and what is sent upstream instead of the caller's token (an upstream credential,
//!   `x-warden-*` identity headers).
//!
//! Key rules (RFC 7517, RFC 7518): RSA keys verify RS256/384/512 and PS256/384/512, EC P-256 keys
//! ES256, EC P-384 keys ES384, OKP Ed25519 keys EdDSA, `oct` keys HS256/384/512 (only when an HS*
//! algorithm is configured). A JWK's `alg`, when present, restricts it to that algorithm; a token's
//! `alg` must be configured for its issuer and fit the key's type, so a token cannot pick a weaker
//! verification (no algorithm confusion). `none` is never accepted. Header parameters `jku`, `x5u`,
//! `jwk` and `x5c` never choose the key: the signature is checked over the token's own signing input
//! with the configured key, and header parameters Warden does not use are ignored whatever their JSON
//! type. Any `crit` header is refused.

mod bearer;
mod cache;
mod claims;
mod error;
mod es256;
mod keys;
mod registered;
mod remote;
mod resource;
mod rsassa;
mod signature;
mod verify;

#[cfg(test)]
mod signature_tests;
#[cfg(test)]
mod tests;

pub use bearer::bearer_token;
pub use cache::TokenCache;
pub use claims::claim_at;
pub use error::AuthError;
pub use keys::KeySet;
pub use remote::{
    FetchOutcome, FetchStep, FetchTarget, RefreshReason, RefreshState, RemoteJwks, DISCOVERY_PATH,
    MAX_DOCUMENT_BYTES, MAX_FETCH_TIMEOUT_MS,
};
pub use resource::{
    secret_from_env, ResourceServer, UpstreamCredential, IDENTITY_HEADER_PREFIX, WELL_KNOWN_PATH,
};
pub use verify::{Verifier, MAX_CLOCK_SKEW_SECONDS, MAX_TOKEN_BYTES};

use crate::identity::Identity;

/// A token that passed [`Verifier::verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The caller, from the token's claims.
    pub identity: Identity,
    /// The token's `exp` claim, in unix seconds (RFC 7519 §4.1.4).
    pub expires_at: u64,
}
