//! The evidence cannot be suppressed or forged (trust boundary 5), through the release .wasm: record
//! ids are random and minted by the filter, so a reused `x-request-id` loses no record; one request
//! cannot push other callers' records out of the outbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proxy_wasm_host::{Host, HostConfig, Vm};
use serde_json::{json, Value};
use warden_harness::{
    audit_records, demo_configuration, post_headers, send_request, send_response, tool_call,
    warden_module, DevSigner, ROOT_ID,
};

const STORE: &str = "warden_serve";

/// The demo configuration with an `audit` block (`audit` overrides the batching fields).
fn start(audit: Value) -> (Host, Vm) {
    let mut config: Value = serde_json::from_slice(&demo_configuration().unwrap()).unwrap();
    config["audit"] = json!({"store_cluster": STORE, "authority": "warden-serve"});
    for (key, value) in audit.as_object().unwrap() {
        config["audit"][key] = value.clone();
    }
    let config = HostConfig::default()
        .with_root_id(ROOT_ID)
        .with_plugin_configuration(&serde_json::to_vec(&config).unwrap())
        .with_clusters(&[STORE])
        // `audit.credential_env` (default): the secret of warden serve's internal API.
        .with_env(
            "WARDEN_INTERNAL_SECRET",
            "harness-evidence-secret-0123456789",
        );
    let host = Host::new(&warden_module().unwrap(), config).unwrap();
    let vm = host.start_vm().unwrap();
    (host, vm)
}

/// Runs one allowed exchange by `sub` with `x-request-id: request_id` carrying `body` (one message
/// or a batch) to the end of its response; returns its access-log records.
fn exchange(vm: &mut Vm, sub: &str, request_id: &str, body: &Value) -> Vec<Value> {
    let token = DevSigner::load().unwrap().token(sub, &["support"]).unwrap();
    let mut headers = post_headers(Some(&token));
    for (name, value) in &mut headers {
        if name == "x-request-id" {
            *value = request_id.to_owned();
        }
    }
    let mut stream = vm.http_stream().unwrap();
    send_request(&mut stream, &headers, &[body.to_string().as_bytes()]).unwrap();
    assert!(stream.local_response().is_none(), "the exchange is allowed");
    send_response(
        &mut stream,
        "application/json",
        &[br#"{"jsonrpc":"2.0","id":1,"result":{}}"#],
    )
    .unwrap();
    stream.finish().unwrap();
    audit_records(&stream).unwrap()
}

/// The records of the batch `POST /v1/audit` the filter sent (JSON Lines), oldest first.
fn shipped(vm: &mut Vm) -> Vec<Value> {
    vm.deliver_queue_ready().unwrap();
    vm.advance(std::time::Duration::from_millis(1100)).unwrap();
    let pending = vm.pending_http_calls();
    assert_eq!(pending.len(), 1, "one batch in flight");
    String::from_utf8_lossy(&pending[0].body)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn is_minted_id(record_id: &Value, index: usize) -> bool {
    let text = record_id.as_str().unwrap_or_default();
    let Some((key, i)) = text.split_once(':') else {
        return false;
    };
    key.len() == 32
        && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && i == index.to_string()
}

#[test]
fn reused_request_id_loses_no_record() {
    let (_host, mut vm) = start(json!({"batch_size": 10, "flush_interval_ms": 1000}));
    let call = tool_call(1, "search_customers", json!({"query": "bob"}));
    let first = exchange(&mut vm, "alice", "same-id", &call);
    let second = exchange(&mut vm, "mallory", "same-id", &call);
    assert_eq!(
        first[0]["request_id"], "same-id",
        "the request id stays a field"
    );
    assert_eq!(second[0]["request_id"], "same-id");
    assert!(
        is_minted_id(&first[0]["record_id"], 0),
        "{}",
        first[0]["record_id"]
    );
    assert!(
        is_minted_id(&second[0]["record_id"], 0),
        "{}",
        second[0]["record_id"]
    );
    assert_ne!(first[0]["record_id"], second[0]["record_id"]);

    let batch = shipped(&mut vm);
    let ids: Vec<&Value> = batch.iter().map(|r| &r["record_id"]).collect();
    assert_eq!(
        ids,
        [&first[0]["record_id"], &second[0]["record_id"]],
        "both queued, in order"
    );
    let subs: Vec<&Value> = batch.iter().map(|r| &r["identity"]["sub"]).collect();
    assert_eq!(subs, ["alice", "mallory"]);
}

#[test]
fn record_ids_of_separate_vms_differ() {
    let call = tool_call(1, "search_customers", json!({"query": "bob"}));
    let ids: Vec<Value> = (0..2)
        .map(|_| {
            let (_host, mut vm) = start(json!({}));
            exchange(&mut vm, "alice", "req-1", &call)[0]["record_id"].clone()
        })
        .collect();
    assert_ne!(
        ids[0], ids[1],
        "drawn from random_get, not a fixed seed or a counter"
    );
}

#[test]
fn one_large_batch_cannot_evict_other_callers_records() {
    // The defaults (64 records per exchange) under a 100-record outbox: alice's record is queued
    // first, then mallory sends one batch of 120 calls.
    let (host, mut vm) =
        start(json!({"batch_size": 100, "flush_interval_ms": 1000, "max_pending": 100}));
    let alice = exchange(
        &mut vm,
        "alice",
        "a-1",
        &tool_call(1, "search_customers", json!({"query": "bob"})),
    );
    vm.deliver_queue_ready().unwrap();
    let flood: Vec<Value> = (1..=120)
        .map(|i| tool_call(i, "search_customers", json!({"query": "x"})))
        .collect();
    let mallory = exchange(&mut vm, "mallory", "m-1", &Value::Array(flood));
    assert_eq!(mallory.len(), 120, "the access log keeps every record");
    assert!(
        mallory[0].get("store_dropped").is_none(),
        "the access log copy is unchanged"
    );

    let batch = shipped(&mut vm);
    assert_eq!(
        batch[0]["record_id"], alice[0]["record_id"],
        "alice's record is still queued"
    );
    let from_mallory: Vec<&Value> = batch
        .iter()
        .filter(|r| r["identity"]["sub"] == "mallory")
        .collect();
    assert_eq!(
        from_mallory.len(),
        64,
        "audit.max_records_per_exchange (default 64)"
    );
    assert_eq!(
        from_mallory[0]["store_dropped"], 56,
        "counted in the exchange's own record"
    );
    assert!(from_mallory[1].get("store_dropped").is_none());
    assert_eq!(
        host.metric("warden.audit.dropped")
            .unwrap()
            .map_or(0, |m| m.value),
        56
    );
}
