//! MCP 2026-07-28 end to end with the official Python SDK 2.x on both sides: its client (stateless,
//! sending `Mcp-Method`/`Mcp-Name`) through Envoy and Warden to its server. The listing is filtered per
//! caller, an allowed call's result is masked, a blocked call never executes, and the audit records
//! carry the protocol version.

use serde_json::json;
use tempfile::TempDir;
use warden_e2e::python::{run_client, PythonUpstream};
use warden_e2e::stack::{demo_plugin_config, Envoy};

use crate::{alice_token, DELETED_TOOL, DELETE_RULE, DENIED_CODE};

#[tokio::test]
async fn the_python_sdk_speaks_2026_07_28_through_warden_and_is_judged_and_masked() {
    let dir = TempDir::with_prefix("warden-e2e-python-").unwrap();
    let upstream = PythonUpstream::start(dir.path()).unwrap();
    let envoy = Envoy::start(dir.path(), &demo_plugin_config().unwrap(), upstream.port())
        .await
        .unwrap();
    let url = envoy.url("/mcp");
    let operations = json!([
        {"op": "list_tools"},
        {"op": "call_tool", "tool": "search_customers", "arguments": {"query": "ada"}},
        {"op": "call_tool", "tool": DELETED_TOOL, "arguments": {"customer_id": "cus_001"}},
    ]);
    let token = alice_token();
    let seen = tokio::task::spawn_blocking(move || run_client(&url, &token, &operations))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen["protocol_version"], "2026-07-28", "{seen}");
    let results = &seen["results"];
    assert_eq!(
        results[0]["tools"],
        json!(["echo", "search_customers"]),
        "delete_customer is hidden from the listing: {seen}"
    );
    let text = results[1]["text"].as_str().unwrap();
    assert!(
        !text.contains("ada@example.com") && !text.contains("4111 1111 1111 1111"),
        "unmasked: {text}"
    );
    assert!(text.contains("[REDACTED:EMAIL_ADDRESS]"), "{text}");
    assert_eq!(results[2]["error"]["code"], DENIED_CODE, "{seen}");
    assert!(
        results[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains(DELETE_RULE),
        "{seen}"
    );
    let executed = upstream.executed().await.unwrap();
    assert!(
        executed.iter().all(|call| call.tool != DELETED_TOOL),
        "{executed:?}"
    );
    assert!(executed.iter().any(|call| call.tool == "search_customers"));
    let records = envoy
        .wait_for_audit("the search_customers record", |records| {
            records.iter().any(|r| r["tool"] == "search_customers")
        })
        .await
        .unwrap();
    let call = records
        .iter()
        .find(|r| r["tool"] == "search_customers")
        .unwrap();
    assert_eq!(call["protocol_version"], "2026-07-28", "{call}");
    assert_eq!(call["decision"], "allow");
}
