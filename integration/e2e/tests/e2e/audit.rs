//! One audit record per MCP message, written through Envoy's access log, and the Warden stats.

use serde_json::{json, Value};
use warden_e2e::{mcp::Endpoint, stack::Stack};

use crate::{masked_call_then_denied_call, ALLOW_RULE, DELETED_TOOL, DELETE_RULE, DENIED_CODE};

fn records_for<'a>(records: &'a [Value], tool: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["tool"] == tool).collect()
}

fn assert_common_fields(record: &Value) {
    assert_eq!(record["schema"], 1, "{record}");
    assert_eq!(record["method"], "tools/call", "{record}");
    assert_eq!(record["identity"]["sub"], "alice", "{record}");
    assert!(
        record["identity"]["groups"]
            .as_array()
            .is_some_and(|g| g.contains(&json!("support"))),
        "{record}"
    );
    assert_eq!(record["status"], 200, "{record}");
    let time = record["time"].as_str().unwrap_or_default();
    assert!(
        time.contains('T') && time.ends_with('Z'),
        "time not RFC 3339 UTC: {record}"
    );
    let digest = record["arguments_digest"].as_str().unwrap_or_default();
    assert!(
        digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
        "arguments_digest not hex SHA-256: {record}"
    );
}

#[tokio::test]
async fn audit_log_has_one_record_per_message_with_decision_rule_and_masked_counts() {
    let stack = Stack::start().await.unwrap();
    let client = masked_call_then_denied_call(&stack.envoy.url(Endpoint::Json.path())).await;

    let records = stack
        .envoy
        .wait_for_audit("audit records of both tool calls", |records| {
            !records_for(records, "search_customers").is_empty()
                && !records_for(records, DELETED_TOOL).is_empty()
        })
        .await
        .unwrap();

    let search = records_for(&records, "search_customers");
    assert_eq!(search.len(), 1, "one record per message: {records:#?}");
    let search = search[0];
    assert_common_fields(search);
    assert_eq!(search["decision"], "allow", "{search}");
    assert_eq!(search["rule"], ALLOW_RULE, "{search}");
    assert_eq!(search["jsonrpc_error"], Value::Null, "{search}");
    // Alice's card, SSN and e-mail, each once in the text content and once in structuredContent.
    assert_eq!(
        search["masked"],
        json!({"CREDIT_CARD": 2, "US_SSN": 2, "EMAIL_ADDRESS": 2}),
        "{search}"
    );

    let delete = records_for(&records, DELETED_TOOL);
    assert_eq!(delete.len(), 1, "one record per message: {records:#?}");
    let delete = delete[0];
    assert_common_fields(delete);
    assert_eq!(delete["decision"], "deny", "{delete}");
    assert_eq!(delete["rule"], DELETE_RULE, "{delete}");
    assert_eq!(delete["jsonrpc_error"]["code"], DENIED_CODE, "{delete}");
    assert!(
        delete["masked"]
            .as_object()
            .is_some_and(|m| m.values().all(|n| n == 0)),
        "nothing to mask in a denial: {delete}"
    );

    let initializes = records
        .iter()
        .filter(|r| r["method"] == "initialize")
        .count();
    assert_eq!(initializes, 1, "one record per message: {records:#?}");

    let stats = stack.envoy.warden_stats().await.unwrap();
    let stat = |name: &str| {
        *stats
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from /stats: {stats:?}"))
    };
    assert!(stat("warden.requests") >= 3, "{stats:?}");
    assert_eq!(stat("warden.denied"), 1, "{stats:?}");
    client.cancel().await.unwrap();
}
