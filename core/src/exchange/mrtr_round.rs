//! The MCP 2026-07-28 side of an approval hold ([`crate::mrtr`]): a held call of a 2026-07-28 client
//! may be a retry carrying Warden's `requestState` (checked before `warden serve` is asked, stripped
//! before the call is forwarded), and a "pending" answer becomes an `input_required` result.

use serde_json::{json, Value};

use super::{Env, Exchange};
use crate::approval::ApprovalHold;
use crate::audit::{ApprovalAudit, RecordedError};
use crate::jsonrpc::{parse_strict, INVALID_PARAMS, POLICY_DENIED};
use crate::mrtr::{
    accepts_url_elicitation, approval_url, input_required_result, open, strip_warden_fields,
    turned_down, warden_state, ApprovalState, StateRefusal,
};
use crate::reply::LocalReply;

/// A held call answered the MRTR way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MrtrRound {
    /// Length of the request body Envoy holds, in bytes.
    held_len: usize,
    /// For a retry carrying Warden's state: the body to forward once approved (without the MRTR
    /// members Warden issued).
    retry_body: Option<Vec<u8>>,
}

impl MrtrRound {
    /// The body to forward in place of the held one (`held_len` bytes), for a retry.
    pub(super) fn replacement(self) -> Option<(usize, Vec<u8>)> {
        self.retry_body.map(|body| (self.held_len, body))
    }
}

impl Exchange {
    /// Whether held `body` is answered the MRTR way: only for a 2026-07-28 request when
    /// `approvals.mrtr` and its key are configured, and when it is a retry carrying Warden's
    /// `requestState` or its client declares URL-mode elicitation (`Ok(None)` otherwise: today's
    /// flow).
    ///
    /// # Errors
    /// The refusal of a retry whose Warden `requestState` does not hold for this caller and call, or
    /// that mixes it with answers for the server; then (the state holding) of a retry whose user
    /// declined or cancelled Warden's elicitation ([`StateRefusal::Declined`]).
    pub(super) fn mrtr_round(
        &self,
        env: &Env<'_>,
        body: &[u8],
        hold: &ApprovalHold,
    ) -> Result<Option<MrtrRound>, StateRefusal> {
        let engine = &env.runtime.engine;
        let configured = hold.service.mrtr.is_some() && engine.secrets.mrtr_state_key.is_some();
        if !self.mirrored.required || !configured {
            return Ok(None);
        }
        // The body was parsed strictly to be judged; it parses again the same way.
        let message = parse_strict(body).unwrap_or(Value::Null);
        let params = message.get("params");
        let retry_body = match warden_state(params)? {
            None if !accepts_url_elicitation(params) => return Ok(None),
            None => None,
            Some(state) => {
                let key = engine.secrets.mrtr_state_key.as_deref().unwrap_or_default();
                let caller = &hold.check.caller;
                let opened = open(
                    state,
                    key.as_bytes(),
                    (&caller.iss, &caller.sub),
                    &hold.check.call_digest,
                    env.now_unix_seconds(),
                )?;
                if let Some(by) = turned_down(params) {
                    return Err(StateRefusal::Declined {
                        approval_id: opened.approval_id,
                        by,
                    });
                }
                Some(strip_warden_fields(message))
            }
        };
        Ok(Some(MrtrRound {
            held_len: body.len(),
            retry_body,
        }))
    }

    /// The `input_required` answer for approval `approval_id` still pending on `hold`: a URL-mode
    /// elicitation pointing at the approval and a fresh `requestState`, valid for the rule's
    /// `pending_expiry_seconds`. `None` when `approvals.mrtr` or its key is missing.
    pub(super) fn input_required_reply(
        env: &Env<'_>,
        hold: &ApprovalHold,
        approval_id: &str,
        expires_at: Option<&str>,
    ) -> Option<LocalReply> {
        let engine = &env.runtime.engine;
        let mrtr = hold.service.mrtr.as_ref()?;
        let key = engine.secrets.mrtr_state_key.as_deref()?;
        let lifetime = engine
            .policy
            .approval(&hold.check.rule)
            .map_or(0, |a| a.pending_expiry_seconds);
        let state = ApprovalState {
            approval_id: approval_id.to_owned(),
            call_digest: hold.check.call_digest.clone(),
            iss: hold.check.caller.iss.clone(),
            sub: hold.check.caller.sub.clone(),
            exp: env.now_unix_seconds().saturating_add(lifetime),
        }
        .seal(key.as_bytes());
        let url = approval_url(&mrtr.inbox_base_url, approval_id);
        let tool = &hold.check.tool;
        let message = format!(
            "Tool call \"{tool}\" needs a human approval (approval {approval_id}, rule \"{}\"): open {url} \
             and ask an approver to decide it, then retry{}.",
            hold.check.rule,
            expires_at.map_or_else(String::new, |at| format!(" before {at}")),
        );
        let body = json!({
            "jsonrpc": "2.0",
            "id": hold.jsonrpc_id,
            "result": input_required_result(&message, &url, &state),
        });
        Some(LocalReply::json(200, body.to_string().into_bytes()))
    }
}

/// A held call refused because of its retry ([`state_refusal`]).
pub(super) struct RetryRefusal {
    /// The JSON-RPC error sent to the client (HTTP 200).
    pub(super) reply: LocalReply,
    /// That error as audited.
    pub(super) error: RecordedError,
    /// The approval a declined elicitation named (its id only); `None` for a refused state.
    pub(super) approval: Option<ApprovalAudit>,
}

/// The JSON-RPC error refusing a retry (`data.reason` says why, `data.rule` and `data.tool` name the
/// call):
/// - the user declined or cancelled Warden's elicitation ([`StateRefusal::Declined`]): -32003, the
///   policy denial, with `data.status` `declined`, `data.action` (`decline` | `cancel`) and
///   `data.approval_id`;
/// - its `requestState` does not hold: -32602 invalid params, `data.status` `request_state_refused`.
pub(super) fn state_refusal(hold: &ApprovalHold, refusal: &StateRefusal) -> RetryRefusal {
    let (rule, tool) = (&hold.check.rule, &hold.check.tool);
    let message = format!("tool call \"{tool}\" refused: {refusal}");
    let reason = refusal.to_string();
    let (code, data, approval) = match refusal {
        StateRefusal::Declined { approval_id, by } => (
            POLICY_DENIED,
            json!({"rule": rule, "tool": tool, "status": "declined", "approval_id": approval_id,
                   "action": by.action(), "reason": reason}),
            Some(ApprovalAudit {
                id: approval_id.clone(),
                approvers: Vec::new(),
                decided_at: None,
                expires_at: None,
            }),
        ),
        _ => (
            INVALID_PARAMS,
            json!({"rule": rule, "tool": tool, "status": "request_state_refused", "reason": reason}),
            None,
        ),
    };
    RetryRefusal {
        reply: LocalReply::jsonrpc_error(200, &hold.jsonrpc_id, code, &message, Some(data)),
        error: RecordedError { code, message },
        approval,
    }
}
