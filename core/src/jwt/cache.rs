//! [`TokenCache`]: verified tokens, so a client reusing its token is not re-verified per request.

use std::hash::Hasher as _;
use std::num::NonZeroUsize;

use lru::LruCache;
use siphasher::sip128::{Hasher128 as _, SipHasher24};

use super::VerifiedToken;
use crate::identity::Identity;

/// A token's keyed digest: SipHash-2-4 with its 128-bit output, under the cache's random key.
type TokenDigest = u128;

/// Cache of verified tokens, keyed by a keyed digest of the token: SipHash-2-4 (128-bit output) under a
/// 128-bit key drawn from the host's random source when the cache is built. The tokens themselves are
/// not kept.
///
/// A hit stands for the very token verified before: SipHash is a keyed pseudorandom function, so a
/// client who does not know the key, which never leaves the VM, cannot make another token share a
/// cached token's digest other than by guessing, one guess per request and one chance in 2^128 per
/// cached token. A digest costs a few operators per byte of the token, a tenth of a SHA-256.
///
/// An entry is dropped once `now >= exp` (the issuer's clock skew is not extended to cached entries).
/// At most `capacity` entries are held; a full cache drops the least recently used one (an expired
/// entry is never used again, so it goes first once the cache fills). Expiry is judged against the
/// latest `now` passed to [`TokenCache::get`]. Without randomness from the host the cache stays empty
/// (every token is verified).
///
/// The cache does not know the configuration: build a new one whenever the [`super::Verifier`]
/// changes, or a token of a removed issuer would stay trusted until its `exp`.
pub struct TokenCache {
    /// `None` when the capacity is 0 (caching disabled) or the host gave no randomness.
    entries: Option<LruCache<TokenDigest, Entry>>,
    /// The SipHash key of the digests.
    digest_key: [u8; 16],
    /// Latest time seen by `get`, in unix seconds.
    now: u64,
}

struct Entry {
    identity: Identity,
    expires_at: u64,
}

impl TokenCache {
    /// An empty cache holding at most `capacity` tokens (0 disables caching), with a fresh random key.
    pub fn new(capacity: usize) -> Self {
        let mut digest_key = [0u8; 16];
        let random = getrandom::fill(&mut digest_key).is_ok();
        Self {
            entries: NonZeroUsize::new(capacity)
                .filter(|_| random)
                .map(LruCache::new),
            digest_key,
            now: 0,
        }
    }

    /// The identity of a cached, unexpired token (now the most recently used); an expired entry is
    /// dropped and `None` returned.
    pub fn get(&mut self, token: &str, now_unix_seconds: u64) -> Option<Identity> {
        self.now = self.now.max(now_unix_seconds);
        let entries = self.entries.as_mut()?;
        let key = digest(&self.digest_key, token);
        let entry = entries.get(&key)?;
        if now_unix_seconds >= entry.expires_at {
            entries.pop(&key);
            return None;
        }
        Some(entry.identity.clone())
    }

    /// Caches a verified token until its `exp`, evicting the least recently used entry when full. A
    /// token already expired at the latest time seen is not cached.
    pub fn insert(&mut self, token: &str, verified: &VerifiedToken) {
        if verified.expires_at <= self.now {
            return;
        }
        let Some(entries) = self.entries.as_mut() else {
            return;
        };
        entries.put(
            digest(&self.digest_key, token),
            Entry {
                identity: verified.identity.clone(),
                expires_at: verified.expires_at,
            },
        );
    }

    /// Number of cached tokens (expired entries not yet dropped included).
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, LruCache::len)
    }

    /// Whether no token is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn digest(key: &[u8; 16], token: &str) -> TokenDigest {
    let mut hasher = SipHasher24::new_with_key(key);
    hasher.write(token.as_bytes());
    hasher.finish128().as_u128()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn verified(sub: &str, expires_at: u64) -> VerifiedToken {
        VerifiedToken {
            identity: Identity {
                iss: "https://idp".to_owned(),
                sub: sub.to_owned(),
                email: None,
                groups: vec![],
                scopes: vec![],
                client_id: None,
                claims: json!({"sub": sub}).into(),
            },
            expires_at,
        }
    }

    #[test]
    fn cached_token_is_returned_until_exp_then_dropped() {
        let mut cache = TokenCache::new(4);
        cache.insert("tok-a", &verified("alice", 1_000));
        assert_eq!(cache.get("tok-a", 999).unwrap().sub, "alice");
        assert!(cache.get("tok-b", 999).is_none());
        assert!(cache.get("tok-a", 1_000).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn full_cache_evicts_an_unused_expired_entry_before_a_used_older_one() {
        let mut cache = TokenCache::new(2);
        cache.insert("old-but-valid", &verified("a", 5_000));
        cache.insert("expiring", &verified("b", 1_000));
        assert!(cache.get("old-but-valid", 2_000).is_some()); // time moves past b's exp
        cache.insert("new", &verified("c", 5_000));
        assert_eq!(cache.len(), 2);
        assert!(cache.get("old-but-valid", 2_000).is_some());
        assert!(cache.get("new", 2_000).is_some());
    }

    #[test]
    fn full_cache_evicts_the_least_recently_used() {
        let mut cache = TokenCache::new(2);
        cache.insert("first", &verified("a", 5_000));
        cache.insert("second", &verified("b", 5_000));
        assert!(cache.get("first", 10).is_some());
        cache.insert("third", &verified("c", 5_000));
        assert!(cache.get("second", 10).is_none());
        assert!(cache.get("first", 10).is_some());
        assert!(cache.get("third", 10).is_some());
    }

    #[test]
    fn full_cache_without_expired_entries_evicts_the_oldest() {
        let mut cache = TokenCache::new(2);
        cache.insert("first", &verified("a", 5_000));
        cache.insert("second", &verified("b", 5_000));
        cache.insert("third", &verified("c", 5_000));
        assert_eq!(cache.len(), 2);
        assert!(cache.get("first", 10).is_none());
        assert!(cache.get("second", 10).is_some());
        assert!(cache.get("third", 10).is_some());
    }

    #[test]
    fn reinserting_a_token_refreshes_its_age() {
        let mut cache = TokenCache::new(2);
        cache.insert("first", &verified("a", 5_000));
        cache.insert("second", &verified("b", 5_000));
        cache.insert("first", &verified("a", 5_000));
        cache.insert("third", &verified("c", 5_000));
        assert!(cache.get("first", 10).is_some());
        assert!(cache.get("second", 10).is_none());
    }

    #[test]
    fn each_cache_digests_under_its_own_random_key() {
        let (a, b) = (TokenCache::new(1), TokenCache::new(1));
        assert_ne!(a.digest_key, b.digest_key);
        assert_ne!(digest(&a.digest_key, "tok"), digest(&b.digest_key, "tok"));
        assert_ne!(digest(&a.digest_key, "tok"), digest(&a.digest_key, "tol"));
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let mut cache = TokenCache::new(0);
        cache.insert("t", &verified("a", 5_000));
        assert!(cache.is_empty());
        assert!(cache.get("t", 10).is_none());
    }
}
