//! The approval step through the release .wasm: a call a `require_approval` rule matches is held while
//! the filter asks `warden serve` with `dispatch_http_call`, then resumed or answered — including the
//! cases Envoy makes hard to reach: a dispatch that times out, and an unreadable answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use proxy_wasm_host::{HttpCallResponse, Vm};
use serde_json::{json, Value};
use warden_harness::{
    finished_record, json_body, post_headers, send_request, tool_call, warden_host_with, DevSigner,
};
use warden_testkit::paths::read_repo_file;

const CLUSTER: &str = "warden_approvals";
const HOLD_SECONDS: u64 = 30;
const GRACE_MS: u64 = 5_000;
/// The internal API secret in the VM's environment (`approvals.credential_env` of the demo policy).
const SECRET: &str = "harness-internal-secret-0123456789";
/// The `requestState` key in the VM's environment (`approvals.mrtr.state_key_env` of the demo policy).
const STATE_KEY: (&str, &str) = (
    "WARDEN_MRTR_STATE_KEY",
    "harness-mrtr-state-key-0123456789abcdef",
);

fn approvals_host(environment: &[(&str, &str)]) -> proxy_wasm_host::Host {
    let config = read_repo_file("policies/demo-approvals.json").unwrap();
    warden_host_with(config.as_bytes(), &[CLUSTER], environment).unwrap()
}

fn approvals_vm() -> (proxy_wasm_host::Host, Vm) {
    let host = approvals_host(&[("WARDEN_INTERNAL_SECRET", SECRET), STATE_KEY]);
    let vm = host.start_vm().unwrap();
    (host, vm)
}

#[test]
fn configuration_is_refused_without_the_internal_secret_in_the_vm_environment() {
    let host = approvals_host(&[STATE_KEY]);
    let mut vm = host.create_vm().unwrap();
    assert!(vm.on_vm_start().unwrap());
    assert!(!vm.on_configure().unwrap());
    let logs = format!("{:?}", vm.logs());
    assert!(
        logs.contains("approvals.credential_env") && logs.contains("WARDEN_INTERNAL_SECRET"),
        "{logs}"
    );
}

fn delete_call() -> String {
    tool_call(3, "delete_customer", json!({"customer_id": "cus_001"})).to_string()
}

/// Token of the pending approval check (the audit shipper may have its own calls in flight).
fn check_token(vm: &Vm) -> u32 {
    vm.pending_http_calls()
        .into_iter()
        .find(|c| {
            c.headers
                .iter()
                .any(|(k, v)| k == ":path" && v == "/v1/check")
        })
        .expect("a pending approval check")
        .token
}

/// Sends the held call; returns the stream id.
fn send_held_call(vm: &mut Vm) -> u32 {
    let token = DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap();
    let body = delete_call();
    let mut stream = vm.http_stream().unwrap();
    send_request(&mut stream, &post_headers(Some(&token)), &[body.as_bytes()]).unwrap();
    stream.id()
}

fn answer(status: &str, body: Value) -> HttpCallResponse {
    HttpCallResponse {
        headers: vec![(":status".to_owned(), status.to_owned())],
        body: body.to_string().into_bytes(),
        trailers: vec![],
    }
}

fn local_error(vm: &Vm, id: u32) -> Value {
    let state = vm.stream_state(id).unwrap();
    let local = state.local_response.as_ref().expect("a local reply");
    assert_eq!(local.status, 200);
    let body = json_body(&local.body).unwrap();
    assert_eq!(body["id"], 3);
    assert_eq!(body["error"]["code"], -32003);
    body["error"].clone()
}

fn record_of(vm: &mut Vm, id: u32) -> Value {
    finished_record(vm, id).unwrap()
}

