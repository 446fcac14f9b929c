//! Requests without a valid bearer token are answered 401 by Warden and never reach the server.

use serde_json::{json, Value};
use warden_e2e::{
    mcp::Endpoint,
    stack::{demo_plugin_config, Stack},
};
use warden_testkit::tokens::{
    expired_dev_token, token_signed_by_unknown_key, with_tampered_signature,
};

use crate::alice_token;

/// POSTs an `initialize` with `token` (none: no `Authorization` header) and checks the 401 answer:
/// a `WWW-Authenticate: Bearer` challenge, a JSON body whose `error` is `expected_error`, nothing upstream.
/// The challenge carries `error="<expected_error>"` when a token was sent; without credentials it carries
/// no error code (RFC 6750 §3.1).
async fn assert_rejected_with_401(token: Option<String>, expected_error: &str) {
    let sent_credentials = token.is_some();
    let stack = Stack::start().await.unwrap();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "e2e", "version": "1"}}});
    let mut request = reqwest::Client::new()
        .post(stack.envoy.url(Endpoint::Sse.path()))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();

    assert_eq!(response.status(), 401);
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        challenge.to_ascii_lowercase().starts_with("bearer"),
        "WWW-Authenticate is {challenge:?}"
    );
    if sent_credentials {
        assert!(
            challenge.contains(&format!("error=\"{expected_error}\"")),
            "WWW-Authenticate is {challenge:?}"
        );
    } else {
        assert!(
            !challenge.contains("error="),
            "RFC 6750 §3.1: no error code without credentials; WWW-Authenticate is {challenge:?}"
        );
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], expected_error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");

    let received = stack.demo.received().await.unwrap();
    assert!(received.is_empty(), "the server received {received:?}");
}

#[tokio::test]
async fn request_without_token_gets_401_and_nothing_reaches_upstream() {
    assert_rejected_with_401(None, "invalid_request").await;
}

#[tokio::test]
async fn expired_token_gets_401_and_nothing_reaches_upstream() {
    assert_rejected_with_401(Some(expired_dev_token("alice").unwrap()), "invalid_token").await;
}

#[tokio::test]
async fn token_with_tampered_signature_gets_401_and_nothing_reaches_upstream() {
    let forged = with_tampered_signature(&alice_token()).unwrap();
    assert_rejected_with_401(Some(forged), "invalid_token").await;
}

#[tokio::test]
async fn token_signed_by_unknown_key_gets_401_and_nothing_reaches_upstream() {
    let forged = token_signed_by_unknown_key(&demo_plugin_config().unwrap(), "alice").unwrap();
    assert_rejected_with_401(Some(forged), "invalid_token").await;
}
