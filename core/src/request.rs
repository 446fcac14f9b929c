//! Judging a POST body: parse the JSON-RPC message or batch, decide each message, and say whether the
//! request goes upstream or is answered locally.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{json, Value};

use crate::approval::{call_digest, ApprovalHold, CheckRequest, DISPATCH_GRACE_MS};
use crate::audit::payload::{Capped, RecordedPayload};
use crate::audit::{AuditDecision, MessageAudit, RecordedError};
use crate::config::RuleAction;
use crate::digest::sha256_hex_of_canonical;
use crate::engine::Engine;
use crate::identity::Identity;
use crate::jsonrpc::{self, Message, Payload, POLICY_DENIED};
use crate::mask::{DetectorSet, MaskCounts};
use crate::mirrored_headers::{HeaderMismatch, MirroredHeaders};
use crate::origins::{MemoryOrigins, OriginStore, TaskAccess};
use crate::pinning::{ListingReview, PinRefusal, PinState};
use crate::policy::{Call, Decision};
use crate::reply::LocalReply;
use crate::response::ResponsePlan;

/// What to do with the request.
#[derive(Debug)]
pub enum Disposition {
    /// Forward it unchanged; rewrite the response with this plan.
    Forward(ResponsePlan),
    /// Answer locally; nothing reaches the upstream.
    Respond(LocalReply),
    /// Hold the request and ask `warden serve` whether a human approved this exact call; resolve with
    /// [`ApprovalHold::resolve`]. Only a single `tools/call` request is ever held.
    Hold(Box<ApprovalHold>),
}

/// The outcome of inspecting one request body.
#[derive(Debug)]
pub struct Inspection {
    /// Forward, answer, or hold.
    pub disposition: Disposition,
    /// One entry per JSON-RPC message, in body order (empty when the body could not be read).
    pub messages: Vec<MessageAudit>,
    /// Why the request was refused as a whole: a body that is not JSON-RPC (HTTP 400), or scopes the
    /// token lacks (HTTP 403).
    pub refusal: Option<String>,
}

impl Engine {
    /// Inspects the complete body of an MCP POST from `identity`.
    ///
    /// A body that is not exactly one JSON-RPC message or a non-empty batch is answered with HTTP 400 and a
    /// JSON-RPC error (-32700 parse error, -32600 invalid request; JSON-RPC 2.0 §5.1). When any message is
    /// denied nothing is forwarded: each request in the body gets a JSON-RPC error -32003 whose `data`
    /// names the rule (`{"rule": ..., "tool": ...}`).
    ///
    /// A single `tools/call` request that a `require_approval` rule matches is held
    /// ([`Disposition::Hold`]; its audit entry says `deny` until the filter learns the outcome). Inside a
    /// batch, or on anything but a `tools/call` request, `require_approval` refuses like a denial
    /// (with a message saying why), since only one exact call can be bound to a grant.
    ///
    /// No `Mcp-Method`/`Mcp-Name` headers are checked: see [`Engine::inspect_request_with`].
    pub fn inspect_request(&self, identity: &Identity, body: &[u8]) -> Inspection {
        self.inspect_request_with(identity, &MirroredHeaders::default(), body)
    }

    /// [`Engine::inspect_request`] for a request whose SEP-2243 headers are `mirrored`: headers that
    /// disagree with the parsed body (see [`crate::mirrored_headers`]) are answered with HTTP 400 and a
    /// JSON-RPC error -32600 (the request's id, `data.header` naming the header) before any policy runs;
    /// its messages are recorded as `invalid`. No task is known here, so every task read is refused
    /// (see [`Engine::inspect_request_pinned`]).
    pub fn inspect_request_with(
        &self,
        identity: &Identity,
        mirrored: &MirroredHeaders,
        body: &[u8],
    ) -> Inspection {
        self.inspect_request_pinned(
            identity,
            mirrored,
            &Rc::default(),
            &MemoryOrigins::default(),
            body,
        )
    }

