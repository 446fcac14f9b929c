//! Just-in-time approvals: the call digest that binds a grant to one exact call, the JSON protocol
//! between the filter and `warden serve`, what the service checks before it opens a request, and what
//! the filter answers once the service has spoken.
//!
//! # Protocol
//! The filter holds a call a `require_approval` rule matched and sends `POST` [`CHECK_PATH`] with a
//! [`CheckRequest`] (JSON) to the cluster of the top-level `approvals` block, carrying the shared
//! secret in [`INTERNAL_SECRET_HEADER`] (`approvals.credential_env`). The service answers
//! HTTP 200 with a [`CheckResponse`]: `approved` (a usable grant existed or arrived while the call was
//! held, and was consumed if it was a `once` grant), `denied` (with the approver's reason), or
//! `pending` (no decision within the rule's `hold_seconds`). Any other answer, or none, is a failure
//! handled by the `approvals.fail_mode`.
//!
//! # What the service trusts
//! Only the filter's credential. It recomputes everything it grants from its own copy of the
//! configuration ([`Engine::verify_check`]): the caller from the verified claims, the digest from the
//! caller, upstream, tool and arguments, the rule from its own policy (it must be the
//! `require_approval` rule that decides this call), the approver groups, `approvals_needed` and the
//! masking of what approvers see.
//!
//! # Binding
//! `call_digest = SHA-256(canonical({"iss", "sub", "upstream", "tool", "arguments"}))` (the canonical
//! JSON of [`crate::digest`]: RFC 8785 with numbers kept as their exact decimal value; FIPS 180-4
//! SHA-256, lower-case hex): a grant for one call is useless for any other caller (`(iss, sub)`:
//! the same `sub` from two issuers is two callers), server, tool or arguments, while re-encodings of
//! the same call (member order, escapes, `1e2` for `100`) keep their digest.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::audit::{ApprovalAudit, AuditDecision};
use crate::config::{ApprovalRuleConfig, ApprovalsConfig, FailMode, RuleAction};
use crate::digest::sha256_hex_of_canonical;
use crate::engine::Engine;
use crate::identity::Identity;
use crate::jsonrpc::POLICY_DENIED;
use crate::jwt::AuthError;
use crate::policy::Call;
use crate::reply::LocalReply;
use crate::response::ResponsePlan;

/// Path of the filter's check call on `warden serve`.
pub const CHECK_PATH: &str = "/v1/check";

/// Request header carrying the shared secret on the filter's calls to the internal API of
/// `warden serve` (`/v1/check`, `/v1/audit`). The service compares it in constant time.
pub const INTERNAL_SECRET_HEADER: &str = "x-warden-internal-secret";

/// Extra time the filter's `dispatch_http_call` waits beyond the rule's hold, so the service's own
/// "pending" answer arrives before the call times out (milliseconds).
pub const DISPATCH_GRACE_MS: u64 = 5_000;

/// The digest an approval grant is bound to: lower-case hex SHA-256 of the canonical JSON
/// ([`crate::digest`]) of `{"iss", "sub", "upstream", "tool", "arguments"}`. Absent arguments count
/// as `{}`, as MCP servers read them.
pub fn call_digest(
    iss: &str,
    sub: &str,
    upstream: &str,
    tool: &str,
    arguments: Option<&Value>,
) -> String {
    let arguments = arguments.cloned().unwrap_or_else(|| json!({}));
    sha256_hex_of_canonical(&json!({
        "iss": iss,
        "sub": sub,
        "upstream": upstream,
        "tool": tool,
        "arguments": arguments,
    }))
}

