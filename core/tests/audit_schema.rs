//! The audit records the filter renders validate against the published schema,
//! `docs/audit-record.v1.schema.json`, so the schema cannot drift from the code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::{json, Value};
use warden_core::audit::outbox::limit_exchange;
use warden_core::audit::payload::{Capped, RecordedPayload};
use warden_core::audit::{
    render_records, AuditDecision, ExchangeAudit, MessageAudit, RecordKey, RecordedError,
};
use warden_core::config::AuditConfig;
use warden_core::mask::MaskCounts;
use warden_core::Identity;

fn validator() -> jsonschema::Validator {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/audit-record.v1.schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    jsonschema::draft202012::new(&schema).unwrap()
}

fn assert_valid(lines: &str) -> Vec<Value> {
    let validator = validator();
    lines
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&record)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{record}\n{}", errors.join("\n"));
            record
        })
        .collect()
}

fn exchange(identity: Option<Identity>) -> ExchangeAudit {
    ExchangeAudit {
        record_key: RecordKey([0x5a; 16]),
        start_unix_nanos: 1_763_750_000_000_000_000,
        http_method: Some("POST".into()),
        request_id: Some("7f3c".into()),
        session_id: Some("s-1".into()),
        protocol_version: Some("2025-06-18".into()),
        identity,
        status: Some(200),
        bytes_in: 120,
        bytes_out: 480,
        ..Default::default()
    }
}

fn alice() -> Identity {
    Identity {
        iss: "https://idp.example.com".into(),
        sub: "alice".into(),
        email: Some("alice@example.com".into()),
        groups: vec!["support".into()],
        scopes: vec!["mcp:tools".into()],
        client_id: Some("claude-desktop".into()),
        claims: json!({}).into(),
    }
}

#[test]
fn refused_request_record_matches_the_schema() {
    let mut ex = exchange(None);
    ex.status = Some(401);
    ex.refusal = Some("token expired".into());
    let records = assert_valid(&render_records(
        &ex,
        &[],
        AuditDecision::Unauthenticated,
        0,
        "mcp",
    ));
    assert_eq!(records[0]["identity"], Value::Null);
}

#[test]
fn allowed_masked_and_denied_records_of_a_batch_match_the_schema() {
    let mut ex = exchange(Some(alice()));
    ex.masked_by_id
        .insert("1".into(), MaskCounts::from([("CREDIT_CARD".into(), 2)]));
    let allowed = MessageAudit {
        method: Some("tools/call".into()),
        tool: Some("search_customers".into()),
        jsonrpc_id: Some(json!(1)),
        arguments_digest: Some("a".repeat(64)),
        decision: AuditDecision::Allow,
        rule: Some("allow-support-tools".into()),
        jsonrpc_error: None,
        approval: None,
        payload: Some(RecordedPayload {
            arguments: Some(r#"{"query":"[REDACTED:EMAIL_ADDRESS]"}"#.into()),
            ..RecordedPayload::default()
        }),
        records_result: true,
        tool_fingerprint: None,
    };
    ex.results.insert(
        "1".into(),
        Capped {
            text: r#"{"content":[{"type":"te"#.into(),
            truncated: true,
        },
    );
    let denied = MessageAudit {
        tool: Some("delete_customer".into()),
        jsonrpc_id: Some(json!("two")),
        decision: AuditDecision::Deny,
        rule: Some("block-delete-customer".into()),
        jsonrpc_error: Some(RecordedError {
            code: -32003,
            message: "denied".into(),
        }),
        ..allowed.clone()
    };
    let notification = MessageAudit {
        method: Some("notifications/initialized".into()),
        tool: None,
        jsonrpc_id: None,
        arguments_digest: None,
        rule: None,
        payload: None,
        records_result: false,
        tool_fingerprint: None,
        ..allowed.clone()
    };
    let records = assert_valid(&render_records(
        &ex,
        &[allowed, denied, notification],
        AuditDecision::Allow,
        1_763_750_000_250_000_000,
        "mcp",
    ));
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["masked"]["CREDIT_CARD"], 2);
    assert_eq!(records[0]["payload"]["result_truncated"], true);
    assert_eq!(records[1]["jsonrpc_error"]["code"], -32003);
    assert!(records[2].get("payload").is_none());
}

