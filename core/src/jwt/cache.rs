//! [`TokenCache`]: verified tokens, so a client reusing its token is not re-verified per request.

use std::num::NonZeroUsize;

use lru::LruCache;

use super::VerifiedToken;
use crate::identity::Identity;

/// Cache of verified tokens, keyed by the token itself: a hit is the very token verified before, byte
/// for byte (as Envoy's `jwt_authn` cache keys by the token). The tokens stay in the VM's memory
/// until their entry goes, as they do in Envoy's; each entry holds the token (about 1 KB for RS256)
/// and its identity.
///
/// An entry is dropped once `now >= exp` (the issuer's clock skew is not extended to cached entries).
/// At most `capacity` entries are held; a full cache drops the least recently used one (an expired
/// entry is never used again, so it goes first once the cache fills). Expiry is judged against the
/// latest `now` passed to [`TokenCache::get`].
///
/// The cache does not know the configuration: build a new one whenever the [`super::Verifier`]
/// changes, or a token of a removed issuer would stay trusted until its `exp`.
pub struct TokenCache {
    /// `None` when the capacity is 0 (caching disabled).
    entries: Option<LruCache<Box<str>, Entry>>,
    /// Latest time seen by `get`, in unix seconds.
    now: u64,
}

struct Entry {
    identity: Identity,
    expires_at: u64,
}

impl TokenCache {
    /// An empty cache holding at most `capacity` tokens (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity).map(LruCache::new),
            now: 0,
        }
    }

    /// The identity of a cached, unexpired token (now the most recently used); an expired entry is
    /// dropped and `None` returned.
    pub fn get(&mut self, token: &str, now_unix_seconds: u64) -> Option<Identity> {
        self.now = self.now.max(now_unix_seconds);
        let entries = self.entries.as_mut()?;
        let entry = entries.get(token)?;
        if now_unix_seconds >= entry.expires_at {
            entries.pop(token);
            return None;
        }
        Some(entry.identity.clone())
    }

    /// Caches a verified token until its `exp`, evicting the least recently used entry when full. A
    /// token already expired at the latest time seen is not cached.
    pub fn insert(&mut self, token: &str, verified: &VerifiedToken) {
        let Some(entries) = self.entries.as_mut() else {
            return;
        };
        if verified.expires_at <= self.now {
            return;
        }
        entries.put(
            token.into(),
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
    fn zero_capacity_caches_nothing() {
        let mut cache = TokenCache::new(0);
        cache.insert("t", &verified("a", 5_000));
        assert!(cache.is_empty());
        assert!(cache.get("t", 10).is_none());
    }
}
