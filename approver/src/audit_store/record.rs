//! An audit record as the store reads it back: the fields of schema 1 that sessions and reports use
//! (`docs/audit-record.v1.schema.json`). Unknown fields are ignored, so newer filters can add fields.

use std::collections::BTreeMap;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::unix_ms;

/// The caller as recorded (`identity` of the record).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordedIdentity {
    /// Token issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// `email` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `client_id` / `azp`: the OAuth client (agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// The JSON-RPC error Warden answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedJsonRpcError {
    /// JSON-RPC error code.
    pub code: i64,
    /// Its message.
    pub message: String,
}

/// One stored audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Unique id (`<request_id>:<index>`).
    pub record_id: String,
    /// Start of the request, RFC 3339.
    pub time: String,
    /// `Mcp-Session-Id`.
    #[serde(default)]
    pub session_id: Option<String>,
    /// `x-request-id`.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The verified caller (absent: unauthenticated).
    #[serde(default)]
    pub identity: Option<RecordedIdentity>,
    /// JSON-RPC method.
    #[serde(default)]
    pub method: Option<String>,
    /// Tool of a `tools/call`.
    #[serde(default)]
    pub tool: Option<String>,
    /// JSON-RPC id.
    #[serde(default)]
    pub jsonrpc_id: Option<Value>,
    /// SHA-256 of the canonical arguments.
    #[serde(default)]
    pub arguments_digest: Option<String>,
    /// `allow`, `deny`, `unauthenticated`, `invalid`.
    pub decision: String,
    /// Deciding rule id.
    #[serde(default)]
    pub rule: Option<String>,
    /// Why the request was refused before its messages were read.
    #[serde(default)]
    pub reason: Option<String>,
    /// Values masked per detector.
    #[serde(default)]
    pub masked: BTreeMap<String, u64>,
    /// HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// The JSON-RPC error Warden answered with.
    #[serde(default)]
    pub jsonrpc_error: Option<RecordedJsonRpcError>,
    /// Milliseconds the exchange took.
    #[serde(default)]
    pub duration_ms: u64,
    /// The protected MCP server.
    #[serde(default)]
    pub upstream: String,
}

impl StoredRecord {
    /// Parses one JSON line of the filter.
    ///
    /// # Errors
    /// When the line is not a schema-1 record (the message names the missing or mistyped field), or
    /// its `time` is not RFC 3339.
    pub fn parse(line: &str) -> anyhow::Result<(Self, i64)> {
        let record: Self = serde_json::from_str(line).context("not an audit record")?;
        anyhow::ensure!(!record.record_id.is_empty(), "record_id is empty");
        let time_ms = unix_ms(&record.time)
            .with_context(|| format!("record {}: time {:?}", record.record_id, record.time))?;
        Ok((record, time_ms))
    }

    /// Whether the record is a tool call.
    pub fn is_tool_call(&self) -> bool {
        self.method.as_deref() == Some("tools/call")
    }

    /// Whether the message reached the MCP server: `allow`, or `approved` under a human's grant.
    pub fn was_forwarded(&self) -> bool {
        matches!(self.decision.as_str(), "allow" | "approved")
    }

    /// Whether the message was refused by a policy rule (`deny`) or by an approver
    /// (`approval_denied`). A call still waiting for approval (`approval_pending`) is neither
    /// forwarded nor denied.
    pub fn was_denied(&self) -> bool {
        matches!(self.decision.as_str(), "deny" | "approval_denied")
    }
}
