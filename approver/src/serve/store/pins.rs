//! Tool-definition pins in the store (migration 4, both backends): `tool_pins` holds the pin of
//! each `(upstream, tool)` — the first definition reported (first writer wins: `INSERT … ON
//! CONFLICT DO NOTHING`), or the one an approver pinned — and `tool_pin_changes` the definitions
//! reported that differ from the pin (or, under `new_tools: hold`, have none): pending (re-)pin
//! requests until an approver pins one of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_core::pinning::wire::ObservedTool;

use super::Store;

/// The pin of one tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    /// Tool name.
    pub tool: String,
    /// The pinned fingerprint (64 lower-case hex digits).
    pub fingerprint: String,
    /// The pinned definition (its fingerprinted members).
    pub definition: Value,
    /// Unix seconds it was pinned.
    pub pinned_at: i64,
    /// `sub` of the approver who pinned it; `None` when it was the first definition seen.
    pub pinned_by: Option<String>,
}

/// A reported definition that differs from the pin (or has none under `hold`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinChange {
    /// Tool name.
    pub tool: String,
    /// The reported fingerprint.
    pub fingerprint: String,
    /// The pin it differs from when reported (`None`: the tool had no pin).
    pub previous: Option<String>,
    /// The reported definition (its fingerprinted members).
    pub definition: Value,
    /// Unix seconds it was first reported.
    pub seen_at: i64,
    /// `pending`, `approved` (it became the pin) or `superseded` (another definition was pinned).
    pub status: String,
    /// `sub` of the approver who pinned it.
    pub decided_by: Option<String>,
    /// Unix seconds it was pinned.
    pub decided_at: Option<i64>,
}

/// Why a pin approval was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
    /// No pending change of that tool.
    #[error("no pending definition change of tool {0:?} to pin")]
    NothingPending(String),
    /// The definition the approver reviewed is not a pending change of the tool (already pinned
    /// or superseded, or never reported): nothing is pinned.
    #[error("definition {fingerprint} of tool {tool:?} is not a pending change (already decided, or never reported): reload the list")]
    NotPending {
        /// Tool name.
        tool: String,
        /// The fingerprint the approver reviewed.
        fingerprint: String,
    },
}

impl PinError {
    /// Why nothing of `tool` could be pinned: [`PinError::NotPending`] for a `reviewed`
    /// fingerprint, [`PinError::NothingPending`] otherwise.
    pub fn not_pending(tool: &str, reviewed: Option<&str>) -> Self {
        match reviewed {
            Some(fingerprint) => Self::NotPending {
                tool: tool.to_owned(),
                fingerprint: fingerprint.to_owned(),
            },
            None => Self::NothingPending(tool.to_owned()),
        }
    }
}

impl Store {
    /// Records what a listing showed (each tool already verified): pins the first definition of a
    /// tool without a pin when `pin_new`, and records every other definition that differs from the
    /// pin as a pending change, in one transaction.
    ///
    /// # Errors
    /// On database errors.
    pub async fn observe_pins(
        &self,
        upstream: &str,
        tools: &[ObservedTool],
        pin_new: bool,
        now: i64,
    ) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(store) => store.observe_pins(upstream, tools, pin_new, now),
            Self::Postgres(store) => store.observe_pins(upstream, tools, pin_new, now).await,
        }
    }

    /// The pins of `upstream`, tool name → fingerprint.
    ///
    /// # Errors
    /// On database errors.
    pub async fn pins(&self, upstream: &str) -> anyhow::Result<BTreeMap<String, String>> {
        Ok(self
            .pin_records(upstream)
            .await?
            .into_iter()
            .map(|p| (p.tool, p.fingerprint))
            .collect())
    }

    /// The pins of `upstream`, by tool name.
    ///
    /// # Errors
    /// On database errors.
    pub async fn pin_records(&self, upstream: &str) -> anyhow::Result<Vec<PinRecord>> {
        match self {
            Self::Sqlite(store) => store.pin_records(upstream),
            Self::Postgres(store) => store.pin_records(upstream).await,
        }
    }

    /// The reported changes of `upstream` (of `tool` when given), newest first.
    ///
    /// # Errors
    /// On database errors.
    pub async fn pin_changes(
        &self,
        upstream: &str,
        tool: Option<&str>,
    ) -> anyhow::Result<Vec<PinChange>> {
        match self {
            Self::Sqlite(store) => store.pin_changes(upstream, tool),
            Self::Postgres(store) => store.pin_changes(upstream, tool).await,
        }
    }

    /// Pins the newest pending change of `tool` for `approver` (`sub`) at `now`: it becomes the pin
    /// (recording who and when), every other pending change of the tool is superseded. With
    /// `reviewed` (a fingerprint), that pending change instead of the newest, so an approver pins
    /// exactly the definition they reviewed even if the server changed the tool again since.
    ///
    /// # Errors
    /// [`PinError`] (inside `anyhow`) when nothing is pending or `reviewed` is not pending;
    /// database errors otherwise.
    pub async fn approve_pin(
        &self,
        upstream: &str,
        tool: &str,
        approver: &str,
        now: i64,
        reviewed: Option<&str>,
    ) -> anyhow::Result<PinRecord> {
        match self {
            Self::Sqlite(store) => store.approve_pin(upstream, tool, approver, now, reviewed),
            Self::Postgres(store) => {
                store
                    .approve_pin(upstream, tool, approver, now, reviewed)
                    .await
            }
        }
    }
}

/// The `tool_pin_changes` columns both backends select, in [`change_of`]'s order.
pub(super) const CHANGE_COLUMNS: &str =
    "tool, fingerprint, previous, definition_json, seen_at, status, decided_by, decided_at";

/// A change from its columns ([`CHANGE_COLUMNS`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn change_of(
    tool: String,
    fingerprint: String,
    previous: Option<String>,
    definition_json: &str,
    seen_at: i64,
    status: String,
    decided_by: Option<String>,
    decided_at: Option<i64>,
) -> anyhow::Result<PinChange> {
    Ok(PinChange {
        tool,
        fingerprint,
        previous,
        definition: serde_json::from_str(definition_json)?,
        seen_at,
        status,
        decided_by,
        decided_at,
    })
}
