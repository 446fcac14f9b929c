//! Audit filter state and Envoy stats through the release .wasm.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use warden_harness::{
    audit_records, demo, post_headers, send_request, send_response, tool_call, DevSigner, ISSUER,
};

fn token() -> String {
    DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap()
}

#[test]
fn allowed_call_leaves_one_audit_record_with_identity_decision_and_masking() {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let request = tool_call(11, "search_customers", json!({"query": "bob"}));
    send_request(
        &mut stream,
        &post_headers(Some(&token())),
        &[request.to_string().as_bytes()],
    )
    .unwrap();
    let result = json!({"jsonrpc": "2.0", "id": 11, "result": {"content": [{"type": "text", "text": "4111 1111 1111 1111 and 5500 0000 0000 0004"}]}});
    send_response(
        &mut stream,
        "application/json",
        &[result.to_string().as_bytes()],
    )
    .unwrap();
    stream.finish().unwrap();
    let records = audit_records(&stream).unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r["schema"], 1);
    assert!(r["time"].as_str().unwrap().ends_with('Z'), "{r}");
    assert_eq!(r["request_id"], "req-1");
    assert_eq!(r["session_id"], "session-1");
    assert_eq!(r["identity"]["iss"], ISSUER);
    assert_eq!(r["identity"]["sub"], "alice");
    assert_eq!(r["identity"]["groups"], json!(["support"]));
    assert_eq!(r["method"], "tools/call");
    assert_eq!(r["tool"], "search_customers");
    assert_eq!(r["jsonrpc_id"], 11);
    let digest = r["arguments_digest"].as_str().unwrap();
    assert!(
        digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
        "{digest}"
    );
    assert_eq!(r["decision"], "allow");
    assert_eq!(r["rule"], "allow-support-tools");
    assert_eq!(r["masked"], json!({"CREDIT_CARD": 2}));
    assert_eq!(r["status"], 200);
    assert_eq!(r["jsonrpc_error"], serde_json::Value::Null);
    assert_eq!(r["upstream"], "demo");
    assert!(r["bytes_in"].as_u64().unwrap() > 0 && r["bytes_out"].as_u64().unwrap() > 0);
}

#[test]
fn denied_call_is_audited_with_rule_and_jsonrpc_error() {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let request = tool_call(12, "delete_customer", json!({"id": "c-9"}));
    send_request(
        &mut stream,
        &post_headers(Some(&token())),
        &[request.to_string().as_bytes()],
    )
    .unwrap();
    stream.finish().unwrap();
    let records = audit_records(&stream).unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["decision"], "deny");
    assert_eq!(records[0]["rule"], "block-delete-customer");
    assert_eq!(records[0]["jsonrpc_error"]["code"], -32003);
}

#[test]
fn unauthenticated_request_is_audited_without_identity() {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    send_request(&mut stream, &post_headers(None), &[b"{}"]).unwrap();
    stream.finish().unwrap();
    let records = audit_records(&stream).unwrap();
    assert_eq!(records[0]["decision"], "unauthenticated");
    assert_eq!(records[0]["identity"], serde_json::Value::Null);
    assert_eq!(records[0]["status"], 401);
}

#[test]
fn metrics_count_requests_denials_masks_and_token_failures() {
    let (host, mut vm) = demo().unwrap();
    let token = token();
    let calls = [
        tool_call(1, "echo", json!({})),
        tool_call(2, "delete_customer", json!({})),
    ];
    for call in &calls {
        let mut stream = vm.http_stream().unwrap();
        send_request(
            &mut stream,
            &post_headers(Some(&token)),
            &[call.to_string().as_bytes()],
        )
        .unwrap();
        if stream.local_response().is_none() {
            let result = json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "mail bob@example.com"}]}});
            send_response(
                &mut stream,
                "application/json",
                &[result.to_string().as_bytes()],
            )
            .unwrap();
        }
        stream.finish().unwrap();
    }
    let mut stream = vm.http_stream().unwrap();
    send_request(&mut stream, &post_headers(None), &[b"{}"]).unwrap();
    stream.finish().unwrap();
    let value = |name: &str| host.metric(name).unwrap().map(|m| m.value);
    assert_eq!(value("warden.requests"), Some(3));
    assert_eq!(value("warden.denied"), Some(1));
    assert_eq!(value("warden.masked.EMAIL_ADDRESS"), Some(1));
    let failures: i64 = host
        .metrics()
        .unwrap()
        .iter()
        .filter(|m| m.name.starts_with("warden.jwt.failures."))
        .map(|m| m.value)
        .sum();
    assert_eq!(failures, 1, "{:?}", host.metrics().unwrap());
}
