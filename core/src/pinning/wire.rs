//! The filter ↔ `warden serve` pin protocol, on the internal listener (shared secret
//! `x-warden-internal-secret`, as `/v1/check`):
//! - `POST /v1/pins/observed` ([`OBSERVED_PATH`]), body [`ObservedReport`]: the tools a listing
//!   showed without a pin, or changed since pinned, with their definitions. The service recomputes
//!   every fingerprint, pins the first definition per `(upstream, tool)` unless its own
//!   configuration says `new_tools: hold` (first writer wins), and records the others as pending
//!   (re-)pin requests. Answer: [`PinsAnswer`].
//! - `GET /v1/pins?upstream=NAME` ([`PINS_PATH`]): the current pins. Answer: [`PinsAnswer`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{tool_fingerprint, ToolObservation};

/// Path of the report of observed tools.
pub const OBSERVED_PATH: &str = "/v1/pins/observed";

/// Path of the pins of one upstream (query `upstream=NAME`).
pub const PINS_PATH: &str = "/v1/pins";

/// Most tools one report carries (a listing with more is reported in several).
pub const MAX_REPORTED_TOOLS: usize = 256;

/// One tool a listing showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedTool {
    /// Tool name.
    pub tool: String,
    /// Its fingerprint as the filter computed it ([`tool_fingerprint`]).
    pub fingerprint: String,
    /// The fingerprinted members of its definition ([`super::fingerprinted`]).
    pub definition: Value,
}

impl ObservedTool {
    /// Checks that the definition names the tool and hashes to the fingerprint.
    ///
    /// # Errors
    /// What does not match.
    pub fn verify(&self) -> Result<(), String> {
        if self.definition.get("name").and_then(Value::as_str) != Some(self.tool.as_str()) {
            return Err(format!(
                "the definition of {:?} does not name it",
                self.tool
            ));
        }
        let computed = tool_fingerprint(&self.definition);
        if computed != self.fingerprint {
            return Err(format!(
                "the fingerprint of {:?} is {computed}, not {}",
                self.tool, self.fingerprint
            ));
        }
        Ok(())
    }
}

/// The body of `POST /v1/pins/observed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedReport {
    /// The plugin's `upstream`.
    pub upstream: String,
    /// The tools, at most [`MAX_REPORTED_TOOLS`].
    pub tools: Vec<ObservedTool>,
}

/// The filter's outbox of reports not yet delivered to `warden serve`; unreadable means empty (the
/// tools are reported again on their next listing).
impl crate::shared_json::SharedJson for Vec<ObservedReport> {}

impl ObservedReport {
    /// The reports (at most [`MAX_REPORTED_TOOLS`] tools each) of the observations worth reporting
    /// ([`ToolObservation::is_reported`]).
    pub fn batches(upstream: &str, observations: &[ToolObservation]) -> Vec<Self> {
        let tools: Vec<ObservedTool> = observations
            .iter()
            .filter(|o| o.is_reported())
            .map(|o| ObservedTool {
                tool: o.tool.clone(),
                fingerprint: o.fingerprint.clone(),
                definition: o.definition.clone(),
            })
            .collect();
        tools
            .chunks(MAX_REPORTED_TOOLS)
            .map(|chunk| Self {
                upstream: upstream.to_owned(),
                tools: chunk.to_vec(),
            })
            .collect()
    }
}

/// The answer of both endpoints: tool name → pinned fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinsAnswer {
    /// The pins of the upstream.
    pub pins: BTreeMap<String, String>,
}
