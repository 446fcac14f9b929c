//! Rewriting what the MCP server sends back: masking every string and number leaf of results, errors and
//! server-sent params, and dropping from `tools/list` results the tools this caller may not call.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::engine::Engine;
use crate::identity::Identity;
use crate::mask::{DetectorSet, MaskCounts};

/// How to rewrite the responses to one request; built when the request is inspected.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePlan {
    /// Detectors to run (the union of the deciding rules' masking profiles); `None` masks nothing.
    pub detectors: Option<DetectorSet>,
    /// JSON-RPC ids of the `tools/list` requests whose results are filtered per caller.
    pub tools_list_ids: Vec<Value>,
}

/// Values masked per detector, keyed by the JSON text of the JSON-RPC id of the message they were in
/// (`""` for messages without an id).
pub type MaskedById = BTreeMap<String, MaskCounts>;

/// Why a response body could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// The body is larger than `limits.max_response_body_bytes`.
    #[error(
        "response body exceeds the {limit}-byte inspection limit (limits.max_response_body_bytes)"
    )]
    TooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
}

impl Engine {
    /// The plan for a request whose body was not inspected (GET streams, DELETE): the default masking
    /// profile, no listing to filter.
    pub fn default_response_plan(&self) -> ResponsePlan {
        ResponsePlan {
            detectors: self.masker.profile(None),
            tools_list_ids: Vec::new(),
        }
    }

    /// Rewrites one JSON-RPC message sent by the server, in place. Returns whether it changed.
    pub fn rewrite_message(
        &self,
        plan: &ResponsePlan,
        identity: &Identity,
        message: &mut Value,
        masked: &mut MaskedById,
    ) -> bool {
        let Value::Object(fields) = message else {
            return self.mask_leaves(plan, message, masked.entry(String::new()).or_default());
        };
        let key = fields.get("id").map(Value::to_string).unwrap_or_default();
        let mut changed = false;
        let answers_tools_list = fields
            .get("id")
            .is_some_and(|id| plan.tools_list_ids.contains(id));
        if let Some(tools) = fields
            .get_mut("result")
            .filter(|_| answers_tools_list)
            .and_then(|r| r.get_mut("tools"))
            .and_then(Value::as_array_mut)
        {
            let before = tools.len();
            tools.retain(|tool| {
                tool.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| self.policy.may_list_tool(identity, name))
            });
            changed |= tools.len() != before;
        }
        let counts = masked.entry(key).or_default();
        for member in ["result", "error", "params"] {
            if let Some(v) = fields.get_mut(member) {
                changed |= self.mask_leaves(plan, v, counts);
            }
        }
        changed
    }

    /// Rewrites a complete `application/json` body: one message or a batch. Returns `None` when nothing
    /// changed. A body that is not JSON is masked as text so that nothing detected reaches the client.
    ///
    /// # Errors
    /// [`RewriteError::TooLarge`] when the body exceeds the configured limit.
    pub fn rewrite_json_body(
        &self,
        plan: &ResponsePlan,
        identity: &Identity,
        body: &[u8],
        masked: &mut MaskedById,
    ) -> Result<Option<Vec<u8>>, RewriteError> {
        let limit = self.limits.max_response_body_bytes;
        if body.len() > limit {
            return Err(RewriteError::TooLarge { limit });
        }
        let Ok(mut doc) = serde_json::from_slice::<Value>(body) else {
            return Ok(self
                .rewrite_text(plan, &String::from_utf8_lossy(body), masked)
                .map(String::into_bytes));
        };
        let changed = match &mut doc {
            Value::Array(batch) => batch.iter_mut().fold(false, |changed, m| {
                self.rewrite_message(plan, identity, m, masked) | changed
            }),
            single => self.rewrite_message(plan, identity, single, masked),
        };
        Ok(changed.then(|| doc.to_string().into_bytes()))
    }

    /// Rewrites the data of one SSE event (one JSON-RPC message). Returns `None` when nothing changed.
    /// Data that is not JSON is masked as text.
    pub fn rewrite_event_data(
        &self,
        plan: &ResponsePlan,
        identity: &Identity,
        data: &str,
        masked: &mut MaskedById,
    ) -> Option<String> {
        match serde_json::from_str::<Value>(data) {
            Ok(mut message) => self
                .rewrite_message(plan, identity, &mut message, masked)
                .then(|| message.to_string()),
            Err(_) => self.rewrite_text(plan, data, masked),
        }
    }

    /// Masks free text (a body that is neither JSON nor SSE). Returns `None` when nothing matched.
    pub fn rewrite_text(
        &self,
        plan: &ResponsePlan,
        text: &str,
        masked: &mut MaskedById,
    ) -> Option<String> {
        let set = plan.detectors.as_ref()?;
        self.masker
            .mask_str(set, text, masked.entry(String::new()).or_default())
    }

    fn mask_leaves(&self, plan: &ResponsePlan, value: &mut Value, counts: &mut MaskCounts) -> bool {
        plan.detectors
            .as_ref()
            .is_some_and(|set| self.masker.mask_value(set, value, counts))
    }
}
