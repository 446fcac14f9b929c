//! Tool-definition pinning (rug-pull protection).
//!
//! A server can change a tool's description or schema after people approved it. Warden fingerprints
//! every tool of every `tools/list` result ([`tool_fingerprint`]) and compares it with the tool's pin:
//! the configured pin (`pinning.pins`) first, then the pin learned from `warden serve` or first seen
//! by this Envoy ([`PinState::pins`]).
//! - same fingerprint: listed (and any earlier "changed" mark is cleared);
//! - different fingerprint: removed from the result and remembered as changed
//!   ([`PinState::changed`]); calls of the tool are refused ([`PinRefusal`]) until the pin equals
//!   what the server now lists (an approver re-pinned it);
//! - no pin: `new_tools: allow_and_pin` lists it and pins it (first writer wins), `hold` removes it
//!   and refuses its calls until an approver pins it.
//!
//! The per-VM state is the host's: [`PinSource`] hands out the current [`PinState`] (the filter keeps
//! it in Envoy shared data), and what a listing showed comes back as [`ToolObservation`]s
//! ([`crate::exchange::Effect::ObserveTools`]) for the host to merge ([`PinState::apply`]) and to
//! report to `warden serve`. `notifications/tools/list_changed` is passed on untouched.

mod config;
pub mod wire;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub use config::{is_fingerprint, NewTools, PinningConfig};

use crate::digest::sha256_hex_of_canonical;
use crate::shared_json::SharedJson;

/// The members of a tool definition a fingerprint covers (MCP `Tool`): its name, description, input
/// and output JSON Schemas and annotations.
pub const FINGERPRINTED_MEMBERS: [&str; 5] = [
    "name",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
];

/// Why a change to a pinned tool refuses its calls (`data.reason` of the JSON-RPC error).
pub const CHANGED_REASON: &str = "tool definition changed since it was pinned";

/// Why a tool without a pin is refused under `new_tools: hold` (`data.reason`).
pub const NOT_PINNED_REASON: &str = "tool definition not pinned yet";

/// Why every call is refused once the server listed more changed or held tools than are tracked
/// (`data.reason`; see [`PinState::overflow`]).
pub const OVERFLOW_REASON: &str =
    "more tool definition changes than Warden tracks; an approver must re-pin the server's tools";

/// Most entries each map of a [`PinState`] holds (it lives in shared data, and the server chooses
/// the tool names).
pub const MAX_TRACKED_TOOLS: usize = 4096;

/// The fingerprint of an MCP tool definition: lower-case hex SHA-256 of the RFC 8785 canonical JSON
/// ([`crate::digest`]) of the object made of its [`FINGERPRINTED_MEMBERS`] that are present (absent
/// members are left out, not written as `null`). Other members (`title`, `icons`, `_meta`, ...) do
/// not change it.
pub fn tool_fingerprint(tool: &Value) -> String {
    sha256_hex_of_canonical(&fingerprinted(tool))
}

/// The part of `tool` its fingerprint covers: its [`FINGERPRINTED_MEMBERS`] that are present.
pub fn fingerprinted(tool: &Value) -> Value {
    let members: Map<String, Value> = FINGERPRINTED_MEMBERS
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), tool.get(*name)?.clone())))
        .collect();
    Value::Object(members)
}

/// What the pins of one upstream are, as the host currently holds them (learned pins and marks; the
/// configured pins live in [`Pinning`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PinState {
    /// Learned pins: tool name → fingerprint (from `warden serve`, or the first definition this
    /// Envoy saw under `allow_and_pin`).
    pub pins: BTreeMap<String, String>,
    /// Tools last listed with a definition that differs from their pin: name → that fingerprint.
    pub changed: BTreeMap<String, String>,
    /// Tools last listed without a pin under `new_tools: hold`: name → their fingerprint.
    pub unpinned: BTreeMap<String, String>,
    /// A changed or held tool could not be marked ([`MAX_TRACKED_TOOLS`]): every call is refused
    /// (fail closed) until marks are cleared below the bound.
    pub overflow: bool,
}

/// Inserts into a bounded map ([`MAX_TRACKED_TOOLS`]); returns whether it fit.
fn insert_bounded(map: &mut BTreeMap<String, String>, key: &str, value: &str) -> bool {
    if map.len() >= MAX_TRACKED_TOOLS && !map.contains_key(key) {
        return false;
    }
    map.insert(key.to_owned(), value.to_owned());
    true
}