/// Body of `POST /v1/check` (filter → `warden serve`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// [`call_digest`] of the held call.
    pub call_digest: String,
    /// The plugin's `upstream` (bound into the digest).
    pub upstream: String,
    /// Id of the `require_approval` rule; the service checks that its own policy decides the call
    /// with this rule and reads the rule's `approval` block from its own configuration.
    pub rule: String,
    /// The verified caller (without its claims, which travel in `claims`); `(iss, sub)` is bound into
    /// the digest and may not approve its own call; email and groups are shown to approvers.
    pub caller: Identity,
    /// The caller's verified token claims (a JSON object), from which the service re-derives the
    /// identity its policy evaluates; never stored.
    pub claims: Value,
    /// Tool name of the `tools/call`.
    pub tool: String,
    /// The call's arguments as the client sent them (`{}` when absent): the digest covers them. The
    /// service stores and shows them in clear, or masked with the rule's profile when the rule sets
    /// `mask_arguments_in_inbox`.
    pub arguments: Value,
    /// `Mcp-Session-Id` of the request, when present.
    #[serde(default)]
    pub session_id: Option<String>,
}

/// Answer of `POST /v1/check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CheckResponse {
    /// A grant covers the call: forward it.
    Approved {
        /// The approval request that granted it.
        approval_id: String,
        /// `sub` of the approvers.
        approvers: Vec<String>,
        /// When the grant was decided, RFC 3339 UTC.
        #[serde(default)]
        decided_at: Option<String>,
    },
    /// An approver refused the call.
    Denied {
        /// The refused approval request.
        approval_id: String,
        /// `sub` of the approver who refused.
        approver: String,
        /// The approver's reason, passed on to the MCP client.
        reason: String,
        /// When the request was denied, RFC 3339 UTC.
        #[serde(default)]
        decided_at: Option<String>,
    },
    /// No decision within the hold time: the agent may retry the identical call later.
    Pending {
        /// The approval request to decide.
        approval_id: String,
        /// When the request expires, RFC 3339 UTC.
        expires_at: String,
    },
}

/// Why `warden serve` refuses a check request: it contradicts the service's own configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckRefusal {
    /// The rule is unknown or not a `require_approval` rule.
    #[error("rule \"{0}\" does not require approval in this service's configuration; run warden serve with the filter's configuration")]
    NotApprovalRule(String),
    /// The request names another upstream than the configuration.
    #[error("upstream \"{got}\" is not this service's upstream \"{expected}\"")]
    Upstream {
        /// The configured `upstream`.
        expected: String,
        /// The request's.
        got: String,
    },
    /// The claims do not yield an identity of a configured issuer.
    #[error("the caller's claims are not usable: {0}")]
    Claims(AuthError),
    /// `caller` names someone else than the claims.
    #[error("the caller ({caller}) is not the identity in the claims ({claims})")]
    Requester {
        /// `iss|sub` of `caller`.
        caller: String,
        /// `iss|sub` of the claims.
        claims: String,
    },
    /// `call_digest` is not the digest of the call described.
    #[error("call_digest {got} is not the digest of the call described ({expected})")]
    Digest {
        /// The recomputed digest.
        expected: String,
        /// The request's.
        got: String,
    },
    /// The service's policy does not decide this call with this `require_approval` rule.
    #[error("rule \"{rule}\" does not decide this call in this service's policy (it is decided by {decided})")]
    RuleMismatch {
        /// The requested rule.
        rule: String,
        /// What decides it instead: `rule "id" (action)` or `the default (action)`.
        decided: String,
    },
}

