//! Tool-definition pinning's state in Envoy shared data, so that every worker VM hides and refuses
//! the same tools: one JSON [`PinState`] per upstream under [`SharedPins::key`], updated with
//! compare-and-swap, parsed once per change.

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::hostcalls;
use warden_core::pinning::{PinSource, PinState, ToolObservation};

/// Attempts of a compare-and-swap update before giving up.
const CAS_ATTEMPTS: usize = 4;

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
        for _ in 0..CAS_ATTEMPTS {
            let (bytes, cas) = hostcalls::get_shared_data(&self.key).unwrap_or((None, None));
            let mut state = PinState::from_bytes(bytes.as_deref());
            if !change(&mut state) {
                return false;
            }
            if hostcalls::set_shared_data(&self.key, Some(&state.to_bytes()), cas).is_ok() {
                return true;
            }
        }
        log::warn!("warden: pin state not updated (shared data kept changing)");
        false
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