/// An unreadable state is empty: only configured pins apply until the next refresh.
impl SharedJson for PinState {}

impl PinState {
    /// Merges what a listing showed. A new tool's first fingerprint becomes its pin unless one is
    /// already learned (first writer wins); a changed tool is marked; a tool listed as pinned loses
    /// its marks. Returns whether anything changed.
    pub fn apply(&mut self, observations: &[ToolObservation]) -> bool {
        let before = self.clone();
        for o in observations {
            match &o.status {
                ToolStatus::Pinned => {
                    self.changed.remove(&o.tool);
                    self.unpinned.remove(&o.tool);
                }
                ToolStatus::New => {
                    // Beyond the bound the tool stays unpinned here; `warden serve` still pins it.
                    if !self.pins.contains_key(&o.tool) {
                        insert_bounded(&mut self.pins, &o.tool, &o.fingerprint);
                    }
                }
                ToolStatus::Held => {
                    self.overflow |= !insert_bounded(&mut self.unpinned, &o.tool, &o.fingerprint);
                }
                ToolStatus::Changed { .. } => {
                    self.overflow |= !insert_bounded(&mut self.changed, &o.tool, &o.fingerprint);
                }
            }
        }
        if self.changed.len() < MAX_TRACKED_TOOLS && self.unpinned.len() < MAX_TRACKED_TOOLS {
            self.overflow = false;
        }
        *self != before
    }

    /// Takes the pins `warden serve` holds for this upstream (tool name → fingerprint): they replace
    /// the learned pins of the same names; learned pins it does not know yet are kept (their report
    /// may still be on its way). Returns whether anything changed.
    pub fn refresh(&mut self, served: &BTreeMap<String, String>) -> bool {
        let before = self.pins.clone();
        for (tool, pin) in served {
            self.pins.insert(tool.clone(), pin.clone());
        }
        self.pins != before
    }
}

/// What a listing showed about one tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolObservation {
    /// Tool name.
    pub tool: String,
    /// Its fingerprint as listed ([`tool_fingerprint`]).
    pub fingerprint: String,
    /// How it compares with its pin.
    pub status: ToolStatus,
    /// The fingerprinted members of the definition as listed ([`fingerprinted`]), reported to
    /// `warden serve` for review; `null` for [`ToolStatus::Pinned`].
    pub definition: Value,
}

/// How a listed tool compares with its pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ToolStatus {
    /// It matches its pin: listed.
    Pinned,
    /// No pin yet, `allow_and_pin`: listed, and pinned now.
    New,
    /// No pin yet, `hold`: removed until an approver pins it.
    Held,
    /// It differs from its pin: removed until an approver re-pins it.
    Changed {
        /// The pin it differs from.
        pinned: String,
    },
}

impl ToolObservation {
    /// Whether `warden serve` should hear of it (anything but a tool that matches its pin).
    pub fn is_reported(&self) -> bool {
        self.status != ToolStatus::Pinned
    }
}

/// The host's pin state (Envoy shared data in the filter).
pub trait PinSource {
    /// The current state.
    fn state(&self) -> Rc<PinState>;
}

/// A [`PinSource`] in memory (one process; the default of a [`crate::exchange::Runtime`]).
#[derive(Debug, Default)]
pub struct MemoryPins(pub RefCell<Rc<PinState>>);

impl PinSource for MemoryPins {
    fn state(&self) -> Rc<PinState> {
        Rc::clone(&self.0.borrow())
    }
}

impl MemoryPins {
    /// Merges observations ([`PinState::apply`]).
    pub fn apply(&self, observations: &[ToolObservation]) {
        let mut state = (**self.0.borrow()).clone();
        if state.apply(observations) {
            *self.0.borrow_mut() = Rc::new(state);
        }
    }
}

/// A call refused because of its tool's pin: JSON-RPC error -32003 with `data: {tool, reason,
/// pinned, seen}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRefusal {
    /// The tool called.
    pub tool: String,
    /// [`CHANGED_REASON`] or [`NOT_PINNED_REASON`].
    pub reason: &'static str,
    /// Its pin (`None`: not pinned).
    pub pinned: Option<String>,
    /// The fingerprint last listed (`None`: never listed since this Envoy started).
    pub seen: Option<String>,
}