    /// [`Engine::inspect_request_with`] against the host's pin state `pins` (see
    /// [`crate::pinning`]): when pinning is on and no rule refused the request, a `tools/call` of a
    /// tool changed since it was pinned (or, under `new_tools: hold`, without a pin) refuses the
    /// request before it reaches the server or an approver: HTTP 200, JSON-RPC error -32003 with
    /// `data: {tool, reason, pinned, seen}` (the other requests of a batch get -32003 naming it).
    /// `tools/call` audit entries carry the tool's fingerprint when known, and `tools/list` results
    /// are judged against `pins`.
    ///
    /// A message that addresses a task ([`crate::origins::TASK_METHODS`]) goes on only when
    /// `origins` remembers the task as created by `identity`: its audit entry then names the rule
    /// that allowed the call that created the task, and the response is masked with that rule's
    /// profile as well. Otherwise nothing is forwarded: the message gets JSON-RPC error -32602
    /// (`data.taskId`), the other requests of a batch -32602 saying why.
    pub fn inspect_request_pinned(
        &self,
        identity: &Identity,
        mirrored: &MirroredHeaders,
        pins: &Rc<PinState>,
        origins: &dyn OriginStore,
        body: &[u8],
    ) -> Inspection {
        let payload = match jsonrpc::parse_payload(body) {
            Ok(payload) => payload,
            Err(e) => {
                return Inspection {
                    disposition: Disposition::Respond(LocalReply::jsonrpc_error(
                        400,
                        &Value::Null,
                        e.code,
                        &e.message,
                        None,
                    )),
                    messages: Vec::new(),
                    refusal: Some(e.message),
                };
            }
        };
        if let Err(mismatch) = mirrored.check(&payload) {
            return mismatch_refusal(&payload, &mismatch);
        }
        let messages = match payload {
            Payload::Single(m) => vec![m],
            Payload::Batch(ms) => ms,
        };
        let decisions: Vec<Decision> = messages.iter().map(|m| self.decide(identity, m)).collect();
        if let Some(step_up) = self.insufficient_scope(identity, &messages, &decisions) {
            return step_up;
        }
        let refusals: Vec<Option<String>> = messages
            .iter()
            .zip(&decisions)
            .map(|(m, d)| refusal_message(m, d, messages.len() > 1))
            .collect();
        let denial = decisions
            .iter()
            .zip(&messages)
            .zip(&refusals)
            .find(|(_, refusal)| refusal.is_some())
            .map(|(pair, _)| pair);
        let mut audits: Vec<MessageAudit> = messages
            .iter()
            .zip(&decisions)
            .map(|(m, d)| message_audit(m, d))
            .collect();
        self.record_arguments(&messages, &decisions, &mut audits);
        let Some((denying, denied_message)) = denial else {
            if let Some(refusal) = self.pin_refusal(pins, &messages, &mut audits) {
                return refusal;
            }
            let mut plan = self.response_plan(&messages, &decisions);
            if let Some(refusal) =
                self.bind_task_reads(identity, origins, &messages, &mut plan, &mut audits)
            {
                return refusal;
            }
            if self.pinning.is_some() && !plan.tools_list_ids.is_empty() {
                plan.pinning = Some(Rc::new(ListingReview {
                    state: Rc::clone(pins),
                    observed: RefCell::default(),
                }));
            }
            let disposition = match (messages.first(), decisions.first()) {
                (Some(m), Some(d)) if d.action == RuleAction::RequireApproval => {
                    self.hold(identity, m, d, plan)
                }
                _ => Disposition::Forward(plan),
            };
            return Inspection {
                disposition,
                messages: audits,
                refusal: None,
            };
        };
        let denied_tool = denied_message.tool_name().map(str::to_owned);
        let mut errors = Vec::new();
        for (((m, d), refusal), audit) in messages
            .iter()
            .zip(&decisions)
            .zip(refusals)
            .zip(audits.iter_mut())
        {
            let (message, rule) = if let Some(refusal) = refusal {
                (refusal, d.rule.clone())
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
        Inspection {
            disposition: Disposition::Respond(errors_reply(errors, messages.len())),
            messages: audits,
            refusal: None,
        }
    }

    /// Records the fingerprint of each called tool on its audit entry, and refuses the request when
    /// pinning refuses one of its `tools/call` messages (see [`Engine::inspect_request_pinned`]).
    fn pin_refusal(
        &self,
        pins: &PinState,
        messages: &[Message],
        audits: &mut Vec<MessageAudit>,
    ) -> Option<Inspection> {
        let pinning = self.pinning.as_ref()?;
        let mut refused: Option<PinRefusal> = None;
        let mut refusals = Vec::new();
        for (message, audit) in messages.iter().zip(audits.iter_mut()) {
            let verdict = match (message.method(), message.tool_name()) {
                (Some("tools/call"), Some(tool)) => pinning.check_call(pins, tool),
                _ => Ok(None),
            };
            match verdict {
                Ok(fingerprint) => {
                    audit.tool_fingerprint = fingerprint;
                    refusals.push(None);
                }
                Err(refusal) => {
                    audit.tool_fingerprint = refusal.pinned.clone().or(refusal.seen.clone());
                    refused.get_or_insert_with(|| refusal.clone());
                    refusals.push(Some(refusal));
                }
            }
        }
        let first = refused?;
        let mut errors = Vec::new();
        for ((message, audit), refusal) in messages.iter().zip(audits.iter_mut()).zip(refusals) {
            let (text, data) = match refusal {
                Some(own) => (own.message(), own.data()),
                None => (format!("batch refused: {}", first.message()), first.data()),
            };
            audit.decision = AuditDecision::Deny;
            if let Message::Request { id, .. } = message {
                errors.push(jsonrpc::error_response(
                    id,
                    POLICY_DENIED,
                    &text,
                    Some(data),
                ));
                audit.jsonrpc_error = Some(RecordedError {
                    code: POLICY_DENIED,
                    message: text,
                });
            }
        }
        Some(Inspection {
            disposition: Disposition::Respond(errors_reply(errors, messages.len())),
            messages: std::mem::take(audits),
            refusal: None,
        })
    }

    /// A 403 `insufficient_scope` when a rule that matched a message requires scopes the token lacks
    /// (the whole request is refused; nothing is forwarded).
    fn insufficient_scope(
        &self,
        identity: &Identity,
        messages: &[Message],
        decisions: &[Decision],
    ) -> Option<Inspection> {
        let mut missing: Vec<String> = Vec::new();
        let mut deciding = Vec::new();
        for d in decisions.iter().filter(|d| d.action != RuleAction::Deny) {
            let Some(rule) = d.rule.as_deref() else {
                continue;
            };
            let lacking: Vec<&String> = self
                .policy
                .required_scopes(rule)
                .iter()
                .filter(|s| !identity.scopes.contains(s))
                .collect();
            if !lacking.is_empty() {
                deciding.push(rule.to_owned());
            }
            for scope in lacking {
                if !missing.contains(scope) {
                    missing.push(scope.clone());
                }
            }
        }
        if missing.is_empty() {
            return None;
        }
        let description = format!(
            "rule(s) {} require the scope(s) {}; ask the authorization server for a token that has them",
            deciding.join(", "),
            missing.join(" ")
        );
        let audits = messages
            .iter()
            .zip(decisions)
            .map(|(m, d)| MessageAudit {
                decision: AuditDecision::Deny,
                ..message_audit(m, d)
            })
            .collect();
        Some(Inspection {
            disposition: Disposition::Respond(
                LocalReply::json(
                    403,
                    json!({
                        "error": "insufficient_scope",
                        "error_description": description,
                        "scope": missing.join(" "),
                    })
                    .to_string()
                    .into_bytes(),
                )
                .with_header(
                    "www-authenticate",
                    self.resource_server.insufficient_scope_challenge(&missing),
                ),
            ),
            messages: audits,
            refusal: Some(description),
        })
    }

    /// The hold of a single `tools/call` request a `require_approval` rule matched (the caller made
    /// sure of both through [`refusal_message`]).
    fn hold(
        &self,
        identity: &Identity,
        message: &Message,
        decision: &Decision,
        plan: ResponsePlan,
    ) -> Disposition {
        let (Some(service), Some(rule), Some(tool)) = (
            self.approvals.clone(),
            decision.rule.as_deref(),
            message.tool_name(),
        ) else {
            // Unreachable with a validated configuration; refuse rather than forward.
            return Disposition::Respond(LocalReply::jsonrpc_error(
                500,
                message.id().unwrap_or(&Value::Null),
                POLICY_DENIED,
                "the configuration requires approval but has no approvals block",
                None,
            ));
        };
        let hold_seconds = self
            .policy
            .approval(rule)
            .map_or(crate::config::MAX_HOLD_SECONDS, |a| a.hold_seconds);
        // The arguments travel as the client sent them: the service recomputes the digest from them
        // and masks what approvers see itself when the rule sets `mask_arguments_in_inbox`
        // (Engine::verify_check).
        let arguments = message.arguments().cloned().unwrap_or_else(|| json!({}));
        Disposition::Hold(Box::new(ApprovalHold {
            check: CheckRequest {
                call_digest: call_digest(
                    &identity.iss,
                    &identity.sub,
                    &self.upstream,
                    tool,
                    Some(&arguments),
                ),
                upstream: self.upstream.clone(),
                rule: rule.to_owned(),
                caller: Identity {
                    claims: Default::default(),
                    ..identity.clone()
                },
                claims: Value::clone(&identity.claims),
                tool: tool.to_owned(),
                arguments,
                session_id: None,
            },
            timeout_ms: hold_seconds * 1000 + DISPATCH_GRACE_MS,
            service,
            jsonrpc_id: message.id().cloned().unwrap_or(Value::Null),
            plan,
        }))
    }

    fn decide(&self, identity: &Identity, message: &Message) -> Decision {
        match message.method() {
            Some(method) => self.policy.decide(
                identity,
                &Call {
                    method,
                    tool: message.tool_name(),
                    arguments: message.arguments(),
                    input_responses: message.input_responses(),
                },
            ),
            // A client's response to a server request (sampling, elicitation) names no method.
            None => Decision {
                action: RuleAction::Allow,
                rule: None,
                mask_profile: None,
                record: None,
            },
        }
    }

    /// Records, on the audit entries of messages whose deciding rule has a `record` block, whether
    /// the result is recorded and the arguments masked with the rule's profile (cut at
    /// `record.max_bytes`). Arguments are recorded whatever the outcome: what was refused is evidence
    /// too. Nothing is recorded when the profile cannot be found (never the clear arguments).
    fn record_arguments(
        &self,
        messages: &[Message],
        decisions: &[Decision],
        audits: &mut [MessageAudit],
    ) {
        for ((message, decision), audit) in messages.iter().zip(decisions).zip(audits) {
            let Some(record) = decision.record else {
                continue;
            };
            audit.records_result = record.result;
            let (true, Some(arguments), Some(set)) = (
                record.arguments,
                message.arguments(),
                self.masker.profile(decision.mask_profile.as_deref()),
            ) else {
                continue;
            };
            let mut masked = arguments.clone();
            self.masker
                .mask_value(&set, &mut masked, &mut MaskCounts::new());
            let capped = Capped::new(masked.to_string(), record.max_bytes);
            audit.payload = Some(RecordedPayload {
                arguments: Some(capped.text),
                arguments_truncated: capped.truncated,
                ..RecordedPayload::default()
            });
        }
    }

    /// Binds the messages that address a task to the task's origin (see
    /// [`Engine::inspect_request_pinned`]); returns the refusal when one may not go on.
    fn bind_task_reads(
        &self,
        identity: &Identity,
        origins: &dyn OriginStore,
        messages: &[Message],
        plan: &mut ResponsePlan,
        audits: &mut [MessageAudit],
    ) -> Option<Inspection> {
        let accesses: Vec<Option<TaskAccess>> = messages
            .iter()
            .map(|m| match m {
                Message::Request { method, params, .. }
                | Message::Notification { method, params } => {
                    TaskAccess::of(identity, origins, method, params.as_ref())
                }
                Message::Response { .. } => None,
            })
            .collect();
        if !accesses
            .iter()
            .any(|a| matches!(a, Some(TaskAccess::Refused { .. })))
        {
            for (access, audit) in accesses.iter().zip(audits.iter_mut()) {
                let Some(TaskAccess::Owner(origin)) = access else {
                    continue;
                };
                audit.rule = origin.rule();
                match (&mut plan.detectors, self.origin_detectors(origin)) {
                    (Some(all), Some(set)) => all.union(&set),
                    (all @ None, set) => *all = set,
                    (Some(_), None) => {}
                }
            }
            return None;
        }
        let mut errors = Vec::new();
        for ((message, access), audit) in messages.iter().zip(&accesses).zip(audits.iter_mut()) {
            let (client, recorded, data) = match access {
                Some(TaskAccess::Refused { task_id, reason }) => {
                    let client = TaskAccess::client_message(task_id.as_deref());
                    let recorded = format!("{client} ({reason})");
                    (client, recorded, json!({ "taskId": task_id }))
                }
                _ => {
                    let why = "batch refused: another message in it addresses a task this caller may not read";
                    (why.to_owned(), why.to_owned(), Value::Null)
                }
            };
            audit.decision = AuditDecision::Deny;
            if let Message::Request { id, .. } = message {
                let data = (!data.is_null()).then_some(data);
                errors.push(jsonrpc::error_response(
                    id,
                    jsonrpc::INVALID_PARAMS,
                    &client,
                    data,
                ));
                audit.jsonrpc_error = Some(RecordedError {
                    code: jsonrpc::INVALID_PARAMS,
                    message: recorded,
                });
            }
        }
        Some(Inspection {
            disposition: Disposition::Respond(errors_reply(errors, messages.len())),
            messages: audits.to_vec(),
            refusal: None,
        })
    }

    /// The response plan for forwarded messages: the union of their rules' masking profiles, the
    /// ids whose results are `tools/list` listings to filter, and those whose results are recorded.
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
        let record_results = messages
            .iter()
            .zip(decisions)
            .filter_map(|(m, d)| match (m, d.record) {
                (Message::Request { id, .. }, Some(record)) if record.result => {
                    Some((id.to_string(), record.max_bytes))
                }
                _ => None,
            })
            .collect();
        ResponsePlan {
            detectors: detectors.or_else(|| self.masker.profile(None)),
            tools_list_ids,
            record_results,
            pinning: None,
        }
    }
}

/// The local reply carrying the JSON-RPC `errors` of a refused body of `messages` messages: HTTP 200
/// with the error (a single message) or the array of errors (a batch), or 202 when only
/// notifications were refused (nothing to answer).
fn errors_reply(mut errors: Vec<Value>, messages: usize) -> LocalReply {
    let body = match (errors.len(), messages) {
        (0, _) => Vec::new(),
        (1, 1) => errors.remove(0).to_string().into_bytes(),
        _ => Value::Array(errors).to_string().into_bytes(),
    };
    LocalReply::json(if body.is_empty() { 202 } else { 200 }, body)
}

/// The refusal of a request whose `Mcp-Method`/`Mcp-Name` headers disagree with its body.
fn mismatch_refusal(payload: &Payload, mismatch: &HeaderMismatch) -> Inspection {
    let id = match payload {
        Payload::Single(Message::Request { id, .. }) => id.clone(),
        _ => Value::Null,
    };
    let message = format!("{mismatch}: the MCP headers must mirror the body (SEP-2243)");
    Inspection {
        disposition: Disposition::Respond(LocalReply::jsonrpc_error(
            400,
            &id,
            jsonrpc::INVALID_REQUEST,
            &message,
            Some(json!({ "header": mismatch.header })),
        )),
        messages: payload.messages().iter().map(unjudged_audit).collect(),
        refusal: Some(message),
    }
}

fn message_audit(message: &Message, decision: &Decision) -> MessageAudit {
    MessageAudit {
        decision: match decision.action {
            RuleAction::Allow => AuditDecision::Allow,
            // Held calls are not forwarded unless the filter learns of a grant (it then records approved).
            RuleAction::Deny | RuleAction::RequireApproval => AuditDecision::Deny,
        },
        rule: decision.rule.clone(),
        ..unjudged_audit(message)
    }
}

/// The audit entry of a message refused before the policy ran (decision `invalid`).
fn unjudged_audit(message: &Message) -> MessageAudit {
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
        decision: AuditDecision::Invalid,
        rule: None,
        jsonrpc_error: None,
        approval: None,
        payload: None,
        records_result: false,
        tool_fingerprint: None,
    }
}

