//! End-to-end with a real OpenID provider (`oidc-provider` on 127.0.0.1, started per test): Warden
//! discovers the provider's JWKS through an Envoy cluster, accepts its client_credentials tokens,
//! keeps accepting them across a signing-key rotation, and speaks the MCP authorization spec (RFC 9728
//! metadata, `WWW-Authenticate: Bearer resource_metadata=…`).
//!
//! Needs what `tests/e2e` needs plus `npm ci` in `integration/oidc-provider` (`just setup` does it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use rmcp::model::{CallToolRequestParams, JsonObject};
use serde_json::{json, Value};
use warden_e2e::mcp::connect;
use warden_e2e::oidc::{token_kid, OidcStack};
use warden_testkit::process::poll_until;

/// A `tools/call` of the demo server's `echo` tool, which the demo policy allows.
fn echo_call(id: u64) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "echo", "arguments": {"text": "hello"}}})
    .to_string()
}

/// POSTs one JSON-RPC message to `/mcp-json` with `token`; returns the status and the body.
async fn post(stack: &OidcStack, token: &str, body: String) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(stack.url("/mcp-json"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Polls until a request with `token` is forwarded (200). Until the key set is loaded Warden answers
/// 503; until a rotated key is fetched, 401 `unknown_key`: anything else fails at once.
async fn wait_until_accepted(stack: &OidcStack, token: &str, allowed_meanwhile: u16) {
    let mut id = 0;
    poll_until(
        "the provider's token to be accepted",
        Duration::from_secs(20),
        || {
            id += 1;
            let body = echo_call(id);
            async move {
                let (status, text) = post(stack, token, body).await;
                match status {
                    200 => Ok(Some(())),
                    s if s == allowed_meanwhile => Ok(None),
                    other => anyhow::bail!("unexpected {other}: {text}"),
                }
            }
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn accepts_tokens_of_a_real_openid_provider_after_discovering_its_keys_through_envoy() {
    let stack = OidcStack::start().await.unwrap();
    let token = stack.provider.token().await.unwrap();
    wait_until_accepted(&stack, &token, 503).await;

    // The official MCP client works with the provider's token, and the call reaches the server.
    let client = connect(&stack.url("/mcp"), Some(&token)).await.unwrap();
    let arguments: JsonObject = serde_json::from_value(json!({"text": "via oidc"})).unwrap();
    let result = client
        .call_tool(CallToolRequestParams::new("echo").with_arguments(arguments))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    assert!(!stack.demo.calls_to("echo").await.unwrap().is_empty());
    client.cancel().await.unwrap();

    // Discovery, then the JWKS, both through the cluster; one successful load.
    let log = stack.provider.log_text();
    assert!(
        log.contains("GET /.well-known/openid-configuration"),
        "{log}"
    );
    assert!(log.contains("GET /jwks"), "{log}");
    assert!(stack.stat("warden.jwks.loaded").await.unwrap() >= 1);
    assert_eq!(stack.stat("warden.jwks.failures").await.unwrap(), 0);
}

#[tokio::test]
async fn keeps_accepting_tokens_across_a_signing_key_rotation_at_the_provider() {
    let stack = OidcStack::start().await.unwrap();
    let before = stack.provider.token().await.unwrap();
    wait_until_accepted(&stack, &before, 503).await;

    let new_kid = stack.provider.rotate().await.unwrap();
    let after = stack.provider.token().await.unwrap();
    assert_eq!(token_kid(&after).unwrap(), new_kid);
    assert_ne!(token_kid(&before).unwrap(), new_kid);

    // The new kid is unknown to the loaded set: the first tries are refused (401) and trigger a
    // rate-limited refresh, after which the token is accepted; no waiting for the 300 s schedule.
    wait_until_accepted(&stack, &after, 401).await;
    assert!(stack.stat("warden.jwks.fetches.unknown_kid").await.unwrap() >= 1);
    assert!(stack.stat("warden.jwt.failures.unknown_key").await.unwrap() >= 1);
    // The previous key is still published, so tokens signed before the rotation keep working.
    assert_eq!(post(&stack, &before, echo_call(99)).await.0, 200);
}

#[tokio::test]
async fn serves_rfc_9728_metadata_and_names_it_in_401_challenges() {
    let stack = OidcStack::start().await.unwrap();
    let metadata: Value = reqwest::get(stack.url("/.well-known/oauth-protected-resource/mcp"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["resource"], stack.resource);
    assert_eq!(
        metadata["authorization_servers"],
        json!([stack.provider.issuer()])
    );
    assert_eq!(metadata["scopes_supported"], json!(["mcp:tools"]));
    let unknown = reqwest::get(stack.url("/.well-known/oauth-protected-resource/other"))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let response = reqwest::Client::new()
        .post(stack.url("/mcp-json"))
        .header("content-type", "application/json")
        .body(echo_call(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"mcp:tools\"",
            stack.url("/.well-known/oauth-protected-resource/mcp")
        )
    );
    // The demo server saw none of it.
    assert!(stack.demo.received().await.unwrap().is_empty());
}
