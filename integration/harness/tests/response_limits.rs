//! Responses Warden cannot inspect are refused, never passed through unmasked (fail closed): an encoded
//! body, a JSON body over the inspection limit, an SSE event over its limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use warden_harness::{
    audit_records, json_body, post_headers, send_request, tool_call, warden_host, DevSigner,
};

const CARD: &str = "4111 1111 1111 1111";

/// The demo policy with small response limits, so the tests stay fast.
fn limited_configuration() -> Vec<u8> {
    let mut config: Value =
        serde_json::from_slice(&warden_harness::demo_configuration().unwrap()).unwrap();
    config["limits"] = json!({"max_response_body_bytes": 4096, "max_sse_event_bytes": 2048});
    config.to_string().into_bytes()
}

fn allowed_stream(vm: &mut proxy_wasm_host::Vm) -> u32 {
    let token = DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap();
    let body = tool_call(1, "echo", json!({"text": "hi"})).to_string();
    let mut stream = vm.http_stream().unwrap();
    send_request(&mut stream, &post_headers(Some(&token)), &[body.as_bytes()]).unwrap();
    assert!(stream.local_response().is_none());
    stream.id()
}

fn big_result(bytes: usize) -> String {
    let text = format!("card {CARD} ").repeat(bytes / 25 + 1);
    json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": text}]}})
        .to_string()
}

#[test]
fn gzip_encoded_response_is_refused_with_502_not_passed_through() {
    let host = warden_host(&limited_configuration()).unwrap();
    let mut vm = host.start_vm().unwrap();
    let id = allowed_stream(&mut vm);
    let mut stream = vm.stream(id).unwrap();
    stream
        .response_headers(
            &[
                (":status", "200"),
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            false,
        )
        .unwrap();
    let local = stream.local_response().expect("a local reply");
    assert_eq!(local.status, 502);
    let body = json_body(&local.body).unwrap();
    assert!(
        body["error_description"].as_str().unwrap().contains("gzip"),
        "{body}"
    );
    assert_eq!(audit_records(&stream).unwrap()[0]["status"], 502);
}

#[test]
fn identity_encoded_response_is_inspected_as_usual() {
    let host = warden_host(&limited_configuration()).unwrap();
    let mut vm = host.start_vm().unwrap();
    let id = allowed_stream(&mut vm);
    let mut stream = vm.stream(id).unwrap();
    stream
        .response_headers(
            &[
                (":status", "200"),
                ("content-type", "application/json"),
                ("content-encoding", "identity"),
            ],
            false,
        )
        .unwrap();
    assert!(stream.local_response().is_none());
    stream
        .response_body(big_result(100).as_bytes(), true)
        .unwrap();
    let out = String::from_utf8(stream.response().forwarded).unwrap();
    assert!(
        !out.contains(CARD) && out.contains("[REDACTED:CREDIT_CARD]"),
        "{out}"
    );
}

#[test]
fn json_response_over_the_inspection_limit_is_withheld_as_a_jsonrpc_error() {
    let host = warden_host(&limited_configuration()).unwrap();
    let mut vm = host.start_vm().unwrap();
    let id = allowed_stream(&mut vm);
    let mut stream = vm.stream(id).unwrap();
    stream
        .response_headers(
            &[(":status", "200"), ("content-type", "application/json")],
            false,
        )
        .unwrap();
    let body = big_result(8192);
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    stream.response_body(first, false).unwrap();
    stream.response_body(rest, true).unwrap();
    let out = String::from_utf8(stream.response().forwarded).unwrap();
    assert!(!out.contains(CARD), "card leaked past the limit: {out}");
    let error: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(error["error"]["code"], -32603);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_response_body_bytes"),
        "{error}"
    );
}

#[test]
fn sse_event_over_its_limit_ends_the_stream_without_leaking_it() {
    let host = warden_host(&limited_configuration()).unwrap();
    let mut vm = host.start_vm().unwrap();
    let id = allowed_stream(&mut vm);
    let mut stream = vm.stream(id).unwrap();
    stream
        .response_headers(
            &[(":status", "200"), ("content-type", "text/event-stream")],
            false,
        )
        .unwrap();
    let small = format!("event: message\ndata: {}\n\n", big_result(50));
    let huge = format!("event: message\ndata: {}\n\n", big_result(4096));
    stream.response_body(small.as_bytes(), false).unwrap();
    stream.response_body(huge.as_bytes(), false).unwrap();
    stream.response_body(small.as_bytes(), true).unwrap();
    let out = String::from_utf8(stream.response().forwarded).unwrap();
    assert!(!out.contains(CARD), "card leaked: {out}");
    assert_eq!(
        out.matches("data: ").count(),
        1,
        "only the event before the oversized one is delivered: {out}"
    );
}
