//! The audit record (schema 1): one per MCP message, or one per HTTP request that carried no readable
//! message (refused before parsing: no or bad token, unparseable body).
//!
//! Records are serialized as one JSON object per line. Envoy's access log receives them through the filter
//! state `wasm.warden_audit` (records of one HTTP request joined by `\n`).

pub mod outbox;
pub mod payload;
mod record;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::digest::lower_hex;
use crate::identity::Identity;
use crate::mask::MaskCounts;
use payload::{CapturedResults, RecordedPayload};

pub use record::{ApprovalAudit, AuditDecision, AuditRecord, RecordedError, SCHEMA_VERSION};

/// Path of the audit store's batch endpoint on `warden serve`: `POST` with a JSON Lines body, one record
/// per line.
pub const STORE_PATH: &str = "/v1/audit";

/// What the request path learned about one message: filled when the request is inspected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageAudit {
    /// JSON-RPC method (`tools/call`), absent for client responses.
    pub method: Option<String>,
    /// Tool name of a `tools/call`.
    pub tool: Option<String>,
    /// The message's JSON-RPC `id` (absent for notifications).
    pub jsonrpc_id: Option<Value>,
    /// Lower-case hex SHA-256 of the RFC 8785 canonical form of the `tools/call` arguments.
    pub arguments_digest: Option<String>,
    /// What the filter did.
    pub decision: AuditDecision,
    /// Id of the rule that decided (absent: the default, or an open method).
    pub rule: Option<String>,
    /// The JSON-RPC error the filter answered with, if it answered.
    pub jsonrpc_error: Option<RecordedError>,
    /// The approval behind a held call.
    pub approval: Option<ApprovalAudit>,
    /// The recorded (masked) arguments, when the deciding rule records them (`record.arguments`).
    pub payload: Option<RecordedPayload>,
    /// Whether the deciding rule records the result (`record.result`).
    pub records_result: bool,
    /// Fingerprint of the called tool's definition when pinning knows it (see
    /// [`crate::pinning::Pinning::check_call`]).
    pub tool_fingerprint: Option<String>,
}

/// Facts about the HTTP exchange shared by every record of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExchangeAudit {
    /// Start of the request, nanoseconds since the Unix epoch (host clock).
    pub start_unix_nanos: u128,
    /// HTTP method of the request (`POST`, `GET`, `DELETE`).
    pub http_method: Option<String>,
    /// The exchange's pseudo-random key, minted by the filter ([`RecordKey::derive`]); the records' ids
    /// are made from it ([`record_id`]), never from anything the client sent.
    pub record_key: RecordKey,
    /// `x-request-id` header (client-controlled unless Envoy regenerates it: a field, never a key).
    pub request_id: Option<String>,
    /// `Mcp-Session-Id` header.
    pub session_id: Option<String>,
    /// Results recorded for rules with `record.result`, keyed like `masked_by_id`.
    pub results: CapturedResults,
    /// `MCP-Protocol-Version` header.
    pub protocol_version: Option<String>,
    /// The verified caller.
    pub identity: Option<Identity>,
    /// Why the request was refused before its messages could be read (bad token, bad body).
    pub refusal: Option<String>,
    /// The rule of a record without messages: for a GET stream that resumes one Warden forwarded,
    /// the rule that allowed the call that started it ([`crate::origins`]).
    pub rule: Option<String>,
    /// HTTP status sent to the client.
    pub status: Option<u16>,
    /// Request body bytes received from the client.
    pub bytes_in: u64,
    /// Response body bytes sent to the client (after rewriting).
    pub bytes_out: u64,
    /// Masked values per detector, keyed by the JSON-RPC id of the response they were in (its canonical
    /// JSON text), or `""` for messages without an id (server notifications and requests on a stream).
    pub masked_by_id: BTreeMap<String, MaskCounts>,
}

/// 128 pseudo-random bits identifying one exchange's records. The filter mints them with
/// [`RecordKey::derive`] from a per-VM secret it draws from the host's CSPRNG (WASI `random_get`) and the
/// VM's exchange count. Core never draws randomness itself: it does not call the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordKey(pub [u8; 16]);