fn rule_phrase(decision: &Decision) -> String {
    match &decision.rule {
        Some(rule) => format!("policy rule \"{rule}\""),
        None => "the default policy (no rule allows it)".to_owned(),
    }
}

/// Why `message` is refused on its own account, if it is: a denial, or a `require_approval` that
/// cannot be held (inside a batch, or not a `tools/call` request).
fn refusal_message(message: &Message, decision: &Decision, in_batch: bool) -> Option<String> {
    match decision.action {
        RuleAction::Allow => None,
        RuleAction::Deny => Some(denial_message(message, decision)),
        RuleAction::RequireApproval => {
            let is_tool_request =
                matches!(message, Message::Request { .. }) && message.tool_name().is_some();
            let what = match (message.tool_name(), message.method()) {
                (Some(tool), _) => format!("tool call \"{tool}\""),
                (None, Some(method)) => format!("method \"{method}\""),
                (None, None) => "message".to_owned(),
            };
            if !is_tool_request {
                Some(format!(
                    "{what} needs approval by {}, but only tools/call requests can be approved",
                    rule_phrase(decision)
                ))
            } else if in_batch {
                Some(format!(
                    "{what} needs approval by {}; calls that need approval cannot be sent in a batch, send it on its own",
                    rule_phrase(decision)
                ))
            } else {
                None
            }
        }
    }
}

