//! End-to-end: a real Envoy 1.40 loading `warden_filter.wasm` with `policies/demo.json`, in front of the
//! demo MCP server, driven by the official rmcp client and raw HTTP. Each test starts its own stack.
//!
//! Needs `cargo build -p demo-mcp-server -p warden` and `target/warden_filter.wasm` (`just build`;
//! `just e2e` does both).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod auth;
mod config;
mod masking;
mod policy;
mod python_sdk;
mod renderings;
mod request_decoding;
mod siem;
mod stats_tags;
mod trailers;

use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::ServiceError;
use serde_json::{json, Value};
use warden_e2e::mcp::{connect, McpClient};
use warden_testkit::tokens::dev_token;

/// Values the demo server returns for customer "alice" (cus_001) and that must never leave Warden.
const ALICE_PII: [&str; 3] = [
    "4111 1111 1111 1111",
    "123-45-6789",
    "alice.johnson@example.com",
];

/// Every card, SSN and e-mail of the demo data set.
const ALL_PII: [&str; 9] = [
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "4012888888881881",
    "123-45-6789",
    "234-56-7890",
    "345-67-8901",
    "alice.johnson@example.com",
    "bob.smith@example.org",
    "carol.diaz@example.net",
];

/// The tool the demo policy denies.
const DELETED_TOOL: &str = "delete_customer";
/// The rule of the demo policy that denies `delete_customer`.
const DELETE_RULE: &str = "block-delete-customer";
/// The rule of the demo policy that allows the other tools.
const ALLOW_RULE: &str = "allow-support-tools";
/// JSON-RPC error code of a policy denial.
const DENIED_CODE: i64 = -32003;

/// A valid token for alice in group `support`.
fn alice_token() -> String {
    dev_token("alice", &["support"]).unwrap()
}

/// `tools/call` parameters for `tool` with `arguments` (a JSON object).
fn call(tool: &'static str, arguments: Value) -> CallToolRequestParams {
    let arguments: JsonObject = serde_json::from_value(arguments).unwrap();
    CallToolRequestParams::new(tool).with_arguments(arguments)
}

/// `delete_customer {customer_id: cus_001}`.
fn delete_alice() -> CallToolRequestParams {
    call("delete_customer", json!({"customer_id": "cus_001"}))
}

/// Connects to `url` as alice and makes an allowed call whose result is masked
/// (`search_customers {query: alice}`, checked free of her card number) and a denied one
/// ([`delete_alice`], checked to be a JSON-RPC error); returns the open client.
async fn masked_call_then_denied_call(url: &str) -> McpClient {
    let client = connect(url, Some(&alice_token())).await.unwrap();
    let found = client
        .call_tool(call("search_customers", json!({"query": "alice"})))
        .await
        .unwrap();
    assert!(!format!("{found:?}").contains(ALICE_PII[0]), "{found:?}");
    assert!(matches!(
        client.call_tool(delete_alice()).await,
        Err(ServiceError::McpError(_))
    ));
    client
}
