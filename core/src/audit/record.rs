//! The audit record of schema 1 as one owned type: the filter renders it ([`super::render_records`]),
//! `warden serve` stores it and `warden review` reads it back, and its JSON Schema
//! (`docs/audit-record.v1.schema.json`) is generated from it ([`crate::schema::audit_record`]).
//!
//! The JSON layout is a contract with every record already written: members in declaration order,
//! optional members written as `null` (except `identity.email`, `identity.client_id`, `payload`,
//! `store_dropped` and `tool_fingerprint`, which are left out when absent). Reading is lenient where old or hand-made records
//! may lack a member (it reads as `null`, `0`, `{}` or `""`) and ignores unknown members, so newer
//! filters can add fields; it is strict on `decision`, which must be one of [`AuditDecision`].

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::payload::RecordedPayload;

use crate::identity::Identity;
use crate::mask::MaskCounts;

/// Version of the record layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// What the filter did with a message.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AuditDecision {
    /// Forwarded upstream.
    Allow,
    /// Refused by a policy rule (or the default, or because the approval service could not be
    /// asked); answered with a JSON-RPC error.
    Deny,
    /// Refused before the policy: the bearer token was missing or invalid (HTTP 401).
    Unauthenticated,
    /// Refused before the policy: the body was not a valid JSON-RPC message or batch.
    Invalid,
    /// Held for a human approval that was not given within the hold time; answered with a JSON-RPC
    /// error carrying the approval id (the agent may retry the identical call once approved).
    ApprovalPending,
    /// Forwarded because an approver's grant covers this exact call.
    Approved,
    /// Refused by an approver; answered with a JSON-RPC error carrying the approver's reason.
    ApprovalDenied,
}

impl AuditDecision {
    /// The decision as written in records: `allow`, `deny`, `unauthenticated`, `invalid`,
    /// `approval_pending`, `approved` or `approval_denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Unauthenticated => "unauthenticated",
            Self::Invalid => "invalid",
            Self::ApprovalPending => "approval_pending",
            Self::Approved => "approved",
            Self::ApprovalDenied => "approval_denied",
        }
    }

    /// Whether the message reached the MCP server: [`Self::Allow`], or [`Self::Approved`] under a
    /// human's grant.
    pub fn was_forwarded(self) -> bool {
        matches!(self, Self::Allow | Self::Approved)
    }

    /// Whether the message was refused by a policy rule ([`Self::Deny`]) or by an approver
    /// ([`Self::ApprovalDenied`]). A call still waiting for approval ([`Self::ApprovalPending`]) is
    /// neither forwarded nor denied; requests refused before the policy ([`Self::Unauthenticated`],
    /// [`Self::Invalid`]) are counted on their own.
    pub fn was_denied(self) -> bool {
        matches!(self, Self::Deny | Self::ApprovalDenied)
    }
}

impl fmt::Display for AuditDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The approval request behind a call a `require_approval` rule held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false), transform = require_every_written_member)]
pub struct ApprovalAudit {
    /// Approval request id in `warden serve`.
    pub id: String,
    /// `sub` of the approver(s) who decided; empty while pending.
    pub approvers: Vec<String>,
    /// When it was decided, RFC 3339 UTC.
    #[schemars(extend("format" = "date-time"))]
    pub decided_at: Option<String>,
    /// When a pending request expires, RFC 3339 UTC.
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: Option<String>,
}

/// A JSON-RPC error as recorded: code and message, without `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct RecordedError {
    /// JSON-RPC error code (JSON-RPC 2.0 §5.1).
    pub code: i64,
    /// Error message.
    pub message: String,
}