impl RecordKey {
    /// The key of exchange number `n` minted from `secret`: the first 16 bytes of
    /// SHA-256(`secret` ‖ `n` as 8 big-endian bytes) (FIPS 180-4).
    ///
    /// The input always has the same length, so this secret-prefix hash is a pseudo-random function
    /// (no length extension applies): keys are distinct per `n` and per secret, and no one without the
    /// secret can predict a key from others they have seen.
    pub fn derive(secret: &[u8; 32], n: u64) -> Self {
        let digest = Sha256::new()
            .chain_update(secret)
            .chain_update(n.to_be_bytes())
            .finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        Self(key)
    }
}

/// The id of the `index`-th record (0-based) of an exchange: the exchange's [`RecordKey`] as 32
/// lower-case hex digits, `:`, the index (`9f86d081884c7d659a2feaa0c55ad015:0`).
///
/// Never derived from the client's `x-request-id` (Envoy keeps a client-supplied one), so a reused
/// request id cannot make the audit store deduplicate away another exchange's records. Stable across
/// re-renders of the same exchange (filter state, then the shipped copy), so a retried delivery is
/// stored once.
pub fn record_id(exchange: &ExchangeAudit, index: usize) -> String {
    format!("{}:{index}", lower_hex(&exchange.record_key.0))
}

/// Renders the records of one exchange as JSON lines joined by `\n` (no trailing newline).
///
/// `messages` empty (a request refused before its body was read, or a GET stream or DELETE, which carry
/// no message) yields one record with `exchange_decision` (`unauthenticated`, `invalid`, or `allow`).
/// `end_unix_nanos` is the host clock at the end of the exchange.
pub fn render_records(
    exchange: &ExchangeAudit,
    messages: &[MessageAudit],
    exchange_decision: AuditDecision,
    end_unix_nanos: u128,
    upstream: &str,
) -> String {
    let time = OffsetDateTime::from_unix_timestamp_nanos(exchange.start_unix_nanos as i128)
        .ok()
        .and_then(|t| t.replace_nanosecond((t.nanosecond() / 1_000) * 1_000).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    let duration_ms = (end_unix_nanos.saturating_sub(exchange.start_unix_nanos) / 1_000_000) as u64;
    let base = AuditRecord {
        schema: SCHEMA_VERSION,
        record_id: record_id(exchange, 0),
        time,
        http_method: exchange.http_method.clone(),
        request_id: exchange.request_id.clone(),
        session_id: exchange.session_id.clone(),
        protocol_version: exchange.protocol_version.clone(),
        identity: exchange.identity.clone(),
        method: None,
        tool: None,
        jsonrpc_id: None,
        arguments_digest: None,
        decision: exchange_decision,
        rule: exchange.rule.clone(),
        reason: exchange.refusal.clone(),
        masked: MaskCounts::new(),
        status: exchange.status,
        jsonrpc_error: None,
        approval: None,
        bytes_in: exchange.bytes_in,
        bytes_out: exchange.bytes_out,
        duration_ms,
        upstream: upstream.to_owned(),
        store_dropped: None,
        payload: None,
        tool_fingerprint: None,
    };
    if messages.is_empty() {
        let mut masked = MaskCounts::new();
        for (detector, n) in exchange.masked_by_id.values().flatten() {
            *masked.entry(detector.clone()).or_default() += n;
        }
        return serde_json::to_string(&AuditRecord { masked, ..base }).unwrap_or_default();
    }
    let mut unattributed = exchange.masked_by_id.get("").cloned();
    let lines: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(index, m)| {
            let mut masked = m
                .jsonrpc_id
                .as_ref()
                .and_then(|id| exchange.masked_by_id.get(&id.to_string()))
                .cloned()
                .unwrap_or_default();
            // Values masked in messages that answer no request (server notifications on a stream) are
            // counted on the first record so that totals stay exact.
            if let Some(extra) = unattributed.take() {
                for (detector, n) in extra {
                    *masked.entry(detector).or_default() += n;
                }
            }
            let payload = recorded_payload(exchange, m);
            let record = AuditRecord {
                payload,
                record_id: record_id(exchange, index),
                method: m.method.clone(),
                tool: m.tool.clone(),
                jsonrpc_id: m.jsonrpc_id.clone(),
                arguments_digest: m.arguments_digest.clone(),
                decision: m.decision,
                rule: m.rule.clone(),
                masked,
                jsonrpc_error: m.jsonrpc_error.clone(),
                approval: m.approval.clone(),
                tool_fingerprint: m.tool_fingerprint.clone(),
                ..base.clone()
            };
            serde_json::to_string(&record).unwrap_or_default()
        })
        .collect();
    lines.join("\n")
}

