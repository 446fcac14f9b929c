//! Remote key sets (`issuers[n].remote_jwks`): fetched by the root context with `dispatch_http_call`,
//! stored in shared data so every worker VM verifies with the same keys.
//!
//! Shared data, per issuer (key prefix [`RemoteJwks::shared_data_key`]):
//! - `<prefix>.keys`: the last good JWK Set, exactly as fetched (already checked to hold a usable key);
//! - `<prefix>.state`: the [`RefreshState`] (JSON). Writing `attempted_at` with compare-and-swap is
//!   the lease: of all VMs that find a fetch due on their tick, only the one whose write succeeds
//!   fetches.
//!
//! A failed fetch keeps the last good key set, logs the reason, records it in the state and counts
//! `warden.jwks.failures`. HTTP contexts read the key set through [`KeyCache`] (parsed once per
//! change, by the shared-data CAS) and ask for a refresh when a token names an unknown `kid`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType};
use warden_core::exchange::KeySource;
use warden_core::jwt::{FetchOutcome, FetchStep, KeySet, RefreshState, RemoteJwks, Verifier};
use warden_core::metric::Counter;

use crate::metrics::Metrics;
use crate::shared_json;

/// How often the root context checks whether a fetch is due.
pub const TICK: Duration = Duration::from_secs(1);

fn keys_key(remote: &RemoteJwks) -> String {
    format!("{}.keys", remote.shared_data_key())
}

fn state_key(remote: &RemoteJwks) -> String {
    format!("{}.state", remote.shared_data_key())
}

/// The shared state (unreadable data is the empty state).
fn read_state(remote: &RemoteJwks) -> RefreshState {
    shared_json::read(&state_key(remote))
}

/// Applies `change` to the shared state with compare-and-swap, retrying on conflicts. Returns whether
/// the write happened.
fn update_state(remote: &RemoteJwks, change: impl Fn(&mut RefreshState) -> bool) -> bool {
    shared_json::update(&state_key(remote), change).unwrap_or(false)
}

/// One fetch in flight.
struct InFlight {
    issuer: usize,
    step: FetchStep,
}

/// The root context's side: starts due fetches on each tick and stores what comes back.
#[derive(Default)]
pub struct KeyFetcher {
    in_flight: HashMap<u32, InFlight>,
}

impl KeyFetcher {
    /// Starts a fetch for every remote issuer whose refresh is due at `now` (unix seconds) and whose
    /// lease this VM wins.
    pub fn tick(&mut self, verifier: &Verifier, now: u64, metrics: &Metrics) {
        for (issuer, remote) in verifier.remote_issuers() {
            if self.in_flight.values().any(|f| f.issuer == issuer) {
                continue;
            }
            let state = read_state(remote);
            let Some(reason) = remote.refresh_due(&state, now) else {
                continue;
            };
            let leased = update_state(remote, |s| {
                // Re-checked on the fresh value: another VM may have started meanwhile.
                let due = remote.refresh_due(s, now) == Some(reason);
                s.attempted_at = Some(now);
                due
            });
            if leased {
                log::info!(
                    "warden: refreshing the key set of issuer {:?} ({})",
                    remote.issuer(),
                    reason.name()
                );
                metrics.add(&Counter::JwksFetches(reason.name()), 1);
                self.start(issuer, remote, remote.first_step(), metrics);
            }
        }
    }