fn denial_message(message: &Message, decision: &Decision) -> String {
    match (message.tool_name(), message.method()) {
        // The tool is named in `data.tool`; the message stays the same for every tool a rule covers.
        (Some(_), _) => format!("tool call denied by {}", rule_phrase(decision)),
        (None, Some(method)) => format!("method \"{method}\" denied by {}", rule_phrase(decision)),
        (None, None) => format!("message denied by {}", rule_phrase(decision)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::approval::call_digest;

    fn dev_jwks() -> Value {
        serde_json::from_str(include_str!("../../policies/dev/dev-jwks.json")).unwrap()
    }

    fn engine() -> Engine {
        engine_with_approval(json!({"approver_groups": ["ops"], "hold_seconds": 7}))
    }

    /// The test engine with `approval` as the `approval` block of rule `hold`.
    fn engine_with_approval(approval: Value) -> Engine {
        Engine::from_json(
            json!({
                "upstream": "demo",
                "issuers": [{"issuer": "i", "audiences": ["a"], "jwks": dev_jwks(),
                             "algorithms": ["ES256", "RS256"]}],
                "approvals": {"cluster": "warden_approvals", "inbox_url": "http://x/inbox"},
                "policy": {"rules": [
                    {"id": "hold", "match": {"tool": "delete_customer"}, "action": "require_approval",
                     "approval": approval},
                    {"id": "ok", "match": {"tool": "echo"}, "action": "allow"}
                ]}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    fn alice() -> Identity {
        Identity {
            iss: "i".into(),
            sub: "alice".into(),
            email: None,
            groups: vec!["support".into()],
            scopes: vec![],
            client_id: None,
            claims: json!({}).into(),
        }
    }

    fn error_message(inspection: &Inspection) -> String {
        let Disposition::Respond(reply) = &inspection.disposition else {
            panic!("expected a local reply, got {:?}", inspection.disposition);
        };
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        let first = if body.is_array() { &body[0] } else { &body };
        first["error"]["message"].as_str().unwrap().to_owned()
    }

    fn step_up_engine() -> Engine {
        Engine::from_json(
            json!({
                "issuers": [{"issuer": "i", "audiences": ["a"], "jwks": dev_jwks()}],
                "resource_metadata": {"resource": "https://mcp.example.com/mcp",
                                      "authorization_servers": ["https://idp.example.com"]},
                "policy": {"rules": [
                    {"id": "writes", "match": {"tool": "delete_*"}, "action": "allow",
                     "required_scopes": ["mcp:write", "mcp:admin"]},
                    {"id": "reads", "match": {"tool": "echo"}, "action": "allow"}
                ]}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    fn call(id: i64, tool: &str) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": tool, "arguments": {}}})
    }

    #[test]
    fn call_needing_scopes_the_token_lacks_gets_403_insufficient_scope_naming_them() {
        let mut caller = alice();
        caller.scopes = vec!["mcp:write".into()];
        let inspection = step_up_engine()
            .inspect_request(&caller, call(1, "delete_customer").to_string().as_bytes());
        let Disposition::Respond(reply) = &inspection.disposition else {
            panic!("expected a local reply, got {:?}", inspection.disposition);
        };
        assert_eq!(reply.status, 403);
        let challenge = reply.header("www-authenticate").unwrap();
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(challenge.contains("scope=\"mcp:admin\""), "{challenge}");
        assert!(
            challenge.contains("resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""),
            "{challenge}"
        );
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["error"], "insufficient_scope");
        assert_eq!(body["scope"], "mcp:admin");
        assert_eq!(inspection.messages[0].decision, AuditDecision::Deny);
        assert_eq!(inspection.messages[0].rule.as_deref(), Some("writes"));
    }

    #[test]
    fn call_with_every_required_scope_is_forwarded() {
        let mut caller = alice();
        caller.scopes = vec!["mcp:admin".into(), "mcp:write".into()];
        let inspection = step_up_engine()
            .inspect_request(&caller, call(1, "delete_customer").to_string().as_bytes());
        assert!(
            matches!(inspection.disposition, Disposition::Forward(_)),
            "{:?}",
            inspection.disposition
        );
    }

    #[test]
    fn batch_with_one_call_lacking_scopes_is_refused_whole_with_403() {
        let batch = json!([call(1, "echo"), call(2, "delete_customer")]);
        let inspection = step_up_engine().inspect_request(&alice(), batch.to_string().as_bytes());
        let Disposition::Respond(reply) = &inspection.disposition else {
            panic!("expected a local reply, got {:?}", inspection.disposition);
        };
        assert_eq!(reply.status, 403);
        assert!(inspection
            .messages
            .iter()
            .all(|m| m.decision == AuditDecision::Deny));
    }

    #[test]
    fn approvers_see_the_clear_arguments_the_call_runs_with_by_default() {
        let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
            "name": "delete_customer", "arguments": {"note": "mail bob@example.org", "id": "c1"}}});
        let inspection = engine().inspect_request(&alice(), body.to_string().as_bytes());
        let Disposition::Hold(hold) = inspection.disposition else {
            panic!("expected a hold, got {:?}", inspection.disposition);
        };
        assert_eq!(
            hold.check.arguments,
            json!({"note": "mail bob@example.org", "id": "c1"})
        );
    }

    #[test]
    fn single_call_behind_approval_is_held_with_its_digest_claims_and_arguments() {
        let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
            "name": "delete_customer", "arguments": {"note": "mail bob@example.org", "id": "c1"}}});
        let mut caller = alice();
        caller.claims = json!({"iss": "i", "sub": "alice", "groups": ["support"]}).into();
        let inspection = engine().inspect_request(&caller, body.to_string().as_bytes());
        let Disposition::Hold(hold) = inspection.disposition else {
            panic!("expected a hold, got {:?}", inspection.disposition);
        };
        assert_eq!(
            hold.check.arguments,
            json!({"note": "mail bob@example.org", "id": "c1"})
        );
    }

    #[test]
    fn arguments_travel_clear_to_the_service_even_when_the_inbox_masks_them() {
        let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
            "name": "delete_customer", "arguments": {"note": "mail bob@example.org", "id": "c1"}}});
        let engine = engine_with_approval(json!({"approver_groups": ["ops"], "hold_seconds": 7,
                                                 "mask_arguments_in_inbox": true}));
        let inspection = engine.inspect_request(&alice(), body.to_string().as_bytes());
        let Disposition::Hold(hold) = inspection.disposition else {
            panic!("expected a hold, got {:?}", inspection.disposition);
        };
        let arguments = json!({"note": "mail bob@example.org", "id": "c1"});
        assert_eq!(
            hold.check.call_digest,
            call_digest("i", "alice", "demo", "delete_customer", Some(&arguments))
        );
        // Masked by the service (Engine::verify_check, tested in approval.rs), which recomputes the
        // digest from the arguments it receives.
        assert_eq!(hold.check.arguments, arguments);
        assert_eq!(
            (hold.check.rule.as_str(), hold.jsonrpc_id.clone()),
            ("hold", json!(5))
        );
        assert_eq!(hold.timeout_ms, 7_000 + DISPATCH_GRACE_MS);
        assert_eq!(inspection.messages[0].decision, AuditDecision::Deny);
    }

    #[test]
    fn call_behind_approval_inside_a_batch_refuses_the_batch_saying_why() {
        let body = json!([
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {}}},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "delete_customer", "arguments": {}}}
        ]);
        let inspection = engine().inspect_request(&alice(), body.to_string().as_bytes());
        let Disposition::Respond(reply) = &inspection.disposition else {
            panic!("expected a refusal, got {:?}", inspection.disposition);
        };
        let errors: Value = serde_json::from_slice(&reply.body).unwrap();
        let second = errors[1]["error"]["message"].as_str().unwrap();
        assert!(second.contains("cannot be sent in a batch"), "{second}");
        assert!(error_message(&inspection).contains("batch refused"));
    }
}