impl Engine {
    /// Checks a check request against this configuration and returns what to record: the request
    /// with `caller` re-derived from `claims`, the arguments (what approvers see) masked with the
    /// deciding rule's profile when its `mask_arguments_in_inbox` is set, and `claims` emptied, plus
    /// the rule's `approval` block.
    ///
    /// # Errors
    /// A [`CheckRefusal`] naming the first contradiction found.
    pub fn verify_check(
        &self,
        request: &CheckRequest,
    ) -> Result<(CheckRequest, ApprovalRuleConfig), CheckRefusal> {
        let approval = self
            .policy
            .approval(&request.rule)
            .cloned()
            .ok_or_else(|| CheckRefusal::NotApprovalRule(request.rule.clone()))?;
        if request.upstream != self.upstream {
            return Err(CheckRefusal::Upstream {
                expected: self.upstream.clone(),
                got: request.upstream.clone(),
            });
        }
        let identity = self
            .verifier
            .identity_of_verified_claims(request.claims.clone())
            .map_err(CheckRefusal::Claims)?;
        if (identity.iss.as_str(), identity.sub.as_str())
            != (request.caller.iss.as_str(), request.caller.sub.as_str())
        {
            return Err(CheckRefusal::Requester {
                caller: format!("{}|{}", request.caller.iss, request.caller.sub),
                claims: format!("{}|{}", identity.iss, identity.sub),
            });
        }
        let expected = call_digest(
            &identity.iss,
            &identity.sub,
            &self.upstream,
            &request.tool,
            Some(&request.arguments),
        );
        if expected != request.call_digest {
            return Err(CheckRefusal::Digest {
                expected,
                got: request.call_digest.clone(),
            });
        }
        let decision = self.policy.decide(
            &identity,
            &Call {
                method: "tools/call",
                tool: Some(&request.tool),
                arguments: Some(&request.arguments),
                // Refused at load on `require_approval` rules (the check carries no answers).
                input_responses: None,
            },
        );
        if decision.action != RuleAction::RequireApproval
            || decision.rule.as_deref() != Some(request.rule.as_str())
        {
            let action = decision.action.as_str();
            return Err(CheckRefusal::RuleMismatch {
                rule: request.rule.clone(),
                decided: decision.rule.map_or_else(
                    || format!("the default ({action})"),
                    |rule| format!("rule \"{rule}\" ({action})"),
                ),
            });
        }
        // Approvers judge the arguments the call runs with, unless the rule hides them
        // (`mask_arguments_in_inbox`): then they are masked here with the rule's profile.
        let mut arguments = request.arguments.clone();
        if let Some(set) = self
            .masker
            .profile(decision.mask_profile.as_deref())
            .filter(|_| approval.mask_arguments_in_inbox)
        {
            self.masker
                .mask_value(&set, &mut arguments, &mut Default::default());
        }
        let recorded = CheckRequest {
            caller: Identity {
                claims: Default::default(),
                ..identity.clone()
            },
            claims: Value::Null,
            arguments,
            ..request.clone()
        };
        Ok((recorded, approval))
    }
}

/// A call held for approval: what to send to `warden serve` and how to answer once it has.
#[derive(Debug, Clone)]
pub struct ApprovalHold {
    /// The check request to send.
    pub check: CheckRequest,
    /// Timeout of the filter's call to the service, in milliseconds: the rule's hold plus
    /// [`DISPATCH_GRACE_MS`].
    pub timeout_ms: u64,
    /// Where to send it, and what to do when that fails.
    pub service: ApprovalsConfig,
    /// JSON-RPC id of the held request.
    pub jsonrpc_id: Value,
    /// How to rewrite the response when the call is forwarded.
    pub plan: ResponsePlan,
}

/// What the filter does once the service has answered (or failed to).
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// Resume the original request unchanged.
    Forward {
        /// The grant that covers the call; `None` when forwarded by `fail_mode: open` without one.
        approval: Option<ApprovalAudit>,
    },
    /// Answer locally with a JSON-RPC error (HTTP 200).
    Respond {
        /// The reply to send.
        reply: LocalReply,
        /// The error message, for the audit record.
        message: String,
        /// How the audit record describes it: `approval_denied`, `approval_pending`, or `deny` when
        /// the service could not be asked (fail closed).
        decision: AuditDecision,
        /// The approval request, when the service named one.
        approval: Option<ApprovalAudit>,
    },
}

