//! Tool-definition pinning's state in Envoy shared data, so that every worker VM hides and refuses
//! the same tools: one JSON [`PinState`] per upstream under [`SharedPins::key`], updated with
//! compare-and-swap, parsed once per change; and the outbox of reports for `warden serve`
//! ([`PinOutbox`], sent by [`crate::pin_sync`]).

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::hostcalls;
use warden_core::pinning::wire::ObservedReport;
use warden_core::pinning::{PinSource, PinState, ToolObservation};
use warden_core::shared_json::SharedJson;

use crate::shared_json;

/// Most reports the outbox holds.
pub const MAX_OUTBOX_REPORTS: usize = 64;

/// The pin state of one upstream in shared data.
pub struct SharedPins {
    key: String,
    /// (CAS of the parsed value, the state).
    parsed: RefCell<Option<(u32, Rc<PinState>)>>,
}

impl SharedPins {
    /// The state of `upstream` (the configuration's `upstream`).
    pub fn new(upstream: &str) -> Self {
        Self {
            key: Self::key(upstream),
            parsed: RefCell::new(None),
        }
    }

    /// The shared-data key of `upstream`'s state: `warden.pins.<upstream>`.
    pub fn key(upstream: &str) -> String {
        format!("warden.pins.{upstream}")
    }

    /// Applies `change` to the stored state with compare-and-swap, retrying on conflicts. Returns
    /// whether a write happened (`change` returns whether it changed anything).
    pub fn update(&self, change: impl Fn(&mut PinState) -> bool) -> bool {
        shared_json::update(&self.key, change).unwrap_or_else(|shared_json::Contended| {
            log::warn!("warden: pin state not updated (shared data kept changing)");
            false
        })
    }

    /// Merges what a listing showed ([`PinState::apply`]).
    pub fn observe(&self, observations: &[ToolObservation]) {
        self.update(|state| state.apply(observations));
    }
}

impl PinSource for SharedPins {
    fn state(&self) -> Rc<PinState> {
        let Ok((Some(bytes), cas)) = hostcalls::get_shared_data(&self.key) else {
            return Rc::default();
        };
        let cas = cas.unwrap_or_default();
        if let Some((seen, state)) = self.parsed.borrow().as_ref() {
            if *seen == cas {
                return Rc::clone(state);
            }
        }
        let state = Rc::new(PinState::from_bytes(Some(&bytes)));
        *self.parsed.borrow_mut() = Some((cas, Rc::clone(&state)));
        state
    }
}

/// The shared-data outbox of reports of one upstream (`warden.pins.<upstream>.outbox`, a JSON
/// array).
pub struct PinOutbox {
    key: String,
    upstream: String,
}

impl PinOutbox {
    /// The outbox of `upstream`.
    pub fn new(upstream: &str) -> Self {
        Self {
            key: format!("{}.outbox", SharedPins::key(upstream)),
            upstream: upstream.to_owned(),
        }
    }

    /// Changes the stored reports with compare-and-swap; returns what `change` returned, or `None`
    /// when the update did not happen.
    fn update<T>(&self, change: impl Fn(&mut Vec<ObservedReport>) -> T) -> Option<T> {
        let mut out = None;
        shared_json::update(&self.key, |reports: &mut Vec<ObservedReport>| {
            out = Some(change(reports));
            true
        })
        .ok()?;
        out
    }

    /// Queues the reports of `observations` worth reporting.
    pub fn push(&self, observations: &[ToolObservation]) {
        let reports = ObservedReport::batches(&self.upstream, observations);
        if reports.is_empty() {
            return;
        }
        let dropped = self.update(|queued| {
            let room = MAX_OUTBOX_REPORTS.saturating_sub(queued.len());
            let dropped = reports.len().saturating_sub(room);
            queued.extend(reports.iter().take(room).cloned());
            dropped
        });
        match dropped {
            Some(0) => {}
            Some(n) => log::warn!(
                "warden: {n} tool pin report(s) dropped: the outbox holds {MAX_OUTBOX_REPORTS} while warden serve does not answer"
            ),
            None => log::warn!("warden: tool pin report dropped (shared data kept changing)"),
        }
    }

    /// Takes the oldest report.
    pub fn pop(&self) -> Option<ObservedReport> {
        self.update(|queued| (!queued.is_empty()).then(|| queued.remove(0)))
            .flatten()
    }

    /// Puts a report back in front (its delivery failed).
    pub fn unpop(&self, report: ObservedReport) {
        self.update(|queued| {
            if queued.len() < MAX_OUTBOX_REPORTS {
                queued.insert(0, report.clone());
            }
        });
    }
}
