//! The top-level `pinning` block of the plugin configuration: tool-definition pinning (rug-pull
//! protection). See [`super`] for what the filter does with it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Tool-definition pinning: each tool of a `tools/list` result is fingerprinted
/// ([`super::tool_fingerprint`]) and compared with its pin; a tool whose definition changed since it
/// was pinned is hidden from listings and its calls are refused (JSON-RPC error -32003) until an
/// approver re-pins it (`warden tools pins approve TOOL`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PinningConfig {
    /// Whether pinning is on (default `true`: writing the block turns it on; `false` keeps the pins
    /// written here while switching the checks off).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// What happens to a tool that has no pin yet: `allow_and_pin` (default) lists and allows it and
    /// pins the first definition seen; `hold` hides it and refuses its calls until an approver pins
    /// it.
    #[serde(default)]
    pub new_tools: NewTools,
    /// Operator pins: tool name → fingerprint (64 lower-case hex digits, as `warden tools pins list`
    /// prints them). They come before the pins learned from `warden serve` and only the configuration
    /// changes them.
    #[serde(default)]
    pub pins: BTreeMap<String, String>,
    /// How often, in seconds, the filter refreshes the pins from `warden serve` (through the
    /// `approvals` block's cluster and secret; at least 1).
    #[serde(default = "default_refresh_seconds")]
    #[schemars(range(min = 1))]
    pub refresh_seconds: u64,
    /// Groups whose members may (re-)pin tools in `warden serve` (`warden tools pins approve`); empty
    /// (the default): any approver (a token for one of `approvers.audiences`, which no agent token
    /// carries).
    #[serde(default)]
    pub approver_groups: Vec<String>,
}

/// What happens to a tool without a pin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewTools {
    /// List and allow it, and pin the first definition seen (trust on first use).
    #[default]
    AllowAndPin,
    /// Hide it from listings and refuse its calls until an approver pins it.
    Hold,
}

fn default_enabled() -> bool {
    true
}

fn default_refresh_seconds() -> u64 {
    30
}

/// Whether `text` is a fingerprint: 64 lower-case hex digits.
pub fn is_fingerprint(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl PinningConfig {
    /// Checks what the shape cannot say: tool names are not empty, pins are fingerprints,
    /// `refresh_seconds` is at least 1.
    ///
    /// # Errors
    /// A [`ConfigError`] at `pinning.pins.<tool>` or `pinning.refresh_seconds`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (tool, pin) in &self.pins {
            if tool.is_empty() {
                return Err(ConfigError::new(
                    "pinning.pins",
                    "a pin names an empty tool name",
                ));
            }
            if !is_fingerprint(pin) {
                return Err(ConfigError::new(
                    format!("pinning.pins.{tool}"),
                    format!("{pin:?} is not a tool fingerprint (64 lower-case hex digits, as `warden tools pins list` prints them)"),
                ));
            }
        }
        if self.refresh_seconds == 0 {
            return Err(ConfigError::new(
                "pinning.refresh_seconds",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}