/// Warden audit record, schema 1: one per MCP (JSON-RPC) message that passed through the Warden
/// filter, or one per HTTP request that carried no readable message (refused before its body was
/// read, or a GET stream / DELETE). Written by the filter as filter state `wasm.warden_audit` (records
/// of one request joined by a newline) and shipped to the audit store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "Warden audit record, schema 1",
    extend("additionalProperties" = false),
    transform = require_every_written_member
)]
pub struct AuditRecord {
    /// Record layout version: 1 (`SCHEMA_VERSION`).
    #[serde(default = "schema_version")]
    #[schemars(extend("const" = 1))]
    pub schema: u32,
    /// Unique record id, the audit store's deduplication key: the HTTP exchange's 128-bit key
    /// (pseudo-random, from a secret each filter VM draws with WASI `random_get` and the VM's exchange
    /// count) as 32 lower-case hex digits, `:`, the index of the message in the request (from 0).
    /// Never derived from `x-request-id`, which the client may set. See
    /// `record_id` in this crate's `audit` module.
    #[schemars(pattern(r"^[0-9a-f]{32}:[0-9]+$"))]
    pub record_id: String,
    /// Start of the HTTP request, RFC 3339 UTC with microseconds (trailing zeros of the fraction
    /// left out): fine enough to order the calls of one session, which can start within a
    /// millisecond of each other.
    #[schemars(extend("format" = "date-time"))]
    pub time: String,
    /// HTTP method of the request: `POST` (client messages), `GET` (server stream), `DELETE`
    /// (session end).
    pub http_method: Option<String>,
    /// Envoy's `x-request-id`, shared by every record of one HTTP request. Envoy keeps a
    /// client-supplied one: not unique, not a key.
    pub request_id: Option<String>,
    /// `Mcp-Session-Id` header (null for stateless traffic and before `initialize`).
    pub session_id: Option<String>,
    /// `MCP-Protocol-Version` header.
    pub protocol_version: Option<String>,
    /// The caller as established from the verified bearer JWT (its claims are not recorded); null
    /// when authentication failed.
    pub identity: Option<Identity>,
    /// JSON-RPC method (`tools/call`, `initialize`, ...); null for client responses and message-less
    /// requests.
    pub method: Option<String>,
    /// Tool name of a `tools/call`.
    pub tool: Option<String>,
    /// The message's JSON-RPC id (a string or a number); null for notifications.
    #[schemars(schema_with = "jsonrpc_id_schema")]
    pub jsonrpc_id: Option<Value>,
    /// Lower-case hex SHA-256 of the RFC 8785 canonical JSON of the tool call's arguments.
    #[schemars(pattern(r"^[0-9a-f]{64}$"))]
    pub arguments_digest: Option<String>,
    /// What the filter did with the message: forwarded (`allow`; `approved` when a human's grant
    /// covered it), refused by policy (`deny`; also when the approval service could not be asked),
    /// refused before the policy (`unauthenticated`, `invalid`), or held for approval and answered
    /// pending (`approval_pending`) or denied by the approver (`approval_denied`).
    pub decision: AuditDecision,
    /// Id of the deciding policy rule; null for the default action or an open method.
    pub rule: Option<String>,
    /// Why the request was refused before its messages were read (token or body problem).
    pub reason: Option<String>,
    /// Values masked in the response to this message, per detector name.
    #[serde(default)]
    pub masked: MaskCounts,
    /// HTTP status sent to the client.
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<u16>,
    /// The JSON-RPC error Warden answered with, when it answered.
    pub jsonrpc_error: Option<RecordedError>,
    /// The approval request behind a call a `require_approval` rule held.
    pub approval: Option<ApprovalAudit>,
    /// Request body bytes received from the client.
    #[serde(default)]
    pub bytes_in: u64,
    /// Response body bytes sent to the client, after rewriting.
    #[serde(default)]
    pub bytes_out: u64,
    /// Milliseconds from the request headers to the end of the response.
    #[serde(default)]
    pub duration_ms: u64,
    /// The configured name of the protected MCP server (`upstream` in the plugin configuration).
    #[serde(default)]
    pub upstream: String,
    /// Optional: the masked arguments and result of a call whose rule records them (`record`); left
    /// out when the rule records nothing. See `RecordedPayload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<RecordedPayload>,
    /// Optional, only on the first record (index 0) of an exchange as shipped to the audit store: how
    /// many records of the same exchange were not queued for the store because of the filter's
    /// per-exchange cap (`audit.max_records_per_exchange`); also counted in `warden.audit.dropped`.
    /// Envoy's access log has every record and never this field (`STORE_DROPPED_FIELD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u64", range(min = 1))]
    pub store_dropped: Option<u64>,
    /// Optional, on `tools/call` records when tool-definition pinning is on and knows the tool:
    /// lower-case hex SHA-256 of the RFC 8785 canonical JSON of the called tool's name,
    /// description, `inputSchema`, `outputSchema` and annotations, as pinned (else as last listed).
    /// Left out when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[0-9a-f]{64}$"))]
    pub tool_fingerprint: Option<String>,
}

impl AuditRecord {
    /// Whether the record is of a `tools/call` message.
    pub fn is_tool_call(&self) -> bool {
        self.method.as_deref() == Some("tools/call")
    }
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// A JSON-RPC id (JSON-RPC 2.0 §4: a string or a number), or null for notifications.
fn jsonrpc_id_schema(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({ "type": ["string", "number", "null"] })
}

/// Every member the filter always writes is required, `null` or not: all but `payload` (only with a
/// rule's `record`), `store_dropped` ([`super::outbox::STORE_DROPPED_FIELD`]) and
/// `tool_fingerprint` (only when pinning knows the tool).
fn require_every_written_member(schema: &mut Schema) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<Value> = properties
        .keys()
        .filter(|name| {
            !matches!(
                name.as_str(),
                "payload" | "tool_fingerprint" | super::outbox::STORE_DROPPED_FIELD
            )
        })
        .map(|name| Value::from(name.as_str()))
        .collect();
    schema.insert("required".to_owned(), Value::Array(required));
}
