//! Tool-definition pins between the filter and `warden serve` (the `approvals` block's cluster,
//! authority and secret; see [`warden_core::pinning::wire`]).
//!
//! HTTP contexts put the reports of what listings showed ([`ObservedReport`]) in a shared-data
//! outbox ([`PinOutbox`], at most [`crate::pins::MAX_OUTBOX_REPORTS`]; beyond, new reports are dropped and
//! logged: the local pin state still hides what changed). Each worker's root context ([`PinSync`])
//! sends one report at a time from the outbox on its tick (`POST /v1/pins/observed`) and refreshes
//! the pins every `pinning.refresh_seconds` (`GET /v1/pins?upstream=…`); both answers replace the
//! learned pins in shared data ([`PinState::refresh`]). A report that gets no 2xx answer goes back
//! to the outbox. Without an answer nothing is learned: unknown tools follow `new_tools`, changed
//! ones stay hidden (fail closed).

use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType};
use warden_core::approval::INTERNAL_SECRET_HEADER;
use warden_core::pinning::wire::{ObservedReport, PinsAnswer, OBSERVED_PATH, PINS_PATH};
use warden_core::pinning::PinState;

use crate::pins::PinOutbox;
use crate::shared::Shared;

/// Timeout of one call to `warden serve`.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What a call in flight was.
enum InFlight {
    Report(ObservedReport),
    Refresh,
}

/// The root context's side.
pub struct PinSync {
    shared: Rc<Shared>,
    outbox: PinOutbox,
    refresh_every: Duration,
    last_refresh: Option<Duration>,
    in_flight: Option<(u32, InFlight)>,
}

/// The host clock since the Unix epoch.
fn now() -> Duration {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default()
}

impl PinSync {
    /// The sync of `shared`'s pins; `None` without pinning or without an `approvals` block.
    pub fn new(shared: &Rc<Shared>) -> Option<Self> {
        let engine = &shared.runtime.engine;
        let pinning = engine.pinning.as_ref()?;
        engine.approvals.as_ref()?;
        Some(Self {
            shared: Rc::clone(shared),
            outbox: PinOutbox::new(&engine.upstream),
            refresh_every: Duration::from_secs(pinning.config.refresh_seconds),
            last_refresh: None,
            in_flight: None,
        })
    }

    /// Sends the oldest report, or refreshes when due; one call at a time. Call on each tick.
    pub fn tick(&mut self) {
        if self.in_flight.is_some() {
            return;
        }
        if let Some(report) = self.outbox.pop() {
            let body = serde_json::to_vec(&report).unwrap_or_default();
            self.dispatch(
                "POST",
                OBSERVED_PATH.to_owned(),
                Some(&body),
                InFlight::Report(report),
            );
            return;
        }
        let now = now();
        if self
            .last_refresh
            .is_some_and(|last| now.saturating_sub(last) < self.refresh_every)
        {
            return;
        }
        self.last_refresh = Some(now);
        let path = format!(
            "{PINS_PATH}?upstream={}",
            warden_core::url::component(&self.shared.runtime.engine.upstream)
        );
        self.dispatch("GET", path, None, InFlight::Refresh);
    }

    fn dispatch(&mut self, method: &str, path: String, body: Option<&[u8]>, what: InFlight) {
        let engine = &self.shared.runtime.engine;
        let Some(service) = &engine.approvals else {
            return;
        };
        let mut headers = vec![
            (":method", method),
            (":path", path.as_str()),
            (":authority", service.authority.as_str()),
            ("content-type", "application/json"),
        ];
        if let Some(secret) = &engine.secrets.approvals {
            headers.push((INTERNAL_SECRET_HEADER, secret.as_str()));
        }
        match hostcalls::dispatch_http_call(&service.cluster, headers, body, vec![], CALL_TIMEOUT) {
            Ok(token) => self.in_flight = Some((token, what)),
            Err(status) => {
                log::warn!(
                    "warden: cannot call warden serve for tool pins (cluster {:?}: {status:?})",
                    service.cluster
                );
                if let InFlight::Report(report) = what {
                    self.outbox.unpop(report);
                }
            }
        }
    }

    /// Handles the answer to callout `token_id` (zero headers: no answer). Returns `false` for a
    /// callout that is not this sync's.
    pub fn on_response(&mut self, token_id: u32, num_headers: usize, body_size: usize) -> bool {
        let Some((_, what)) = self.in_flight.take_if(|(token, _)| *token == token_id) else {
            return false;
        };
        let status = (num_headers > 0)
            .then(|| hostcalls::get_map_value(MapType::HttpCallResponseHeaders, ":status"))
            .and_then(Result::ok)
            .flatten()
            .and_then(|s| s.parse::<u16>().ok());
        let answer = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten()
            .and_then(|body| serde_json::from_slice::<PinsAnswer>(&body).ok());
        match (status, answer) {
            (Some(200..=299), Some(answer)) => {
                self.shared
                    .pins
                    .update(|state: &mut PinState| state.refresh(&answer.pins));
                if matches!(what, InFlight::Report(_)) {
                    // Learn what others reported and approvers pinned without waiting.
                    self.last_refresh = None;
                }
            }
            (status, _) => {
                let answer = status.map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}"));
                log::warn!("warden: warden serve did not take the tool pin call ({answer}); keeping the local pins");
                if let InFlight::Report(report) = what {
                    if status.is_none_or(|s| s >= 500) {
                        self.outbox.unpop(report);
                    }
                }
            }
        }
        true
    }
}
