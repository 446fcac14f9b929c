//! The owned audit record ([`AuditRecord`]) keeps the wire format of schema 1 byte for byte: records the
//! filter wrote before it existed (rendered by the borrowed record type it replaced) read back and
//! serialize to the same bytes, and `render_records` still writes them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_core::audit::{
    render_records, ApprovalAudit, AuditDecision, AuditRecord, ExchangeAudit, MessageAudit,
    RecordKey, RecordedError,
};
use warden_core::mask::MaskCounts;
use warden_core::Identity;

/// Rendered by the filter before the owned record type (commit 8e07c2f, `render_records` over the
/// borrowed `AuditRecord<'a>`) from the exchanges of [`held_and_notification`] and [`refused`]; the
/// first exchange's `time` carries microseconds since records order calls started within one
/// millisecond (`warden sessions show`).
const WRITTEN_BEFORE: [&str; 3] = [
    r#"{"schema":1,"record_id":"9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f:0","time":"2025-11-21T18:33:20.123456Z","http_method":"POST","request_id":"7f3c-r","session_id":"s-1","protocol_version":"2025-06-18","identity":{"iss":"https://idp.example.com","sub":"alice","email":"alice@example.com","groups":["support"],"scopes":["mcp:tools"],"client_id":"claude-desktop"},"method":"tools/call","tool":"delete_customer","jsonrpc_id":"two","arguments_digest":"abababababababababababababababababababababababababababababababab","decision":"approval_denied","rule":"approve-delete","reason":null,"masked":{"CREDIT_CARD":2,"US_SSN":1},"status":200,"jsonrpc_error":{"code":-32003,"message":"denied by bob: \"no\" é"},"approval":{"id":"ap-1","approvers":["bob"],"decided_at":"2025-11-21T18:34:00Z","expires_at":null},"bytes_in":120,"bytes_out":480,"duration_ms":252,"upstream":"mcp"}"#,
    r#"{"schema":1,"record_id":"9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f:1","time":"2025-11-21T18:33:20.123456Z","http_method":"POST","request_id":"7f3c-r","session_id":"s-1","protocol_version":"2025-06-18","identity":{"iss":"https://idp.example.com","sub":"alice","email":"alice@example.com","groups":["support"],"scopes":["mcp:tools"],"client_id":"claude-desktop"},"method":"notifications/initialized","tool":null,"jsonrpc_id":null,"arguments_digest":null,"decision":"allow","rule":null,"reason":null,"masked":{},"status":200,"jsonrpc_error":null,"approval":null,"bytes_in":120,"bytes_out":480,"duration_ms":252,"upstream":"mcp"}"#,
    r#"{"schema":1,"record_id":"01010101010101010101010101010101:0","time":"2025-11-21T18:33:21Z","http_method":"POST","request_id":null,"session_id":null,"protocol_version":null,"identity":null,"method":null,"tool":null,"jsonrpc_id":null,"arguments_digest":null,"decision":"unauthenticated","rule":null,"reason":"token expired","masked":{},"status":401,"jsonrpc_error":null,"approval":null,"bytes_in":0,"bytes_out":0,"duration_ms":2,"upstream":"mcp"}"#,
];

