//! Step-up authorization through the release .wasm: a rule's `required_scopes` the token lacks gets
//! HTTP 403 `insufficient_scope` with a challenge naming them (RFC 6750 §3.1, MCP authorization).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use warden_harness::{
    audit_records, demo_configuration, json_body, post_headers, send_request, tool_call,
    warden_host, DevSigner,
};

/// The demo policy with `required_scopes: ["mcp:tools"]` on the support-tools rule, and RFC 9728
/// metadata so the challenge can point at it.
fn step_up_configuration() -> Vec<u8> {
    let mut config: Value = serde_json::from_slice(&demo_configuration().unwrap()).unwrap();
    config["resource_metadata"] = json!({
        "resource": "https://mcp.example.com/mcp",
        "authorization_servers": ["https://dev-issuer.warden.local"]
    });
    let rules = config["policy"]["rules"].as_array_mut().unwrap();
    let support = rules
        .iter_mut()
        .find(|r| r["id"] == "allow-support-tools")
        .expect("the demo policy has allow-support-tools");
    support["required_scopes"] = json!(["mcp:tools"]);
    config.to_string().into_bytes()
}

#[test]
fn call_without_a_required_scope_gets_403_insufficient_scope_and_is_not_forwarded() {
    let host = warden_host(&step_up_configuration()).unwrap();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let token = DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap();
    let body = tool_call(1, "echo", json!({"text": "hi"})).to_string();
    send_request(&mut stream, &post_headers(Some(&token)), &[body.as_bytes()]).unwrap();

    let local = stream.local_response().expect("a local 403");
    assert_eq!(local.status, 403);
    let challenge = local
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, v)| v.clone())
        .expect("a WWW-Authenticate challenge");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"mcp:tools\""), "{challenge}");
    assert!(challenge.contains("resource_metadata=\""), "{challenge}");
    assert_eq!(
        json_body(&local.body).unwrap()["error"],
        "insufficient_scope"
    );
    assert!(
        !stream.request().headers_released,
        "nothing may reach the upstream"
    );

    let records = audit_records(&stream).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["decision"], "deny");
    assert_eq!(records[0]["rule"], "allow-support-tools");
    assert_eq!(records[0]["status"], 403);
}

#[test]
fn call_with_the_required_scope_is_forwarded() {
    let host = warden_host(&step_up_configuration()).unwrap();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let token = DevSigner::load()
        .unwrap()
        .token_with_scope("alice", &["support"], "mcp:tools")
        .unwrap();
    let body = tool_call(1, "echo", json!({"text": "hi"})).to_string();
    send_request(&mut stream, &post_headers(Some(&token)), &[body.as_bytes()]).unwrap();
    assert!(stream.local_response().is_none());
    assert!(stream.request().headers_released);
}
