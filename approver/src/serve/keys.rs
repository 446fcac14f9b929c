//! Remote key sets for `warden serve`: the `remote_jwks` issuers of the configuration, fetched with
//! `reqwest` and fed to core's [`Verifier`] exactly as the filter feeds it from shared data.
//!
//! When to fetch is core's decision ([`RemoteJwks::refresh_due`]), what to fetch and how to read it
//! too ([`RemoteJwks::first_step`], [`RemoteJwks::jwks_step_from_discovery`],
//! [`RemoteJwks::key_set`]). Fetches happen on demand, while verifying a token: the first token of an
//! issuer loads its keys, a loaded set older than `refresh_interval_seconds` is refreshed, and a
//! token naming an unknown `kid` triggers a refresh at most every `unknown_kid_min_interval_seconds`
//! (so a flood of random `kid`s is not a flood of fetches). The Envoy `cluster` of `remote_jwks` is
//! not used here: the URLs are fetched directly.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use warden_core::jwt::{
    AuthError, FetchStep, KeySet, RefreshState, RemoteJwks, VerifiedToken, Verifier,
    MAX_DOCUMENT_BYTES,
};

/// One remote issuer: its configuration, its current key set and its refresh bookkeeping.
struct Slot {
    remote: RemoteJwks,
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held across a fetch, so concurrent requests do not fetch twice.
    refresh: tokio::sync::Mutex<RefreshState>,
}

/// The key sets of every `remote_jwks` issuer, by the issuer's index in the [`Verifier`].
pub struct RemoteKeySets {
    http: reqwest::Client,
    slots: HashMap<usize, Slot>,
}

impl RemoteKeySets {
    /// Empty key sets for the remote issuers of `verifier`; nothing is fetched yet.
    pub fn new(verifier: &Verifier, http: reqwest::Client) -> Self {
        let slots = verifier
            .remote_issuers()
            .map(|(index, remote)| {
                let slot = Slot {
                    remote: remote.clone(),
                    keys: RwLock::new(None),
                    refresh: tokio::sync::Mutex::new(RefreshState::default()),
                };
                (index, slot)
            })
            .collect();
        Self { http, slots }
    }

    /// Verifies `token` with `verifier` at `now` (unix seconds), loading or refreshing the key set of
    /// its issuer first when one is due, and once more when the token names a `kid` the loaded set
    /// lacks (rate limited).
    ///
    /// # Errors
    /// The [`AuthError`] of the verification; [`AuthError::KeysUnavailable`] while the issuer's keys
    /// cannot be fetched.
    pub async fn verify(
        &self,
        verifier: &Verifier,
        token: &str,
        now: u64,
    ) -> Result<VerifiedToken, AuthError> {
        let Some(index) = verifier.remote_issuer_of(token) else {
            return verifier.verify(token, now);
        };
        self.refresh_if_due(index, now, false).await;
        match verifier.verify_with(token, now, |i| self.current(i)) {
            Err(AuthError::UnknownKey) if self.refresh_if_due(index, now, true).await => {
                verifier.verify_with(token, now, |i| self.current(i))
            }
            other => other,
        }
    }

    /// The loaded key set of issuer `index`, in the shape [`Verifier::verify_with`] takes.
    fn current(&self, index: usize) -> Option<Rc<KeySet>> {
        let slot = self.slots.get(&index)?;
        let keys = slot.keys.read().ok()?.clone()?;
        Some(Rc::new(KeySet::clone(&keys)))
    }

    /// Fetches the key set of issuer `index` when core says a fetch is due (after noting an unknown
    /// `kid` when `unknown_kid`). Returns whether a new key set was stored.
    async fn refresh_if_due(&self, index: usize, now: u64, unknown_kid: bool) -> bool {
        let Some(slot) = self.slots.get(&index) else {
            return false;
        };
        let mut state = slot.refresh.lock().await;
        if unknown_kid {
            state.unknown_kid_at = Some(now);
        }
        let Some(reason) = slot.remote.refresh_due(&state, now) else {
            return false;
        };
        state.attempted_at = Some(now);
        match self.fetch(&slot.remote).await {
            Ok((keys, skipped)) => {
                for why in skipped {
                    tracing::info!("jwks {}: skipped a key: {why}", slot.remote.issuer());
                }
                if let Ok(mut current) = slot.keys.write() {
                    *current = Some(Arc::new(keys));
                }
                state.loaded_at = Some(now);
                state.last_error = None;
                true
            }
            Err(e) => {
                tracing::warn!(
                    "jwks {}: {} fetch failed: {e}",
                    slot.remote.issuer(),
                    reason.name()
                );
                state.last_error = Some(e);
                false
            }
        }
    }

    /// Discovery (when no `jwks_uri` is configured), then the JWK Set.
    async fn fetch(&self, remote: &RemoteJwks) -> Result<(KeySet, Vec<String>), String> {
        let mut step = remote.first_step();
        loop {
            let body = fetch_document(&self.http, &step.target().url, remote.timeout_ms).await?;
            step = match step {
                FetchStep::Discovery(_) => remote.jwks_step_from_discovery(&body)?,
                FetchStep::Jwks(_) => return remote.key_set(&body),
            };
        }
    }
}

/// GETs a JSON document (`accept: application/json`) from `url` within `timeout_ms` milliseconds.
///
/// # Errors
/// A message naming the URL: transport failure, a non-2xx status, or a body over
/// [`MAX_DOCUMENT_BYTES`].
pub async fn fetch_document(
    http: &reqwest::Client,
    url: &str,
    timeout_ms: u64,
) -> Result<Vec<u8>, String> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(Duration::from_millis(timeout_ms))
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url} answered {status}"));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(format!("GET {url}: over {MAX_DOCUMENT_BYTES} bytes"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("GET {url}: over {MAX_DOCUMENT_BYTES} bytes"));
    }
    Ok(body.to_vec())
}
