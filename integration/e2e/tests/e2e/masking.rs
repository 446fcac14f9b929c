//! Tool output crossing Warden is masked, on SSE and JSON responses alike.

use serde_json::json;
use warden_e2e::{
    mcp::{connect, Endpoint},
    stack::Stack,
};

use crate::{alice_token, call, ALL_PII};

async fn search_customers_output_is_masked_through_envoy(endpoint: Endpoint) {
    let stack = Stack::start().await.unwrap();
    let search_everyone = || call("search_customers", json!({"query": ""}));

    // The upstream really does return the values in clear (so their absence below means something).
    let direct = connect(&stack.demo.url(endpoint.path()), None)
        .await
        .unwrap();
    let raw = serde_json::to_string(&direct.call_tool(search_everyone()).await.unwrap()).unwrap();
    for value in ALL_PII {
        assert!(
            raw.contains(value),
            "demo server no longer returns {value}: {raw}"
        );
    }
    direct.cancel().await.unwrap();

    let token = alice_token();
    let client = connect(&stack.envoy.url(endpoint.path()), Some(&token))
        .await
        .unwrap();
    let result = client.call_tool(search_everyone()).await.unwrap();
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    let structured = serde_json::to_string(
        result
            .structured_content
            .as_ref()
            .expect("structuredContent survives masking"),
    )
    .unwrap();

    for (part, body) in [("text content", &text), ("structuredContent", &structured)] {
        for value in ALL_PII {
            assert!(!body.contains(value), "{value} in clear in {part}: {body}");
        }
        for marker in [
            "[REDACTED:CREDIT_CARD]",
            "[REDACTED:US_SSN]",
            "[REDACTED:EMAIL_ADDRESS]",
        ] {
            assert!(
                body.contains(marker),
                "{marker} missing from {part}: {body}"
            );
        }
        // Masking replaces the sensitive values only.
        assert!(
            body.contains("Alice Johnson"),
            "{part} lost the names: {body}"
        );
    }
    assert_eq!(
        stack.demo.calls_to("search_customers").await.unwrap().len(),
        2,
        "the direct call and the proxied call both reach the server"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn search_customers_output_is_masked_on_sse_endpoint() {
    search_customers_output_is_masked_through_envoy(Endpoint::Sse).await;
}

#[tokio::test]
async fn search_customers_output_is_masked_on_json_endpoint() {
    search_customers_output_is_masked_through_envoy(Endpoint::Json).await;
}