/// The payload of `message`'s record: its recorded arguments and, when its rule records results,
/// the result captured under its id (`None` when the rule records nothing, or nothing was captured).
fn recorded_payload(exchange: &ExchangeAudit, message: &MessageAudit) -> Option<RecordedPayload> {
    let mut payload = message.payload.clone().unwrap_or_default();
    if message.records_result {
        if let Some(result) = message
            .jsonrpc_id
            .as_ref()
            .and_then(|id| exchange.results.get(&id.to_string()))
        {
            payload.result = Some(result.text.clone());
            payload.result_truncated = result.truncated;
        }
    }
    (payload != RecordedPayload::default()).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f";

    fn exchange() -> ExchangeAudit {
        ExchangeAudit {
            record_key: RecordKey([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
            start_unix_nanos: 1_763_750_000_123_456_789,
            request_id: Some("r-1".into()),
            status: Some(200),
            ..Default::default()
        }
    }

    #[test]
    fn derived_keys_are_the_hash_of_secret_and_count_and_never_repeat() {
        let mut input = vec![7u8; 32];
        input.extend_from_slice(&41u64.to_be_bytes());
        assert_eq!(
            RecordKey::derive(&[7; 32], 41).0,
            Sha256::digest(&input)[..16]
        );
        let mut keys: Vec<[u8; 16]> = [[1u8; 32], [2u8; 32]]
            .iter()
            .flat_map(|secret| (0..1000).map(|n| RecordKey::derive(secret, n).0))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 2000, "no key repeats, within or across secrets");
    }

    #[test]
    fn refused_request_yields_one_record_with_the_reason() {
        let mut ex = exchange();
        ex.refusal = Some("token expired".into());
        ex.status = Some(401);
        let out = render_records(
            &ex,
            &[],
            AuditDecision::Unauthenticated,
            ex.start_unix_nanos,
            "mcp",
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["decision"], "unauthenticated");
        assert_eq!(v["reason"], "token expired");
        assert_eq!(v["status"], 401);
        assert_eq!(v["schema"], 1);
        assert_eq!(v["time"], "2025-11-21T18:33:20.123456Z");
    }

    #[test]
    fn batch_yields_one_line_per_message_with_masks_attributed_by_id() {
        let mut ex = exchange();
        ex.masked_by_id
            .insert("2".into(), MaskCounts::from([("US_SSN".into(), 3)]));
        ex.masked_by_id
            .insert("".into(), MaskCounts::from([("US_SSN".into(), 1)]));
        let msg = |id: i64, decision| MessageAudit {
            method: Some("tools/call".into()),
            tool: Some("echo".into()),
            jsonrpc_id: Some(json!(id)),
            arguments_digest: None,
            decision,
            rule: None,
            jsonrpc_error: None,
            approval: None,
            payload: None,
            records_result: false,
            tool_fingerprint: None,
        };
        let out = render_records(
            &ex,
            &[msg(1, AuditDecision::Allow), msg(2, AuditDecision::Allow)],
            AuditDecision::Invalid,
            ex.start_unix_nanos + 7_000_000,
            "mcp",
        );
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["masked"], json!({"US_SSN": 1}));
        assert_eq!(lines[1]["masked"], json!({"US_SSN": 3}));
        assert_eq!(lines[1]["duration_ms"], 7);
        assert_eq!(lines[1]["jsonrpc_id"], 2);
        assert_eq!(lines[0]["record_id"], format!("{KEY_HEX}:0"));
        assert_eq!(lines[1]["record_id"], format!("{KEY_HEX}:1"));
        assert_eq!(
            lines[1]["request_id"], "r-1",
            "the request id stays a field"
        );
    }

    #[test]
    fn record_id_comes_from_the_record_key_not_the_request_id() {
        let mut other = exchange();
        other.record_key = RecordKey([0xab; 16]);
        let render = |ex: &ExchangeAudit| -> Value {
            serde_json::from_str(&render_records(ex, &[], AuditDecision::Allow, 0, "mcp")).unwrap()
        };
        let (a, b) = (render(&exchange()), render(&other));
        assert_eq!(a["request_id"], b["request_id"], "same x-request-id");
        assert_ne!(a["record_id"], b["record_id"]);
        assert_eq!(b["record_id"], format!("{}:0", "ab".repeat(16)));
    }
}
