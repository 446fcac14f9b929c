//! Linear memory stays bounded over many requests on one VM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proxy_wasm_host::Vm;
use serde_json::json;
use warden_harness::{demo, post_headers, send_request, send_response, tool_call, DevSigner};

fn one_request(vm: &mut Vm, headers: &[(String, String)], n: i64) {
    let mut stream = vm.http_stream().unwrap();
    let request = tool_call(
        n,
        "search_customers",
        json!({"query": format!("customer {n}")}),
    );
    send_request(&mut stream, headers, &[request.to_string().as_bytes()]).unwrap();
    assert!(stream.local_response().is_none(), "request {n} refused");
    let result = json!({"jsonrpc": "2.0", "id": n, "result": {"content": [{"type": "text", "text": format!("card 4111 1111 1111 1111 #{n}")}]}});
    send_response(
        &mut stream,
        "application/json",
        &[result.to_string().as_bytes()],
    )
    .unwrap();
    stream.finish().unwrap();
    let id = stream.id();
    vm.drop_stream(id);
}

#[test]
fn ten_thousand_requests_leave_linear_memory_bounded() {
    let (_host, mut vm) = demo().unwrap();
    let headers = post_headers(Some(
        &DevSigner::load()
            .unwrap()
            .token("alice", &["support"])
            .unwrap(),
    ));
    let before = vm.memory_size().unwrap();
    for n in 0..100 {
        one_request(&mut vm, &headers, n);
    }
    let warmed = vm.memory_size().unwrap();
    for n in 100..10_000 {
        one_request(&mut vm, &headers, n);
    }
    let after = vm.memory_size().unwrap();
    eprintln!(
        "linear memory: {before} bytes at start, {warmed} after 100 requests, {after} after 10,000"
    );
    assert!(
        after <= warmed + (1 << 20),
        "memory grew from {warmed} to {after} bytes over 9,900 requests"
    );
}