impl ApprovalHold {
    /// The JSON body of the check call.
    pub fn request_body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.check).unwrap_or_default()
    }

    /// Decides what to do with the service's answer: `answer` is the HTTP status and body, or `None`
    /// when the call failed or timed out.
    ///
    /// - `approved` → [`Resolution::Forward`].
    /// - `denied` → JSON-RPC error -32003 whose message carries the approver's reason; `data` has
    ///   `rule`, `tool`, `approval_id`, `status: "denied"`, `reason`, `approver`.
    /// - `pending` → JSON-RPC error -32003 whose message and `data` carry the approval id, the inbox
    ///   URL and the expiry (`status: "pending"`), so the agent can tell its user and retry.
    /// - no answer, a non-200 status or an unreadable body → with `fail_mode: closed`, JSON-RPC error
    ///   -32003 naming the problem (`status: "unavailable"`); with `open`, forward.
    pub fn resolve(&self, answer: Option<(u16, &[u8])>) -> Resolution {
        let parsed = match answer {
            None => {
                Err("the approval service did not answer (unreachable or timed out)".to_owned())
            }
            Some((200, body)) => serde_json::from_slice::<CheckResponse>(body)
                .map_err(|e| format!("the approval service sent an unreadable answer: {e}")),
            Some((status, body)) => Err(format!(
                "the approval service answered HTTP {status}: {}",
                String::from_utf8_lossy(body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )),
        };
        let tool = &self.check.tool;
        let rule = &self.check.rule;
        match parsed {
            Ok(CheckResponse::Approved {
                approval_id,
                approvers,
                decided_at,
            }) => Resolution::Forward {
                approval: Some(ApprovalAudit {
                    id: approval_id,
                    approvers,
                    decided_at,
                    expires_at: None,
                }),
            },
            Ok(CheckResponse::Denied {
                approval_id,
                approver,
                reason,
                decided_at,
            }) => self.error(
                format!("tool call \"{tool}\" was denied by approver {approver}: {reason}"),
                json!({"rule": rule, "tool": tool, "status": "denied", "approval_id": approval_id,
                       "approver": approver, "reason": reason}),
                AuditDecision::ApprovalDenied,
                Some(ApprovalAudit {
                    id: approval_id,
                    approvers: vec![approver],
                    decided_at,
                    expires_at: None,
                }),
            ),
            Ok(CheckResponse::Pending {
                approval_id,
                expires_at,
            }) => {
                let inbox = &self.service.inbox_url;
                self.error(
                    format!(
                        "tool call \"{tool}\" is waiting for approval {approval_id} (rule \"{rule}\"): \
                         ask an approver to decide it at {inbox}, then retry the identical call; \
                         the request expires at {expires_at}"
                    ),
                    json!({"rule": rule, "tool": tool, "status": "pending", "approval_id": approval_id,
                           "inbox_url": inbox, "expires_at": expires_at}),
                    AuditDecision::ApprovalPending,
                    Some(ApprovalAudit {
                        id: approval_id,
                        approvers: Vec::new(),
                        decided_at: None,
                        expires_at: Some(expires_at),
                    }),
                )
            }
            Err(_) if self.service.fail_mode == FailMode::Open => {
                Resolution::Forward { approval: None }
            }
            Err(problem) => self.error(
                format!(
                    "tool call \"{tool}\" needs approval (rule \"{rule}\") but {problem}; denied (fail closed)"
                ),
                json!({"rule": rule, "tool": tool, "status": "unavailable"}),
                AuditDecision::Deny,
                None,
            ),
        }
    }

    fn error(
        &self,
        message: String,
        data: Value,
        decision: AuditDecision,
        approval: Option<ApprovalAudit>,
    ) -> Resolution {
        Resolution::Respond {
            reply: LocalReply::jsonrpc_error(
                200,
                &self.jsonrpc_id,
                POLICY_DENIED,
                &message,
                Some(data),
            ),
            message,
            decision,
            approval,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(fail_mode: FailMode) -> ApprovalHold {
        ApprovalHold {
            check: CheckRequest {
                call_digest: "d".into(),
                upstream: "demo".into(),
                rule: "hold-delete".into(),
                caller: Identity {
                    iss: "i".into(),
                    sub: "alice".into(),
                    email: None,
                    groups: vec![],
                    scopes: vec![],
                    client_id: None,
                    claims: Default::default(),
                },
                claims: json!({"iss": "i", "sub": "alice"}),
                tool: "delete_customer".into(),
                arguments: json!({"customer_id": "cus_001"}),
                session_id: None,
            },
            timeout_ms: 65_000,
            service: ApprovalsConfig {
                cluster: "warden_approvals".into(),
                authority: "warden-approvals".into(),
                inbox_url: "http://127.0.0.1:8787/inbox".into(),
                fail_mode,
                credential_env: crate::config::DEFAULT_CREDENTIAL_ENV.into(),
                mrtr: None,
            },
            jsonrpc_id: json!(7),
            plan: ResponsePlan {
                detectors: None,
                tools_list_ids: vec![],
                record_results: Default::default(),
                pinning: None,
            },
        }
    }

    fn error_of(resolution: Resolution) -> Value {
        match resolution {
            Resolution::Respond { reply, .. } => {
                assert_eq!(reply.status, 200);
                let body: Value = serde_json::from_slice(&reply.body).unwrap();
                assert_eq!(body["id"], 7);
                assert_eq!(body["error"]["code"], POLICY_DENIED);
                body["error"].clone()
            }
            other => panic!("expected a JSON-RPC error, got {other:?}"),
        }
    }

    #[test]
    fn digest_binds_every_part_of_the_call() {
        let args = json!({"customer_id": "cus_001"});
        let base = call_digest("i", "alice", "demo", "delete_customer", Some(&args));
        assert_eq!(base.len(), 64);
        let other_args = json!({"customer_id": "cus_002"});
        for other in [
            call_digest("i", "bob", "demo", "delete_customer", Some(&args)),
            call_digest("i", "alice", "prod", "delete_customer", Some(&args)),
            call_digest("i", "alice", "demo", "delete_invoice", Some(&args)),
            call_digest("i", "alice", "demo", "delete_customer", Some(&other_args)),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn equal_sub_from_two_issuers_gives_two_digests() {
        let args = json!({"customer_id": "cus_001"});
        assert_ne!(
            call_digest("https://a", "alice", "demo", "delete_customer", Some(&args)),
            call_digest("https://b", "alice", "demo", "delete_customer", Some(&args))
        );
    }

    #[test]
    fn big_integers_that_share_a_double_give_two_digests() {
        let a: Value = serde_json::from_str(r#"{"amount": 1234567890123456768}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"amount": 1234567890123456789}"#).unwrap();
        assert_ne!(
            call_digest("i", "alice", "demo", "transfer", Some(&a)),
            call_digest("i", "alice", "demo", "transfer", Some(&b))
        );
    }

    #[test]
    fn digest_is_sha256_of_the_canonical_call_and_ignores_encoding() {
        let reordered: Value =
            serde_json::from_str(r#"{"n": 1e2, "customer_id": "cus_\u0030\u0030\u0031"}"#).unwrap();
        let plain = json!({"customer_id": "cus_001", "n": 100});
        assert_eq!(
            call_digest("i", "a", "u", "t", Some(&reordered)),
            call_digest("i", "a", "u", "t", Some(&plain))
        );
        assert_eq!(
            call_digest("i", "a", "u", "t", None),
            sha256_hex_of_canonical(
                &json!({"arguments": {}, "iss": "i", "sub": "a", "tool": "t", "upstream": "u"})
            )
        );
    }

    #[test]
    fn approved_answer_forwards_the_call_recording_the_grant() {
        let body = br#"{"status":"approved","approval_id":"ap1","approvers":["bob"],
                        "decided_at":"2026-11-21T20:00:00Z"}"#;
        assert_eq!(
            hold(FailMode::Closed).resolve(Some((200, body))),
            Resolution::Forward {
                approval: Some(ApprovalAudit {
                    id: "ap1".into(),
                    approvers: vec!["bob".into()],
                    decided_at: Some("2026-11-21T20:00:00Z".into()),
                    expires_at: None,
                })
            }
        );
    }

    #[test]
    fn denied_and_pending_answers_are_recorded_as_such() {
        let denied = br#"{"status":"denied","approval_id":"ap1","approver":"bob","reason":"no"}"#;
        let Resolution::Respond {
            decision, approval, ..
        } = hold(FailMode::Closed).resolve(Some((200, denied)))
        else {
            panic!("expected a reply");
        };
        assert_eq!(decision, AuditDecision::ApprovalDenied);
        assert_eq!(approval.unwrap().approvers, ["bob"]);
        let pending =
            br#"{"status":"pending","approval_id":"ap2","expires_at":"2026-11-21T21:00:00Z"}"#;
        let Resolution::Respond {
            decision, approval, ..
        } = hold(FailMode::Closed).resolve(Some((200, pending)))
        else {
            panic!("expected a reply");
        };
        assert_eq!(decision, AuditDecision::ApprovalPending);
        assert_eq!(
            approval.unwrap().expires_at.as_deref(),
            Some("2026-11-21T21:00:00Z")
        );
        let Resolution::Respond {
            decision, approval, ..
        } = hold(FailMode::Closed).resolve(None)
        else {
            panic!("expected a reply");
        };
        assert_eq!((decision, approval), (AuditDecision::Deny, None));
    }

    #[test]
    fn denied_answer_carries_the_approvers_reason() {
        let body = br#"{"status":"denied","approval_id":"ap1","approver":"bob","reason":"not on a Friday"}"#;
        let error = error_of(hold(FailMode::Closed).resolve(Some((200, body))));
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("not on a Friday"),
            "{error}"
        );
        assert_eq!(error["data"]["status"], "denied");
        assert_eq!(error["data"]["reason"], "not on a Friday");
        assert_eq!(error["data"]["rule"], "hold-delete");
    }

    #[test]
    fn pending_answer_names_the_approval_id_inbox_and_expiry() {
        let body =
            br#"{"status":"pending","approval_id":"ap9","expires_at":"2026-01-01T00:00:00Z"}"#;
        let error = error_of(hold(FailMode::Closed).resolve(Some((200, body))));
        let message = error["message"].as_str().unwrap();
        for part in ["ap9", "http://127.0.0.1:8787/inbox", "2026-01-01T00:00:00Z"] {
            assert!(message.contains(part), "{message}");
        }
        assert_eq!(error["data"]["approval_id"], "ap9");
        assert_eq!(error["data"]["inbox_url"], "http://127.0.0.1:8787/inbox");
        assert_eq!(error["data"]["expires_at"], "2026-01-01T00:00:00Z");
    }

    #[test]
    fn unreachable_or_failing_service_denies_when_fail_closed() {
        for answer in [
            None,
            Some((503, &b"no healthy upstream"[..])),
            Some((200, &b"{}"[..])),
        ] {
            let error = error_of(hold(FailMode::Closed).resolve(answer));
            assert_eq!(error["data"]["status"], "unavailable", "{answer:?}");
            assert!(error["message"].as_str().unwrap().contains("fail closed"));
        }
    }

    #[test]
    fn failing_service_forwards_without_grant_when_fail_open() {
        assert_eq!(
            hold(FailMode::Open).resolve(None),
            Resolution::Forward { approval: None }
        );
    }

    #[test]
    fn check_request_round_trips_as_json() {
        let h = hold(FailMode::Closed);
        let back: CheckRequest = serde_json::from_slice(&h.request_body()).unwrap();
        assert_eq!(back, h.check);
    }
}
