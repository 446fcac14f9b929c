//! The three renderings of a masked value (`redact`, `partial`, `hash`; `docs/detectors.md`), one
//! Envoy each: the demo policy with a default profile rendering every detector one way, and
//! `search_customers` answered through Envoy. The clear values never arrive.

use rmcp::model::CallToolResult;
use serde_json::{json, Value};
use warden_e2e::approvals::{MASK_HASH_KEY, MASK_HASH_KEY_ENV};
use warden_e2e::mcp::{connect, Endpoint};
use warden_e2e::stack::{demo_plugin_config, Stack};

use crate::{alice_token, call, ALL_PII};

/// The demo policy whose default profile runs the three demo detectors rendered `render`.
fn rendering(render: Value) -> Value {
    let mut config = demo_plugin_config().unwrap();
    config["masking"] = json!({
        "profiles": {"rendered": {
            "detectors": ["CREDIT_CARD", "US_SSN", "EMAIL_ADDRESS"],
            "render": render,
        }},
        "default_profile": "rendered",
        "hash_key_env": MASK_HASH_KEY_ENV,
    });
    config
}

/// `search_customers` for everyone through Envoy (JSON endpoint): the text content.
async fn search_everyone(stack: &Stack) -> String {
    let client = connect(
        &stack.envoy.url(Endpoint::Json.path()),
        Some(&alice_token()),
    )
    .await
    .unwrap();
    let result: CallToolResult = client
        .call_tool(call("search_customers", json!({"query": ""})))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let text = serde_json::to_string(&result).unwrap();
    for value in ALL_PII {
        assert!(!text.contains(value), "{value} in clear: {text}");
    }
    text
}

#[tokio::test]
async fn redact_replaces_each_value_by_its_detector_name() {
    let stack = Stack::start_with(&rendering(json!({"mode": "redact"})))
        .await
        .unwrap();
    let text = search_everyone(&stack).await;
    for marker in [
        "[REDACTED:CREDIT_CARD]",
        "[REDACTED:US_SSN]",
        "[REDACTED:EMAIL_ADDRESS]",
    ] {
        assert!(text.contains(marker), "{marker} missing: {text}");
    }
}

#[tokio::test]
async fn partial_keeps_the_last_characters_and_the_email_domain() {
    let stack = Stack::start_with(&rendering(json!({"mode": "partial", "keep": 4})))
        .await
        .unwrap();
    let text = search_everyone(&stack).await;
    for shown in [
        "[REDACTED:CREDIT_CARD]1111",
        "[REDACTED:CREDIT_CARD]4444",
        "[REDACTED:US_SSN]6789",
        "[REDACTED:EMAIL_ADDRESS]@example.com",
        "[REDACTED:EMAIL_ADDRESS]@example.org",
    ] {
        assert!(text.contains(shown), "{shown} missing: {text}");
    }
}

/// `[HASH:<NAME>:<8 hex>]` as `docs/detectors.md` defines it, computed here independently.
fn expected_hash(name: &str, normalized: &str) -> String {
    let mut message = name.as_bytes().to_vec();
    message.push(0);
    message.extend_from_slice(normalized.as_bytes());
    let mac = hmac_sha256::HMAC::mac(&message, MASK_HASH_KEY.as_bytes());
    let hex: String = mac[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("[HASH:{name}:{hex}]")
}

#[tokio::test]
async fn hash_renders_the_keyed_hmac_so_equal_values_correlate() {
    let stack = Stack::start_with(&rendering(json!({"mode": "hash"})))
        .await
        .unwrap();
    let text = search_everyone(&stack).await;
    // Alice's card is written "4111 1111 1111 1111" upstream: separators are dropped before hashing.
    for expected in [
        expected_hash("CREDIT_CARD", "4111111111111111"),
        expected_hash("US_SSN", "123456789"),
        expected_hash("EMAIL_ADDRESS", "alice.johnson@example.com"),
    ] {
        assert!(text.contains(&expected), "{expected} missing: {text}");
        // The text content and structuredContent both carry the record: the same value, the same hash.
        assert!(text.matches(&expected).count() >= 2, "{expected}: {text}");
    }
    assert!(!text.contains("[REDACTED:"), "{text}");
}
