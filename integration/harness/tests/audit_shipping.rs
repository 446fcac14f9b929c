//! Shipping audit records to the audit store through the release .wasm: the shared queue, batches on
//! the flush interval or when full, holding while the store is down, dropping beyond the bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use proxy_wasm_host::{Host, HostConfig, HttpCallResponse, Vm};
use serde_json::{json, Value};
use warden_harness::{
    audit_records, demo_configuration, post_headers, send_request, send_response, tool_call,
    warden_module, DevSigner, ROOT_ID,
};

const STORE: &str = "warden_serve";
/// The internal API secret, in the VM environment variable named by `audit.credential_env`.
const SECRET: &str = "harness-audit-secret-0123456789";

/// The demo configuration with an `audit` block: batches of 2, every second, at most 3 held.
fn configuration() -> Vec<u8> {
    let mut config: Value = serde_json::from_slice(&demo_configuration().unwrap()).unwrap();
    config["audit"] = json!({
        "store_cluster": STORE, "authority": "warden-serve", "batch_size": 2,
        "flush_interval_ms": 1000, "max_pending": 3, "credential_env": "AUDIT_SECRET"
    });
    serde_json::to_vec(&config).unwrap()
}

/// One allowed tool call, request id `req-<n>`, run to the end of its stream (one record).
fn call(vm: &mut Vm, n: i64) {
    let token = DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap();
    let mut headers = post_headers(Some(&token));
    for (name, value) in &mut headers {
        if name == "x-request-id" {
            *value = format!("req-{n}");
        }
    }
    let mut stream = vm.http_stream().unwrap();
    let request = tool_call(n, "search_customers", json!({"query": "bob"}));
    send_request(&mut stream, &headers, &[request.to_string().as_bytes()]).unwrap();
    let result = json!({"jsonrpc": "2.0", "id": n, "result": {"content": []}});
    send_response(
        &mut stream,
        "application/json",
        &[result.to_string().as_bytes()],
    )
    .unwrap();
    stream.finish().unwrap();
}

/// The `x-request-id`s of a batch body's records (JSON Lines): which exchanges were shipped (record ids
/// are random, see `evidence.rs`).
fn request_ids(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["request_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn ok() -> HttpCallResponse {
    HttpCallResponse {
        headers: vec![(":status".into(), "200".into())],
        body: br#"{"received":2,"stored":2,"duplicates":0,"rejected":[]}"#.to_vec(),
        trailers: vec![],
    }
}

fn metric(host: &Host, name: &str) -> i64 {
    host.metric(name).unwrap().map_or(0, |m| m.value)
}

fn start() -> (Host, Vm) {
    let config = HostConfig::default()
        .with_root_id(ROOT_ID)
        .with_plugin_configuration(&configuration())
        .with_clusters(&[STORE])
        .with_env("AUDIT_SECRET", SECRET);
    let host = Host::new(&warden_module().unwrap(), config).unwrap();
    let vm = host.start_vm().unwrap();
    (host, vm)
}

#[test]
fn full_batch_is_sent_at_once_and_a_partial_one_after_the_flush_interval() {
    let (host, mut vm) = start();
    assert!(vm.tick_period().unwrap() <= Duration::from_secs(1));
    call(&mut vm, 1);
    vm.deliver_queue_ready().unwrap();
    assert!(
        vm.pending_http_calls().is_empty(),
        "one record waits for the interval"
    );
    call(&mut vm, 2);
    vm.deliver_queue_ready().unwrap();
    let pending = vm.pending_http_calls();
    assert_eq!(pending.len(), 1, "a full batch goes at once");
    let batch = pending[0];
    assert_eq!(batch.upstream, STORE);
    let header = |name: &str| {
        batch
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header(":path").as_deref(), Some("/v1/audit"));
    assert_eq!(header(":method").as_deref(), Some("POST"));
    assert_eq!(header(":authority").as_deref(), Some("warden-serve"));
    assert_eq!(header("x-warden-internal-secret").as_deref(), Some(SECRET));
    assert_eq!(request_ids(&batch.body), ["req-1", "req-2"]);
    let token = batch.token;
    vm.respond_http_call(token, ok()).unwrap();
    assert_eq!(metric(&host, "warden.audit.shipped"), 2);

    call(&mut vm, 3);
    vm.deliver_queue_ready().unwrap();
    assert!(vm.pending_http_calls().is_empty());
    vm.advance(Duration::from_millis(1100)).unwrap();
    let pending = vm.pending_http_calls();
    assert_eq!(pending.len(), 1, "the interval flushes a partial batch");
    assert_eq!(request_ids(&pending[0].body), ["req-3"]);
}

#[test]
fn records_are_held_while_the_store_is_down_then_the_oldest_dropped_and_counted() {
    let (host, mut vm) = start();
    call(&mut vm, 1);
    call(&mut vm, 2);
    vm.deliver_queue_ready().unwrap();
    let token = vm.pending_http_calls()[0].token;
    vm.fail_http_call(token).unwrap();
    assert_eq!(
        metric(&host, "warden.audit.dropped"),
        0,
        "held, not dropped"
    );
    call(&mut vm, 3);
    call(&mut vm, 4);
    vm.deliver_queue_ready().unwrap();
    assert!(
        vm.pending_http_calls().is_empty(),
        "no retry before the interval"
    );
    assert_eq!(
        metric(&host, "warden.audit.dropped"),
        1,
        "max_pending 3: the oldest, req-1, is dropped"
    );
    assert!(
        vm.logs()
            .iter()
            .any(|l| l.message.contains("audit record(s) dropped")),
        "the drop is logged"
    );
    vm.advance(Duration::from_millis(1100)).unwrap();
    let pending = vm.pending_http_calls();
    assert_eq!(
        request_ids(&pending[0].body),
        ["req-2", "req-3"],
        "the held records are retried oldest first"
    );
    let token = pending[0].token;
    vm.respond_http_call(token, ok()).unwrap();
    vm.advance(Duration::from_millis(1100)).unwrap();
    let pending = vm.pending_http_calls();
    assert_eq!(request_ids(&pending[0].body), ["req-4"]);
    let token = pending[0].token;
    vm.respond_http_call(token, ok()).unwrap();
    assert_eq!(metric(&host, "warden.audit.shipped"), 3);
}

#[test]
fn access_log_filter_state_is_written_whatever_the_store_does() {
    let (_host, mut vm) = start();
    let token = DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap();
    let mut stream = vm.http_stream().unwrap();
    let request = tool_call(7, "search_customers", json!({}));
    send_request(
        &mut stream,
        &post_headers(Some(&token)),
        &[request.to_string().as_bytes()],
    )
    .unwrap();
    send_response(
        &mut stream,
        "application/json",
        &[br#"{"jsonrpc":"2.0","id":7,"result":{}}"#],
    )
    .unwrap();
    stream.finish().unwrap();
    let records = audit_records(&stream).unwrap();
    assert_eq!(records[0]["request_id"], "req-1");
    assert!(records[0]["record_id"].as_str().unwrap().ends_with(":0"));
}