#[test]
fn held_call_is_dispatched_to_the_approval_cluster_and_nothing_reaches_the_upstream() {
    let (_host, mut vm) = approvals_vm();
    let id = send_held_call(&mut vm);
    let state = vm.stream_state(id).unwrap();
    assert!(state.local_response.is_none());
    assert!(!state.request.headers_released, "headers must be held");
    assert!(state.request.forwarded.is_empty(), "body must be held");
    let calls = vm.pending_http_calls();
    assert_eq!(calls.len(), 1, "only the approval check is in flight");
    let call = calls[0];
    assert_eq!(call.upstream, CLUSTER);
    let header = |name: &str| {
        call.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header(":method"), Some("POST"));
    assert_eq!(header(":path"), Some("/v1/check"));
    assert!(header(":authority").is_some());
    assert_eq!(header("x-warden-internal-secret"), Some(SECRET));
    let check = json_body(&call.body).unwrap();
    assert_eq!(check["tool"], "delete_customer");
    assert_eq!(check["caller"]["sub"], "alice");
    assert_eq!(check["claims"]["sub"], "alice");
    assert_eq!(check["arguments"], json!({"customer_id": "cus_001"}));
    assert_eq!(check["call_digest"].as_str().unwrap().len(), 64);
    assert_eq!(
        call.timeout,
        Duration::from_millis(HOLD_SECONDS * 1000 + GRACE_MS)
    );
}

#[test]
fn approved_answer_resumes_the_original_request_unchanged_and_is_recorded() {
    let (_host, mut vm) = approvals_vm();
    let id = send_held_call(&mut vm);
    let token = check_token(&vm);
    vm.respond_http_call(
        token,
        answer(
            "200",
            json!({"status": "approved", "approval_id": "ap-1", "approvers": ["bob"],
                   "decided_at": "2026-11-21T20:00:00Z"}),
        ),
    )
    .unwrap();
    let state = vm.stream_state(id).unwrap();
    assert!(state.local_response.is_none());
    assert_eq!(state.request.continue_calls, 1, "resume_http_request");
    let record = record_of(&mut vm, id);
    assert_eq!(record["decision"], "approved");
    assert_eq!(record["approval"]["id"], "ap-1");
    assert_eq!(record["approval"]["approvers"], json!(["bob"]));
}

#[test]
fn pending_answer_gives_the_agent_the_approval_id_and_is_recorded_as_pending() {
    let (_host, mut vm) = approvals_vm();
    let id = send_held_call(&mut vm);
    let token = check_token(&vm);
    vm.respond_http_call(
        token,
        answer(
            "200",
            json!({"status": "pending", "approval_id": "ap-2",
                   "expires_at": "2026-11-21T21:00:00Z"}),
        ),
    )
    .unwrap();
    let error = local_error(&vm, id);
    assert_eq!(error["data"]["status"], "pending");
    assert_eq!(error["data"]["approval_id"], "ap-2");
    assert!(error["message"].as_str().unwrap().contains("ap-2"));
    let record = record_of(&mut vm, id);
    assert_eq!(record["decision"], "approval_pending");
    assert_eq!(record["approval"]["expires_at"], "2026-11-21T21:00:00Z");
}

#[test]
fn dispatch_that_times_out_fails_closed_with_a_jsonrpc_error() {
    let (_host, mut vm) = approvals_vm();
    let id = send_held_call(&mut vm);
    vm.advance(Duration::from_millis(HOLD_SECONDS * 1000 + GRACE_MS - 1))
        .unwrap();
    assert!(
        vm.stream_state(id).unwrap().local_response.is_none(),
        "answered before the timeout"
    );
    vm.advance(Duration::from_millis(1)).unwrap();
    let error = local_error(&vm, id);
    assert_eq!(error["data"]["status"], "unavailable");
    assert!(
        error["message"].as_str().unwrap().contains("fail closed"),
        "{error}"
    );
    assert!(!vm.stream_state(id).unwrap().request.headers_released);
    let record = record_of(&mut vm, id);
    assert_eq!(record["decision"], "deny");
    assert_eq!(record["approval"], Value::Null);
}

#[test]
fn unreadable_answer_from_the_service_fails_closed() {
    let (_host, mut vm) = approvals_vm();
    let id = send_held_call(&mut vm);
    let token = check_token(&vm);
    vm.respond_http_call(token, answer("500", json!({"error": "database is locked"})))
        .unwrap();
    let error = local_error(&vm, id);
    assert_eq!(error["data"]["status"], "unavailable");
    assert!(
        error["message"].as_str().unwrap().contains("HTTP 500"),
        "{error}"
    );
}