impl PinRefusal {
    /// The JSON-RPC error message.
    pub fn message(&self) -> String {
        let action = if self.pinned.is_some() {
            "re-pin"
        } else {
            "pin"
        };
        format!(
            "tool \"{}\" refused: {}; an approver must {action} it (warden tools pins approve)",
            self.tool, self.reason
        )
    }

    /// The JSON-RPC error `data`.
    pub fn data(&self) -> Value {
        json!({"tool": self.tool, "reason": self.reason, "pinned": self.pinned, "seen": self.seen})
    }
}

/// Pinning as configured (only built when `pinning.enabled`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinning {
    /// The configuration block.
    pub config: PinningConfig,
}

impl Pinning {
    /// The pin of `tool`: configured first, then learned.
    pub fn pin<'a>(&'a self, state: &'a PinState, tool: &str) -> Option<&'a String> {
        self.config.pins.get(tool).or_else(|| state.pins.get(tool))
    }

    /// Judges a call of `tool`: `Ok` with the fingerprint recorded in its audit record (the pin,
    /// else the fingerprint last listed), or the refusal when the tool changed since it was pinned,
    /// or has no pin under `hold`.
    ///
    /// # Errors
    /// The [`PinRefusal`].
    pub fn check_call(&self, state: &PinState, tool: &str) -> Result<Option<String>, PinRefusal> {
        let pin = self.pin(state, tool);
        let seen = state.changed.get(tool).or_else(|| state.unpinned.get(tool));
        let refusal = |reason| PinRefusal {
            tool: tool.to_owned(),
            reason,
            pinned: pin.cloned(),
            seen: seen.cloned(),
        };
        if state.overflow {
            return Err(refusal(OVERFLOW_REASON));
        }
        match (pin, state.changed.get(tool)) {
            (Some(pin), Some(changed)) if pin != changed => Err(refusal(CHANGED_REASON)),
            (None, _) if self.config.new_tools == NewTools::Hold => Err(refusal(NOT_PINNED_REASON)),
            _ => Ok(pin.or(seen).cloned()),
        }
    }

    /// Judges the tools of one listing in place: removes those that changed since they were pinned
    /// (and, under `hold`, those without a pin), any entry without a string `name`, and every entry
    /// of a name listed more than once (which definition the server runs is unknown; a twin that
    /// matches its pin is not reported as pinned, so it cannot clear a changed twin's mark), and
    /// returns what it saw of each tool.
    pub fn review_listing(&self, state: &PinState, tools: &mut Vec<Value>) -> Vec<ToolObservation> {
        let mut seen = BTreeMap::<&str, usize>::new();
        for name in tools
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
        {
            *seen.entry(name).or_default() += 1;
        }
        let twins: Vec<String> = seen
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(name, _)| name.to_owned())
            .collect();
        let mut observations = Vec::new();
        tools.retain(|tool| {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                return false;
            };
            let fingerprint = tool_fingerprint(tool);
            let status = match self.pin(state, name) {
                Some(pin) if *pin == fingerprint => ToolStatus::Pinned,
                Some(pin) => ToolStatus::Changed {
                    pinned: pin.clone(),
                },
                None if self.config.new_tools == NewTools::Hold => ToolStatus::Held,
                None => ToolStatus::New,
            };
            let twin = twins.iter().any(|t| t == name);
            let keep = !twin && matches!(status, ToolStatus::Pinned | ToolStatus::New);
            if twin && status == ToolStatus::Pinned {
                return false;
            }
            let definition = if status == ToolStatus::Pinned {
                Value::Null
            } else {
                fingerprinted(tool)
            };
            observations.push(ToolObservation {
                tool: name.to_owned(),
                fingerprint,
                status,
                definition,
            });
            keep
        });
        observations
    }
}

/// What a response plan carries for pinning: the state when the request was judged, and what the
/// listings in the response showed (taken by the exchange at its end).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListingReview {
    /// The pin state the listings are judged against.
    pub state: Rc<PinState>,
    /// What they showed, in order.
    pub observed: RefCell<Vec<ToolObservation>>,
}

#[cfg(test)]
mod tests;