    /// Handles the answer to fetch `token_id` (`body_size` bytes of body). Unknown ids (another
    /// context's calls) are ignored.
    pub fn on_response(
        &mut self,
        token_id: u32,
        body_size: usize,
        verifier: &Verifier,
        now: u64,
        metrics: &Metrics,
    ) {
        let Some(InFlight { issuer, step }) = self.in_flight.remove(&token_id) else {
            return;
        };
        let Some((_, remote)) = verifier.remote_issuers().find(|(i, _)| *i == issuer) else {
            return;
        };
        let status = hostcalls::get_map_value(MapType::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten();
        let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default();
        let outcome = remote.fetch_answered(&step, status.as_deref(), &body);
        match outcome {
            Ok(FetchOutcome::Next(next)) => self.start(issuer, remote, next, metrics),
            Ok(FetchOutcome::Loaded { set, skipped }) => {
                store_key_set(remote, &body, &set, &skipped, now, metrics);
            }
            Err(reason) => fail(remote, &reason, metrics),
        }
    }

    fn start(&mut self, issuer: usize, remote: &RemoteJwks, step: FetchStep, metrics: &Metrics) {
        let target = step.target();
        match hostcalls::dispatch_http_call(
            &remote.cluster,
            target.headers(),
            None,
            Vec::new(),
            Duration::from_millis(remote.timeout_ms),
        ) {
            Ok(token_id) => {
                self.in_flight.insert(token_id, InFlight { issuer, step });
            }
            Err(status) => fail(
                remote,
                &format!(
                    "cannot send GET {}{} to cluster {:?} ({status:?}); is the cluster in Envoy's configuration?",
                    target.authority, target.path, remote.cluster
                ),
                metrics,
            ),
        }
    }
}

fn store_key_set(
    remote: &RemoteJwks,
    body: &[u8],
    set: &KeySet,
    skipped: &[String],
    now: u64,
    metrics: &Metrics,
) {
    if let Err(status) = hostcalls::set_shared_data(&keys_key(remote), Some(body), None) {
        fail(
            remote,
            &format!("cannot store the key set in shared data ({status:?})"),
            metrics,
        );
        return;
    }
    update_state(remote, |s| {
        s.loaded_at = Some(now);
        s.last_error = None;
        true
    });
    metrics.add(&Counter::JwksLoaded, 1);
    log::info!(
        "warden: key set of issuer {:?} loaded: kids {:?}",
        remote.issuer(),
        set.key_ids()
    );
    for reason in skipped {
        log::info!(
            "warden: key set of issuer {:?}: skipped {reason}",
            remote.issuer()
        );
    }
}

fn fail(remote: &RemoteJwks, reason: &str, metrics: &Metrics) {
    log::warn!(
        "warden: key set refresh for issuer {:?} failed, keeping the last good key set (if any): {reason}",
        remote.issuer()
    );
    metrics.add(&Counter::JwksFailures, 1);
    update_state(remote, |s| {
        s.last_error = Some(reason.to_owned());
        true
    });
}

/// The HTTP contexts' side: the current key set of each remote issuer, parsed once per change.
#[derive(Default)]
pub struct KeyCache {
    /// Issuer index → (shared-data CAS of the parsed value, key set).
    parsed: RefCell<HashMap<usize, (u32, Rc<KeySet>)>>,
}

impl KeySource for KeyCache {
    fn key_set(&self, verifier: &Verifier, issuer: usize) -> Option<Rc<KeySet>> {
        let (_, remote) = verifier.remote_issuers().find(|(i, _)| *i == issuer)?;
        let (bytes, cas) = hostcalls::get_shared_data(&keys_key(remote)).ok()?;
        let (bytes, cas) = (bytes?, cas.unwrap_or_default());
        if let Some((seen, set)) = self.parsed.borrow().get(&issuer) {
            if *seen == cas {
                return Some(Rc::clone(set));
            }
        }
        match remote.key_set(&bytes) {
            Ok((set, _)) => {
                let set = Rc::new(set);
                self.parsed
                    .borrow_mut()
                    .insert(issuer, (cas, Rc::clone(&set)));
                Some(set)
            }
            Err(e) => {
                log::error!(
                    "warden: stored key set of {:?} is unusable: {e}",
                    remote.issuer()
                );
                None
            }
        }
    }
}

impl KeyCache {
    /// Records that a token of `issuer` named an unknown `kid`, so the next tick refreshes the key
    /// set (at most once per `unknown_kid_min_interval_seconds`). Does nothing when a request is
    /// already pending.
    pub fn request_refresh(&self, verifier: &Verifier, issuer: usize, now: u64) {
        let Some((_, remote)) = verifier.remote_issuers().find(|(i, _)| *i == issuer) else {
            return;
        };
        update_state(remote, |s| {
            if s.unknown_kid_pending() || s.loaded_at.is_none() {
                return false;
            }
            s.unknown_kid_at = Some(now);
            true
        });
    }
}
