//! Judging a POST body: parse the JSON-RPC message or batch, decide each message, and say whether the
//! request goes upstream or is answered locally.

use serde_json::{json, Value};

use crate::audit::{AuditDecision, MessageAudit, RecordedError};
use crate::config::RuleAction;
use crate::digest::sha256_hex_of_canonical;
use crate::engine::Engine;
use crate::identity::Identity;
use crate::jsonrpc::{self, Message, Payload, POLICY_DENIED};
use crate::mask::DetectorSet;
use crate::policy::{Call, Decision};
use crate::response::ResponsePlan;

/// A reply the filter sends itself instead of forwarding the request (`content-type: application/json`).
#[derive(Debug, Clone, PartialEq)]
pub struct LocalReply {
    /// HTTP status: 200 for JSON-RPC errors the client should read, 202 when only notifications were
    /// refused (nothing to answer), 400 for a body that is not JSON-RPC.
    pub status: u16,
    /// Response body; empty for 202.
    pub body: Vec<u8>,
}

/// What to do with the request.
#[derive(Debug)]
pub enum Verdict {
    /// Forward it unchanged; rewrite the response with this plan.
    Forward(ResponsePlan),
    /// Answer locally; nothing reaches the upstream.
    Respond(LocalReply),
}

/// The outcome of inspecting one request body.
#[derive(Debug)]
pub struct Inspection {
    /// Forward or answer.
    pub verdict: Verdict,
    /// One entry per JSON-RPC message, in body order (empty when the body could not be read).
    pub messages: Vec<MessageAudit>,
    /// Why the body could not be read as JSON-RPC (the request was answered with HTTP 400).
    pub refusal: Option<String>,
}

impl Engine {
    /// Inspects the complete body of an MCP POST from `identity`.
    ///
    /// A body that is not exactly one JSON-RPC message or a non-empty batch is answered with HTTP 400 and a
    /// JSON-RPC error (-32700 parse error, -32600 invalid request; JSON-RPC 2.0 §5.1). When any message is
    /// denied nothing is forwarded: each request in the body gets a JSON-RPC error -32003 whose `data`
    /// names the rule (`{"rule": ..., "tool": ...}`).
    pub fn inspect_request(&self, identity: &Identity, body: &[u8]) -> Inspection {
        let messages = match jsonrpc::parse_payload(body) {
            Ok(Payload::Single(m)) => vec![m],
            Ok(Payload::Batch(ms)) => ms,
            Err(e) => {
                let reply = jsonrpc::error_response(&Value::Null, e.code, &e.message, None);
                return Inspection {
                    verdict: Verdict::Respond(LocalReply {
                        status: 400,
                        body: reply.to_string().into_bytes(),
                    }),
                    messages: Vec::new(),
                    refusal: Some(e.message),
                };
            }
        };
        let decisions: Vec<Decision> = messages.iter().map(|m| self.decide(identity, m)).collect();
        let denial = decisions
            .iter()
            .zip(&messages)
            .find(|(d, _)| d.action == RuleAction::Deny);
        let mut audits: Vec<MessageAudit> = messages
            .iter()
            .zip(&decisions)
            .map(|(m, d)| message_audit(m, d))
            .collect();
        let Some((denying, denied_message)) = denial else {
            return Inspection {
                verdict: Verdict::Forward(self.response_plan(&messages, &decisions)),
                messages: audits,
                refusal: None,
            };
        };
        let denied_tool = denied_message.tool_name().map(str::to_owned);
        let mut errors = Vec::new();
        for ((m, d), audit) in messages.iter().zip(&decisions).zip(audits.iter_mut()) {
            let (message, rule) = if d.action == RuleAction::Deny {
                (denial_message(m, d), d.rule.clone())
            } else {
                (
                    format!(
                        "batch refused: another call in it was denied by {}",
                        rule_phrase(denying)
                    ),
                    denying.rule.clone(),
                )
            };
            audit.decision = AuditDecision::Deny;
            audit.rule = rule.clone();
            if let Message::Request { id, .. } = m {
                let tool = m
                    .tool_name()
                    .map(str::to_owned)
                    .or_else(|| denied_tool.clone());
                errors.push(jsonrpc::error_response(
                    id,
                    POLICY_DENIED,
                    &message,
                    Some(json!({ "rule": rule, "tool": tool })),
                ));
                audit.jsonrpc_error = Some(RecordedError {
                    code: POLICY_DENIED,
                    message,
                });
            }
        }
        let body = match (errors.len(), messages.len()) {
            (0, _) => Vec::new(),
            (1, 1) => errors.remove(0).to_string().into_bytes(),
            _ => Value::Array(errors).to_string().into_bytes(),
        };
        Inspection {
            verdict: Verdict::Respond(LocalReply {
                status: if body.is_empty() { 202 } else { 200 },
                body,
            }),
            messages: audits,
            refusal: None,
        }
    }

    fn decide(&self, identity: &Identity, message: &Message) -> Decision {
        match message.method() {
            Some(method) => self.policy.decide(
                identity,
                &Call {
                    method,
                    tool: message.tool_name(),
                    arguments: message.arguments(),
                },
            ),
            // A client's response to a server request (sampling, elicitation) names no method.
            None => Decision {
                action: RuleAction::Allow,
                rule: None,
                mask_profile: None,
            },
        }
    }

    /// The response plan for forwarded messages: the union of their rules' masking profiles, and the
    /// ids whose results are `tools/list` listings to filter.
    fn response_plan(&self, messages: &[Message], decisions: &[Decision]) -> ResponsePlan {
        let mut detectors: Option<DetectorSet> = None;
        for d in decisions {
            let set = self.masker.profile(d.mask_profile.as_deref());
            match (&mut detectors, set) {
                (Some(acc), Some(set)) => acc.union(&set),
                (None, Some(set)) => detectors = Some(set),
                (_, None) => {}
            }
        }
        let tools_list_ids = messages
            .iter()
            .filter_map(|m| match m {
                Message::Request { id, method, .. } if method == "tools/list" => Some(id.clone()),
                _ => None,
            })
            .collect();
        ResponsePlan {
            detectors: detectors.or_else(|| self.masker.profile(None)),
            tools_list_ids,
        }
    }
}

fn message_audit(message: &Message, decision: &Decision) -> MessageAudit {
    let jsonrpc_id = match message {
        Message::Request { id, .. } | Message::Response { id, .. } => Some(id.clone()),
        Message::Notification { .. } => None,
    };
    let arguments_digest = message.tool_name().map(|_| {
        sha256_hex_of_canonical(
            message
                .arguments()
                .unwrap_or(&Value::Object(Default::default())),
        )
    });
    MessageAudit {
        method: message.method().map(str::to_owned),
        tool: message.tool_name().map(str::to_owned),
        jsonrpc_id,
        arguments_digest,
        decision: match decision.action {
            RuleAction::Allow => AuditDecision::Allow,
            RuleAction::Deny => AuditDecision::Deny,
        },
        rule: decision.rule.clone(),
        jsonrpc_error: None,
    }
}

fn rule_phrase(decision: &Decision) -> String {
    match &decision.rule {
        Some(rule) => format!("policy rule \"{rule}\""),
        None => "the default policy (no rule allows it)".to_owned(),
    }
}

fn denial_message(message: &Message, decision: &Decision) -> String {
    match (message.tool_name(), message.method()) {
        (Some(tool), _) => format!("tool call \"{tool}\" denied by {}", rule_phrase(decision)),
        (None, Some(method)) => format!("method \"{method}\" denied by {}", rule_phrase(decision)),
        (None, None) => format!("message denied by {}", rule_phrase(decision)),
    }
}
