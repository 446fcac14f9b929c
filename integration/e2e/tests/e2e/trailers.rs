//! A real Envoy in front of an HTTP/1 upstream that ends its JSON tool result with trailers: Envoy then
//! never ends the body in a body callback, and Warden must mask the buffered body in the trailers callback
//! before Envoy releases it.

use serde_json::json;
use tempfile::TempDir;
use warden_e2e::express::ExpressUpstream;
use warden_e2e::stack::{demo_plugin_config, Envoy};

use crate::alice_token;

#[tokio::test]
async fn a_json_result_ending_in_trailers_is_masked_before_envoy_releases_it() {
    let dir = TempDir::with_prefix("warden-e2e-trailers-").unwrap();
    let express = ExpressUpstream::start(dir.path()).unwrap();
    let envoy = Envoy::start(dir.path(), &demo_plugin_config().unwrap(), express.port())
        .await
        .unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "search_customers", "arguments": {"query": "jane"}}});
    let response = reqwest::Client::new()
        .post(envoy.url("/mcp-trailers"))
        .bearer_auth(alice_token())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(call.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for clear in ["jane@example.com", "4111 1111 1111 1111"] {
        assert!(
            !text.contains(clear),
            "{clear} left Warden in clear: {text}"
        );
    }
    assert!(text.contains("[REDACTED:EMAIL_ADDRESS]"), "{text}");
    assert!(text.contains("[REDACTED:CREDIT_CARD]"), "{text}");
}
