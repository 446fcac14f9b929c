//! Response path through the release .wasm: masking JSON and SSE bodies, tools/list filtering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use warden_harness::{
    demo, json_body, post_headers, send_request, send_response, tool_call, DevSigner,
};

const CARD: &str = "4111 1111 1111 1111";
const SSN: &str = "536-22-8147";
const EMAIL: &str = "bob@example.com";

fn token() -> String {
    DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap()
}

fn sensitive_result(id: i64) -> Value {
    let text = format!("card {CARD}, ssn {SSN}, mail {EMAIL} ☕");
    json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": text}]}})
}

/// Runs an allowed request (`request`), then a response of `content_type` in `chunks`; returns what
/// the client receives.
fn exchange(request: &Value, content_type: &str, chunks: &[&[u8]]) -> Vec<u8> {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    send_request(
        &mut stream,
        &post_headers(Some(&token())),
        &[request.to_string().as_bytes()],
    )
    .unwrap();
    assert!(
        stream.local_response().is_none(),
        "request refused: {:?}",
        stream.local_response()
    );
    send_response(&mut stream, content_type, chunks).unwrap()
}

fn assert_masked(out: &str) {
    for secret in [CARD, SSN, EMAIL] {
        assert!(!out.contains(secret), "{secret} leaked: {out}");
    }
    for marker in [
        "[REDACTED:CREDIT_CARD]",
        "[REDACTED:US_SSN]",
        "[REDACTED:EMAIL_ADDRESS]",
    ] {
        assert!(out.contains(marker), "{marker} missing: {out}");
    }
    assert!(out.contains('☕'), "non-ASCII text damaged: {out}");
}

fn sse_event(message: &Value) -> Vec<u8> {
    format!("event: message\ndata: {message}\n\n").into_bytes()
}

#[test]
fn json_response_is_masked() {
    let request = tool_call(1, "search_customers", json!({"query": "bob"}));
    let body = sensitive_result(1).to_string();
    let out = exchange(&request, "application/json", &[body.as_bytes()]);
    let parsed = json_body(&out).unwrap();
    assert_eq!(parsed["id"], 1);
    assert_masked(parsed["result"]["content"][0]["text"].as_str().unwrap());
}

#[test]
fn sse_response_is_masked() {
    let request = tool_call(2, "search_customers", json!({"query": "bob"}));
    let out = exchange(
        &request,
        "text/event-stream",
        &[&sse_event(&sensitive_result(2))],
    );
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("event: message\n"), "{out}");
    assert_masked(&out);
}

#[test]
fn sse_response_split_at_every_byte_offset_matches_the_unsplit_output() {
    let request = tool_call(3, "search_customers", json!({"query": "bob"}));
    let stream: Vec<u8> = [sse_event(&sensitive_result(3)), sse_event(&json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"note": EMAIL}}))].concat();
    let whole = exchange(&request, "text/event-stream", &[&stream]);
    assert_masked(&String::from_utf8(whole.clone()).unwrap());
    for at in 1..stream.len() {
        let split = exchange(
            &request,
            "text/event-stream",
            &[&stream[..at], &stream[at..]],
        );
        assert_eq!(
            String::from_utf8_lossy(&split),
            String::from_utf8_lossy(&whole),
            "split at byte {at}"
        );
    }
}

#[test]
fn utf8_character_split_across_sse_chunks_is_reassembled() {
    let request = tool_call(4, "echo", json!({"text": "coffee"}));
    let event = sse_event(
        &json!({"jsonrpc": "2.0", "id": 4, "result": {"content": [{"type": "text", "text": "☕ café"}]}}),
    );
    let cup = event.windows(3).position(|w| w == "☕".as_bytes()).unwrap();
    let whole = exchange(&request, "text/event-stream", &[&event]);
    let split = exchange(
        &request,
        "text/event-stream",
        &[&event[..cup + 1], &event[cup + 1..]],
    );
    assert_eq!(split, whole);
    assert!(String::from_utf8(split).unwrap().contains("☕ café"));
}

#[test]
fn tools_list_response_drops_tools_the_caller_may_not_call() {
    let request = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"});
    let tool =
        |name: &str| json!({"name": name, "description": "d", "inputSchema": {"type": "object"}});
    let names = [
        "search_customers",
        "delete_customer",
        "get_invoice",
        "echo",
        "drop_database",
    ];
    let listing = json!({"jsonrpc": "2.0", "id": 5, "result": {"tools": names.map(tool)}});
    let out = exchange(
        &request,
        "application/json",
        &[listing.to_string().as_bytes()],
    );
    let parsed = json_body(&out).unwrap();
    let kept: Vec<&str> = parsed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(kept, ["search_customers", "get_invoice", "echo"]);
}
