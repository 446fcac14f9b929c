//! End-to-end: approvers are real people from the real identity provider. A real `oidc-provider`
//! (with the inbox's client registered), a real `warden serve` whose inbox signs approvers in through
//! it (authorization code + PKCE, discovery, the provider's remote JWKS), a real Envoy with the filter
//! holding the agent's call, and the demo MCP server. The approver walks the provider's login and
//! consent pages, approves in the inbox, and the held call reaches the server; the provider's
//! MCP-audience token is refused as an approver.
//!
//! Needs what `tests/approvals.rs` needs plus `npm ci` in `integration/oidc-provider`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{json, Value};
use tempfile::TempDir;
use warden_e2e::approvals::{approvals_plugin_config, approvals_template, ApprovalService};
use warden_e2e::browser::Browser;
use warden_e2e::oidc::{OidcProvider, INBOX_CLIENT_ID, INBOX_CLIENT_SECRET};
use warden_e2e::stack::{launch_envoy, DemoServer};
use warden_testkit::process::free_port;
use warden_testkit::tokens::dev_token;

/// The demo approvals policy plus the provider as an issuer (keys fetched with `remote_jwks`; the
/// filter's cluster is not needed: only `warden serve` verifies this issuer's tokens here) and the
/// inbox signing in through it.
fn config(
    provider: &OidcProvider,
    resource: &str,
    redirect: &str,
    secret_file: &std::path::Path,
) -> Value {
    let mut config = approvals_plugin_config().unwrap();
    let rule = config["policy"]["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == "approve-delete-customer")
        .unwrap();
    rule["approval"]["hold_seconds"] = json!(60);
    config["issuers"].as_array_mut().unwrap().push(json!({
        "issuer": provider.issuer(),
        "audiences": [resource],
        "remote_jwks": {"cluster": "oidc_provider", "unknown_kid_min_interval_seconds": 1, "timeout_ms": 2000},
        "algorithms": ["ES256"],
    }));
    config["approvers"]["inbox"] = json!({
        "issuer": provider.issuer(),
        "client_id": INBOX_CLIENT_ID,
        "client_secret_file": secret_file,
        "redirect_url": redirect,
        "scopes": ["openid", "email", "groups"],
    });
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_signs_in_through_the_provider_and_releases_the_held_call() {
    let dir = TempDir::with_prefix("warden-e2e-approver-sign-in-").unwrap();
    let serve_port = free_port().unwrap();
    let inbox = format!("http://127.0.0.1:{serve_port}");
    let redirect = format!("{inbox}/inbox/callback");
    let resource = "http://127.0.0.1/mcp".to_owned();
    let provider = OidcProvider::start_with_inbox(dir.path(), &resource, &redirect).unwrap();
    let secret = dir.path().join("inbox-secret");
    std::fs::write(&secret, INBOX_CLIENT_SECRET).unwrap();
    let config = config(&provider, &resource, &redirect, &secret);
    let demo = DemoServer::start(dir.path()).unwrap();
    let service = ApprovalService::start(dir.path(), &config, serve_port, None).unwrap();
    let envoy = launch_envoy(
        dir.path(),
        // The filter's cluster points at the service's internal listener (shared secret).
        &approvals_template(service.internal_port()).unwrap(),
        &config,
        demo.port(),
        1,
    )
    .await
    .unwrap();

    // The provider's MCP-audience token (client_credentials, aud = the MCP resource) is no
    // approver token.
    let mcp_token = provider.token().await.unwrap();
    let refused = reqwest::Client::new()
        .get(service.url("/v1/approvals"))
        .bearer_auth(&mcp_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("audience"),
        "{body}"
    );

    // Alice's agent calls delete_customer through Envoy: held for approval.
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "delete_customer", "arguments": {"customer_id": "cus_042"}}});
    let alice = dev_token("alice", &["support"]).unwrap();
    let url = format!("http://127.0.0.1:{}/mcp-json", envoy.listen_port);
    let held = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(alice)
            .header("accept", "application/json, text/event-stream")
            .json(&call)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    });

    // Bob signs in to the inbox through the provider's login and consent pages.
    let mut browser = Browser::new().unwrap();
    let landed = browser
        .sign_in(&format!("{inbox}/inbox/login"), &inbox, "bob")
        .await
        .unwrap_or_else(|e| panic!("{e:#}\nprovider log:\n{}", provider.log_text()));
    assert_eq!(landed.status(), 200, "{}", landed.text().await.unwrap());
    let log = provider.log_text();
    assert!(
        log.contains("GET /.well-known/openid-configuration"),
        "{log}"
    );
    assert!(log.contains("POST /token"), "{log}");

    // The held call appears with its clear arguments; bob approves it with the form's CSRF token.
    let mut page = String::new();
    for _ in 0..100 {
        page = browser
            .get(&format!("{inbox}/inbox"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("data-approval-id") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(page.contains("bob@example.com"), "{page}");
    assert!(page.contains("cus_042"), "clear arguments: {page}");
    let id = page
        .split("data-approval-id=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let approved = browser
        .post_form(
            &format!("{inbox}/inbox/{id}/approve"),
            &inbox,
            format!("csrf={csrf}"),
        )
        .await
        .unwrap();
    assert_eq!(approved.status(), 303);

    let answer = tokio::time::timeout(Duration::from_secs(30), held)
        .await
        .expect("the held call was not released")
        .unwrap();
    assert!(answer["result"].is_object(), "{answer}");
    assert_eq!(demo.calls_to("delete_customer").await.unwrap().len(), 1);
    let record: Value = reqwest::Client::new()
        .get(service.url(&format!("/v1/approvals/{id}")))
        .bearer_auth(warden_testkit::tokens::approver_token("carol", &["approvers"]).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(record["approvers"], json!(["bob"]), "{record}");
    drop(envoy);
}
