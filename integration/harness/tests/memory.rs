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

/// Every request with a token the VM has not seen (agents refreshing short-lived tokens make the token
/// cache fill up in the steady state): once the cache is full (4,096 tokens) it evicts one entry per new
/// token, and linear memory stays within the 8 MiB budget and flat.
#[test]
fn a_full_token_cache_keeps_linear_memory_bounded() {
    let (_host, mut vm) = demo().unwrap();
    let signer = DevSigner::load().unwrap();
    // `warden_core::exchange::TOKEN_CACHE_CAPACITY`, the tokens one VM caches.
    let capacity = 4_096;
    let mut full = 0;
    for n in 0..capacity + 600 {
        let token = signer
            .token(&format!("user-{n:05}@example.com"), &["support"])
            .unwrap();
        one_request(&mut vm, &post_headers(Some(&token)), n as i64);
        if n == capacity + 100 {
            full = vm.memory_size().unwrap();
        }
    }
    let after = vm.memory_size().unwrap();
    eprintln!("linear memory: {full} bytes with the cache full, {after} after 500 more new tokens");
    assert!(
        after <= 8 << 20,
        "{after} bytes of linear memory exceed 8 MiB"
    );
    assert!(
        after <= full + (256 << 10),
        "memory grew from {full} to {after} bytes while the full cache evicted"
    );
}