#[test]
fn schema_refuses_a_record_with_an_unknown_decision() {
    let ex = exchange(Some(alice()));
    let mut record: Value =
        serde_json::from_str(&render_records(&ex, &[], AuditDecision::Allow, 0, "mcp")).unwrap();
    record["decision"] = json!("maybe");
    assert!(!validator().is_valid(&record));
}

#[test]
fn approved_and_pending_records_match_the_schema() {
    use warden_core::audit::ApprovalAudit;
    let ex = exchange(Some(alice()));
    let held = |decision, approval| MessageAudit {
        method: Some("tools/call".into()),
        tool: Some("delete_customer".into()),
        jsonrpc_id: Some(json!(9)),
        arguments_digest: Some("b".repeat(64)),
        decision,
        rule: Some("approve-delete-customer".into()),
        jsonrpc_error: None,
        approval: Some(approval),
        payload: None,
        records_result: false,
        tool_fingerprint: None,
    };
    let records = assert_valid(&render_records(
        &ex,
        &[
            held(
                AuditDecision::Approved,
                ApprovalAudit {
                    id: "ap-1".into(),
                    approvers: vec!["bob".into()],
                    decided_at: Some("2026-11-21T20:00:00Z".into()),
                    expires_at: None,
                },
            ),
            held(
                AuditDecision::ApprovalPending,
                ApprovalAudit {
                    id: "ap-2".into(),
                    approvers: vec![],
                    decided_at: None,
                    expires_at: Some("2026-11-21T21:00:00Z".into()),
                },
            ),
        ],
        AuditDecision::Allow,
        0,
        "mcp",
    ));
    assert_eq!(records[0]["decision"], "approved");
    assert_eq!(records[0]["approval"]["approvers"][0], "bob");
    assert_eq!(records[1]["decision"], "approval_pending");
}

#[test]
fn capped_exchange_counts_what_it_left_out_in_a_record_that_matches_the_schema() {
    let ex = exchange(Some(alice()));
    let message = |id: i64| MessageAudit {
        method: Some("tools/call".into()),
        tool: Some("search_customers".into()),
        jsonrpc_id: Some(json!(id)),
        arguments_digest: None,
        decision: AuditDecision::Allow,
        rule: None,
        jsonrpc_error: None,
        approval: None,
        payload: None,
        records_result: false,
        tool_fingerprint: None,
    };
    let messages: Vec<MessageAudit> = (0..5).map(message).collect();
    let rendered = render_records(&ex, &messages, AuditDecision::Allow, 0, "mcp");
    let config = AuditConfig {
        store_cluster: "s".into(),
        authority: "s".into(),
        batch_size: 10,
        flush_interval_ms: 1,
        max_pending: 10,
        timeout_ms: 1,
        credential_env: warden_core::config::DEFAULT_CREDENTIAL_ENV.into(),
        max_records_per_exchange: 2,
    };
    let (kept, dropped) = limit_exchange(&rendered, &config);
    assert_eq!(dropped, 3);
    let records = assert_valid(&kept.join("\n"));
    assert_eq!(records[0]["store_dropped"], 3);
    assert_eq!(records[0]["record_id"], format!("{}:0", "5a".repeat(16)));
}

#[test]
fn schema_refuses_a_record_id_made_from_the_request_id() {
    let ex = exchange(Some(alice()));
    let mut record: Value =
        serde_json::from_str(&render_records(&ex, &[], AuditDecision::Allow, 0, "mcp")).unwrap();
    assert!(validator().is_valid(&record));
    record["record_id"] = json!("7f3c:0");
    assert!(!validator().is_valid(&record));
}