fn held_and_notification() -> String {
    let mut ex = ExchangeAudit {
        record_key: RecordKey([0x9f; 16]),
        start_unix_nanos: 1_763_750_000_123_456_789,
        http_method: Some("POST".into()),
        request_id: Some("7f3c-r".into()),
        session_id: Some("s-1".into()),
        protocol_version: Some("2025-06-18".into()),
        identity: Some(Identity {
            iss: "https://idp.example.com".into(),
            sub: "alice".into(),
            email: Some("alice@example.com".into()),
            groups: vec!["support".into()],
            scopes: vec!["mcp:tools".into()],
            client_id: Some("claude-desktop".into()),
            claims: json!({"x": 1}).into(),
        }),
        status: Some(200),
        bytes_in: 120,
        bytes_out: 480,
        ..Default::default()
    };
    ex.masked_by_id.insert(
        "\"two\"".into(),
        MaskCounts::from([("CREDIT_CARD".into(), 2), ("US_SSN".into(), 1)]),
    );
    let held = MessageAudit {
        method: Some("tools/call".into()),
        tool: Some("delete_customer".into()),
        jsonrpc_id: Some(json!("two")),
        arguments_digest: Some("ab".repeat(32)),
        decision: AuditDecision::ApprovalDenied,
        rule: Some("approve-delete".into()),
        jsonrpc_error: Some(RecordedError {
            code: -32003,
            message: "denied by bob: \"no\" \u{e9}".into(),
        }),
        approval: Some(ApprovalAudit {
            id: "ap-1".into(),
            approvers: vec!["bob".into()],
            decided_at: Some("2025-11-21T18:34:00Z".into()),
            expires_at: None,
        }),
        payload: None,
        records_result: false,
        tool_fingerprint: None,
    };
    let notification = MessageAudit {
        method: Some("notifications/initialized".into()),
        tool: None,
        jsonrpc_id: None,
        arguments_digest: None,
        decision: AuditDecision::Allow,
        rule: None,
        jsonrpc_error: None,
        approval: None,
        payload: None,
        records_result: false,
        tool_fingerprint: None,
    };
    render_records(
        &ex,
        &[held, notification],
        AuditDecision::Allow,
        1_763_750_000_376_000_000,
        "mcp",
    )
}

fn refused() -> String {
    let ex = ExchangeAudit {
        record_key: RecordKey([0x01; 16]),
        start_unix_nanos: 1_763_750_001_000_000_000,
        http_method: Some("POST".into()),
        status: Some(401),
        refusal: Some("token expired".into()),
        ..Default::default()
    };
    render_records(
        &ex,
        &[],
        AuditDecision::Unauthenticated,
        1_763_750_001_002_000_000,
        "mcp",
    )
}

#[test]
fn records_written_before_read_back_and_serialize_byte_identically() {
    // The copy shipped to the store may end with `store_dropped` (outbox::limit_exchange appends it).
    let base = WRITTEN_BEFORE[0].strip_suffix('}').unwrap();
    let shipped_with_count = format!("{base},\"store_dropped\":3}}");
    for line in WRITTEN_BEFORE
        .iter()
        .copied()
        .chain([shipped_with_count.as_str()])
    {
        let record: AuditRecord = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_string(&record).unwrap(), line);
    }
}

#[test]
fn render_records_writes_the_layout_it_wrote_before() {
    let rendered = format!("{}\n{}", held_and_notification(), refused());
    let expected = WRITTEN_BEFORE.join("\n");
    assert_eq!(rendered, expected);
}

#[test]
fn a_record_read_back_has_typed_decision_identity_and_approval() {
    let record: AuditRecord = serde_json::from_str(WRITTEN_BEFORE[0]).unwrap();
    assert_eq!(record.decision, AuditDecision::ApprovalDenied);
    assert!(record.decision.was_denied() && !record.decision.was_forwarded());
    assert!(record.is_tool_call());
    let identity = record.identity.unwrap();
    assert_eq!(
        (identity.iss.as_str(), identity.sub.as_str()),
        ("https://idp.example.com", "alice")
    );
    assert_eq!(
        *identity.claims,
        serde_json::Value::Null,
        "claims are never recorded"
    );
    assert_eq!(record.approval.unwrap().approvers, ["bob"]);
    assert_eq!(record.store_dropped, None);
}

#[test]
fn a_record_with_an_unknown_decision_is_refused_naming_the_value() {
    let line = WRITTEN_BEFORE[2].replace("\"unauthenticated\"", "\"maybe\"");
    let e = serde_json::from_str::<AuditRecord>(&line).unwrap_err();
    assert!(e.to_string().contains("maybe"), "{e}");
}
