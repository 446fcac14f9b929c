//! [`Runtime`]: what every exchange of one loaded configuration shares (the engine, the verified-token
//! cache, the secrets read from the environment), and bearer-token authentication through it.

use std::cell::RefCell;
use std::rc::Rc;

use crate::engine::Engine;
use crate::identity::Identity;
use crate::jwt::{bearer_token, AuthError, KeySet, TokenCache, Verifier};
use crate::origins::{MemoryOrigins, OriginStore};
use crate::pinning::{MemoryPins, PinSource};

/// Verified tokens kept per runtime (one per Envoy worker VM).
pub const TOKEN_CACHE_CAPACITY: usize = 4096;

/// The key sets of issuers with `remote_jwks`, as the host currently holds them (Envoy: shared data
/// written by the root context's fetcher).
pub trait KeySource {
    /// The loaded key set of remote issuer `issuer` (index in `issuers`), `None` while none is loaded.
    fn key_set(&self, verifier: &Verifier, issuer: usize) -> Option<Rc<KeySet>>;
}

/// Per-configuration state shared by the exchanges of one VM.
pub struct Runtime {
    /// The compiled configuration, with the secrets [`Engine::load`] read.
    pub engine: Engine,
    /// Verified tokens, keyed by a keyed digest of the token.
    pub tokens: RefCell<TokenCache>,
    /// The pin state of tool-definition pinning (the filter's reads Envoy shared data; by default
    /// an empty [`MemoryPins`]).
    pub pins: Box<dyn PinSource>,
    /// Who started each task and SSE stream (the filter's lives in Envoy shared data; by default an
    /// empty [`MemoryOrigins`]).
    pub origins: Box<dyn OriginStore>,
}

impl Runtime {
    /// A runtime around `engine`, with an empty token cache of [`TOKEN_CACHE_CAPACITY`], empty
    /// in-memory pins and origins.
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            tokens: RefCell::new(TokenCache::new(TOKEN_CACHE_CAPACITY)),
            pins: Box::<MemoryPins>::default(),
            origins: Box::<MemoryOrigins>::default(),
        }
    }

    /// Authenticates the `Authorization` header values (every occurrence, in order) at
    /// `now_unix_seconds`: a cached identity, or the bearer JWT verified (RFC 6750 §2.1, RFC 7519) and
    /// cached until its `exp`.
    ///
    /// # Errors
    /// The [`AuthError`], and the remote issuer whose key set should be refreshed when the token named
    /// a key the loaded set lacks (it may have been published since).
    pub fn authenticate(
        &self,
        keys: &dyn KeySource,
        authorization: &[&str],
        now_unix_seconds: u64,
    ) -> Result<Identity, (AuthError, Option<usize>)> {
        let token = bearer_token(authorization).map_err(|e| (e, None))?;
        if let Some(identity) = self.tokens.borrow_mut().get(token, now_unix_seconds) {
            return Ok(identity);
        }
        let verifier = &self.engine.verifier;
        let verified = verifier
            .verify_with(token, now_unix_seconds, |issuer| {
                keys.key_set(verifier, issuer)
            })
            .map_err(|error| {
                let refresh = (error == AuthError::UnknownKey)
                    .then(|| verifier.remote_issuer_of(token))
                    .flatten();
                (error, refresh)
            })?;
        self.tokens.borrow_mut().insert(token, &verified);
        Ok(verified.identity)
    }
}
