//! Approvals for MCP 2026-07-28 clients through the release .wasm (SEP-2322 MRTR, `approvals.mrtr`):
//! a held call still pending is answered with an `input_required` result (a URL-mode elicitation
//! pointing at the approval, a `requestState` sealed by Warden); the retry carrying that state is
//! checked (MAC, expiry, caller, call) before `warden serve` is asked, and once approved reaches the
//! upstream without the MRTR members Warden issued. Older clients keep the JSON-RPC "pending" error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use proxy_wasm_host::{HttpCallResponse, Vm};
use serde_json::{json, Value};
use warden_harness::{
    finished_record, json_body, post_headers, send_request, tool_call, warden_host_with, DevSigner,
};
use warden_testkit::paths::read_repo_file;

const CLUSTER: &str = "warden_approvals";
const SECRET: &str = "harness-internal-secret-0123456789";
const STATE_KEY_ENV: &str = "WARDEN_MRTR_STATE_KEY";
const STATE_KEY: &str = "harness-mrtr-state-key-0123456789abcdef";
const INBOX: &str = "https://approvals.example";
const MODERN: &str = "2026-07-28";
const OLDER: &str = "2025-11-25";
const KEY: &str = "warden.approval";
/// `pending_expiry_seconds` of the approval rule in [`short_lived_vm`].
const PENDING_EXPIRY_SECONDS: u64 = 60;

fn config(mrtr: Option<Value>) -> Vec<u8> {
    let mut config: Value =
        serde_json::from_str(&read_repo_file("policies/demo-approvals.json").unwrap()).unwrap();
    // The demo policy turns `approvals.mrtr` on; `None` takes it off.
    match mrtr {
        Some(mrtr) => config["approvals"]["mrtr"] = mrtr,
        None => {
            config["approvals"].as_object_mut().unwrap().remove("mrtr");
        }
    }
    config.to_string().into_bytes()
}

fn mrtr_block() -> Value {
    json!({"inbox_base_url": INBOX, "state_key_env": STATE_KEY_ENV})
}

fn host(config: &[u8], environment: &[(&str, &str)]) -> proxy_wasm_host::Host {
    warden_host_with(config, &[CLUSTER], environment).unwrap()
}

fn mrtr_vm() -> (proxy_wasm_host::Host, Vm) {
    let host = host(
        &config(Some(mrtr_block())),
        &[
            ("WARDEN_INTERNAL_SECRET", SECRET),
            (STATE_KEY_ENV, STATE_KEY),
        ],
    );
    let vm = host.start_vm().unwrap();
    (host, vm)
}

fn token(sub: &str) -> String {
    DevSigner::load().unwrap().token(sub, &["support"]).unwrap()
}

/// `delete_customer(customer)` from a client declaring URL-mode elicitation (2026-07-28 `_meta`).
fn delete_call(id: i64, customer: &str) -> Value {
    let mut call = tool_call(id, "delete_customer", json!({"customer_id": customer}));
    call["params"]["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}, "url": {}}},
    });
    call
}

/// `call` retried with Warden's `state` and the answer to its elicitation.
fn retry_of(mut call: Value, state: &str) -> Value {
    call["id"] = json!(call["id"].as_i64().unwrap() + 100);
    call["params"]["requestState"] = json!(state);
    call["params"]["inputResponses"] = json!({KEY: {"action": "accept"}});
    call
}

/// Sends `body` as `sub` with `MCP-Protocol-Version: version` (and, for 2026-07-28, the mirrored
/// headers); returns the stream id.
fn send(vm: &mut Vm, sub: &str, version: &str, body: &Value) -> u32 {
    let mut headers = post_headers(Some(&token(sub)));
    headers.push(("mcp-protocol-version".into(), version.into()));
    if version == MODERN {
        headers.push(("mcp-method".into(), "tools/call".into()));
        headers.push((
            "mcp-name".into(),
            body["params"]["name"].as_str().unwrap().into(),
        ));
    }
    let bytes = body.to_string();
    headers.push(("content-length".into(), bytes.len().to_string()));
    let mut stream = vm.http_stream().unwrap();
    send_request(&mut stream, &headers, &[bytes.as_bytes()]).unwrap();
    stream.id()
}

/// The pending approval check, if one was dispatched.
fn check_call(vm: &Vm) -> Option<(u32, Value)> {
    vm.pending_http_calls()
        .into_iter()
        .find(|c| {
            c.headers
                .iter()
                .any(|(k, v)| k == ":path" && v == "/v1/check")
        })
        .map(|c| (c.token, json_body(&c.body).unwrap()))
}

fn answer(vm: &mut Vm, body: Value) {
    let (token, _) = check_call(vm).expect("a pending approval check");
    vm.respond_http_call(
        token,
        HttpCallResponse {
            headers: vec![(":status".to_owned(), "200".to_owned())],
            body: body.to_string().into_bytes(),
            trailers: vec![],
        },
    )
    .unwrap();
}

fn pending(id: &str) -> Value {
    json!({"status": "pending", "approval_id": id, "expires_at": "2026-11-21T21:00:00Z"})
}

fn approved(id: &str) -> Value {
    json!({"status": "approved", "approval_id": id, "approvers": ["bob"],
           "decided_at": "2026-11-21T20:00:00Z"})
}

/// The local reply's JSON body (HTTP 200).
fn local_answer(vm: &Vm, id: u32) -> Value {
    let state = vm.stream_state(id).unwrap();
    let local = state.local_response.as_ref().expect("a local reply");
    assert_eq!(local.status, 200);
    assert!(
        state.request.forwarded.is_empty(),
        "nothing reaches the upstream"
    );
    json_body(&local.body).unwrap()
}

fn record_of(vm: &mut Vm, id: u32) -> Value {
    finished_record(vm, id).unwrap()
}

/// Calls `delete_customer(customer)` as `sub` (2026-07-28) and has the service answer "pending
/// ap-1": returns Warden's `requestState`.
fn issued_state(vm: &mut Vm, sub: &str, customer: &str) -> String {
    let id = send(vm, sub, MODERN, &delete_call(3, customer));
    answer(vm, pending("ap-1"));
    let reply = local_answer(vm, id);
    reply["result"]["requestState"]
        .as_str()
        .expect("a requestState")
        .to_owned()
}

/// Sends `retry` as `sub` and asserts it is refused before `warden serve` is asked, with a JSON-RPC
/// error whose reason contains `why`.
fn assert_state_refused(vm: &mut Vm, sub: &str, retry: &Value, why: &str) {
    let id = send(vm, sub, MODERN, retry);
    assert!(check_call(vm).is_none(), "the service must not be asked");
    let reply = local_answer(vm, id);
    assert_eq!(reply["id"], retry["id"], "{reply}");
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert_eq!(reply["error"]["data"]["status"], "request_state_refused");
    let reason = reply["error"]["data"]["reason"].as_str().unwrap();
    assert!(reason.contains(why), "{why:?} not in {reason:?}");
    let record = record_of(vm, id);
    assert_eq!(record["decision"], "deny");
}

#[test]
fn a_pending_call_of_a_2026_07_28_client_is_answered_with_an_input_required_url_elicitation() {
    let (_host, mut vm) = mrtr_vm();
    let id = send(&mut vm, "alice", MODERN, &delete_call(3, "cus_001"));
    answer(&mut vm, pending("ap-7"));
    let reply = local_answer(&vm, id);
    assert_eq!(reply["id"], 3, "{reply}");
    assert!(
        reply.get("error").is_none(),
        "a result, not an error: {reply}"
    );
    let result = &reply["result"];
    assert_eq!(result["resultType"], "input_required", "{reply}");
    let elicitation = &result["inputRequests"][KEY];
    assert_eq!(elicitation["method"], "elicitation/create", "{reply}");
    assert_eq!(elicitation["params"]["mode"], "url");
    assert_eq!(
        elicitation["params"]["url"],
        format!("{INBOX}/inbox#approval-ap-7")
    );
    assert!(elicitation["params"]["message"]
        .as_str()
        .unwrap()
        .contains("ap-7"));
    let state = result["requestState"].as_str().unwrap();
    assert!(state.starts_with("warden-mrtr.v1."), "{state}");
    assert!(!state.contains(STATE_KEY));
    let record = record_of(&mut vm, id);
    assert_eq!(record["decision"], "approval_pending");
    assert_eq!(record["approval"]["id"], "ap-7");
}

#[test]
fn older_clients_clients_without_url_elicitation_and_configurations_without_mrtr_keep_the_pending_error(
) {
    let (_host, mut vm) = mrtr_vm();
    let id = send(&mut vm, "alice", OLDER, &delete_call(3, "cus_001"));
    answer(&mut vm, pending("ap-1"));
    let reply = local_answer(&vm, id);
    assert_eq!(reply["error"]["code"], -32003, "{reply}");
    assert_eq!(reply["error"]["data"]["status"], "pending");

    // A 2026-07-28 client that cannot open URLs could not act on an elicitation.
    let mut form_only = delete_call(3, "cus_001");
    form_only["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] =
        json!({"elicitation": {"form": {}}});
    let id = send(&mut vm, "alice", MODERN, &form_only);
    answer(&mut vm, pending("ap-1"));
    let reply = local_answer(&vm, id);
    assert_eq!(reply["error"]["data"]["status"], "pending", "{reply}");

    let host = host(&config(None), &[("WARDEN_INTERNAL_SECRET", SECRET)]);
    let mut vm = host.start_vm().unwrap();
    let id = send(&mut vm, "alice", MODERN, &delete_call(3, "cus_001"));
    answer(&mut vm, pending("ap-1"));
    let reply = local_answer(&vm, id);
    assert_eq!(reply["error"]["code"], -32003, "{reply}");
    assert_eq!(reply["error"]["data"]["status"], "pending");
}

#[test]
fn an_approved_retry_reaches_the_upstream_without_the_mrtr_members_warden_issued() {
    let (_host, mut vm) = mrtr_vm();
    let state = issued_state(&mut vm, "alice", "cus_001");
    let retry = retry_of(delete_call(3, "cus_001"), &state);
    let id = send(&mut vm, "alice", MODERN, &retry);
    let (_, check) = check_call(&vm).expect("the service is asked as for any held call");
    assert_eq!(check["arguments"], json!({"customer_id": "cus_001"}));
    answer(&mut vm, approved("ap-1"));
    let request = vm.stream_state(id).unwrap().request.clone();
    assert!(vm.stream_state(id).unwrap().local_response.is_none());
    assert_eq!(request.continue_calls, 1, "resumed");
    let forwarded = json_body(&request.forwarded).unwrap();
    let mut expected = delete_call(103, "cus_001");
    expected["id"] = json!(103);
    assert_eq!(
        forwarded, expected,
        "the call without requestState and inputResponses"
    );
    assert_eq!(
        request.header("content-length"),
        Some(request.forwarded.len().to_string().as_str())
    );
    let record = record_of(&mut vm, id);
    assert_eq!(record["decision"], "approved");
    assert_eq!(record["approval"]["id"], "ap-1");
}

#[test]
fn a_retry_still_pending_gets_the_same_answer_and_a_denied_one_the_denial() {
    let (_host, mut vm) = mrtr_vm();
    let state = issued_state(&mut vm, "alice", "cus_001");
    let retry = retry_of(delete_call(3, "cus_001"), &state);
    let id = send(&mut vm, "alice", MODERN, &retry);
    answer(&mut vm, pending("ap-1"));
    let reply = local_answer(&vm, id);
    assert_eq!(reply["id"], 103);
    assert_eq!(reply["result"]["resultType"], "input_required", "{reply}");
    assert_eq!(
        reply["result"]["inputRequests"][KEY]["params"]["url"],
        format!("{INBOX}/inbox#approval-ap-1")
    );

    let id = send(&mut vm, "alice", MODERN, &retry);
    answer(
        &mut vm,
        json!({"status": "denied", "approval_id": "ap-1", "approver": "bob",
               "reason": "not today"}),
    );
    let reply = local_answer(&vm, id);
    assert_eq!(reply["error"]["code"], -32003, "{reply}");
    assert_eq!(reply["error"]["data"]["status"], "denied");
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not today"));
}

/// `state` with its character at `at` changed.
fn tampered(state: &str, at: usize) -> String {
    let mut bytes = state.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_tampered_state_is_refused() {
    let (_host, mut vm) = mrtr_vm();
    let state = issued_state(&mut vm, "alice", "cus_001");
    // One character of the payload, then one of the MAC.
    for at in [state.len() / 2, state.len() - 3] {
        let retry = retry_of(delete_call(3, "cus_001"), &tampered(&state, at));
        assert_state_refused(&mut vm, "alice", &retry, "requestState");
    }
    let forged = retry_of(delete_call(3, "cus_001"), "warden-mrtr.v1.e30.AAAA");
    assert_state_refused(&mut vm, "alice", &forged, "MAC does not match");
}

#[test]
fn a_state_replayed_by_another_caller_or_for_other_arguments_is_refused() {
    let (_host, mut vm) = mrtr_vm();
    let state = issued_state(&mut vm, "alice", "cus_001");
    let retry = retry_of(delete_call(3, "cus_001"), &state);
    assert_state_refused(&mut vm, "dave", &retry, "another caller");
    let other = retry_of(delete_call(3, "cus_002"), &state);
    assert_state_refused(&mut vm, "alice", &other, "another call");
}

/// A VM whose approval rule's pending approvals (and so Warden's states) live
/// [`PENDING_EXPIRY_SECONDS`].
fn short_lived_vm() -> (proxy_wasm_host::Host, Vm) {
    let mut config: Value = serde_json::from_slice(&config(Some(mrtr_block()))).unwrap();
    let rule = config["policy"]["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["action"] == "require_approval")
        .unwrap();
    rule["approval"]["pending_expiry_seconds"] = json!(PENDING_EXPIRY_SECONDS);
    let host = host(
        config.to_string().as_bytes(),
        &[
            ("WARDEN_INTERNAL_SECRET", SECRET),
            (STATE_KEY_ENV, STATE_KEY),
        ],
    );
    let vm = host.start_vm().unwrap();
    (host, vm)
}

#[test]
fn an_expired_state_is_refused() {
    let (_host, mut vm) = short_lived_vm();
    let state = issued_state(&mut vm, "alice", "cus_001");
    let retry = retry_of(delete_call(3, "cus_001"), &state);
    vm.advance(Duration::from_secs(PENDING_EXPIRY_SECONDS - 1))
        .unwrap();
    let id = send(&mut vm, "alice", MODERN, &retry);
    assert!(check_call(&vm).is_some(), "still valid one second before");
    answer(&mut vm, pending("ap-1"));
    assert!(local_answer(&vm, id)["result"].is_object());
    vm.advance(Duration::from_secs(1)).unwrap();
    let retry = retry_of(delete_call(3, "cus_001"), &state);
    assert_state_refused(&mut vm, "alice", &retry, "expired");
}

#[test]
fn a_retry_mixing_wardens_state_with_answers_for_the_server_is_refused() {
    let (_host, mut vm) = mrtr_vm();
    let state = issued_state(&mut vm, "alice", "cus_001");
    let mut retry = retry_of(delete_call(3, "cus_001"), &state);
    retry["params"]["inputResponses"]["server_confirm"] = json!({"action": "accept"});
    assert_state_refused(&mut vm, "alice", &retry, "server_confirm");
}

/// `retry` with Warden's elicitation answered `action` (as rmcp 3.9 sends after the user's choice).
fn answered(mut retry: Value, action: &str) -> Value {
    retry["params"]["inputResponses"][KEY] = json!({"action": action});
    retry
}

#[test]
fn a_declined_or_cancelled_approval_elicitation_is_refused_at_once_and_audited_as_a_denial() {
    let (_host, mut vm) = mrtr_vm();
    let state = issued_state(&mut vm, "alice", "cus_001");
    for (action, said) in [("decline", "declined"), ("cancel", "cancelled")] {
        let retry = answered(retry_of(delete_call(3, "cus_001"), &state), action);
        let id = send(&mut vm, "alice", MODERN, &retry);
        assert!(
            check_call(&vm).is_none(),
            "{action}: neither held nor asked of the service"
        );
        let reply = local_answer(&vm, id);
        assert_eq!(reply["id"], 103, "{reply}");
        assert_eq!(reply["error"]["code"], -32003, "{reply}");
        let data = &reply["error"]["data"];
        assert_eq!(data["status"], "declined", "{reply}");
        assert_eq!(data["action"], action, "{reply}");
        assert_eq!(data["approval_id"], "ap-1", "{reply}");
        assert_eq!(data["tool"], "delete_customer", "{reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        for words in [
            "approval request ap-1",
            said,
            "by the user",
            "call the tool again",
        ] {
            assert!(message.contains(words), "{words:?} not in {message:?}");
        }
        let record = record_of(&mut vm, id);
        assert_eq!(record["decision"], "deny", "{record}");
        assert_eq!(record["approval"]["id"], "ap-1", "{record}");
        assert_eq!(record["jsonrpc_error"]["code"], -32003, "{record}");
        assert_eq!(record["jsonrpc_error"]["message"], message, "{record}");
    }
}

#[test]
fn a_decline_does_not_get_a_tampered_or_foreign_state_past_the_state_checks() {
    let (_host, mut vm) = mrtr_vm();
    let state = issued_state(&mut vm, "alice", "cus_001");
    let tampered = tampered(&state, state.len() / 2);
    for action in ["decline", "cancel"] {
        let retry = answered(retry_of(delete_call(3, "cus_001"), &tampered), action);
        assert_state_refused(&mut vm, "alice", &retry, "requestState");
        let forged = answered(
            retry_of(delete_call(3, "cus_001"), "warden-mrtr.v1.e30.AAAA"),
            action,
        );
        assert_state_refused(&mut vm, "alice", &forged, "MAC does not match");
        let retry = answered(retry_of(delete_call(3, "cus_001"), &state), action);
        assert_state_refused(&mut vm, "dave", &retry, "another caller");
        let other = answered(retry_of(delete_call(3, "cus_002"), &state), action);
        assert_state_refused(&mut vm, "alice", &other, "another call");
        let mut mixed = answered(retry_of(delete_call(3, "cus_001"), &state), action);
        mixed["params"]["inputResponses"]["server_confirm"] = json!({"action": action});
        assert_state_refused(&mut vm, "alice", &mixed, "server_confirm");
    }
}

#[test]
fn a_decline_carrying_an_expired_state_is_refused_as_expired() {
    let (_host, mut vm) = short_lived_vm();
    let state = issued_state(&mut vm, "alice", "cus_001");
    vm.advance(Duration::from_secs(PENDING_EXPIRY_SECONDS))
        .unwrap();
    for action in ["decline", "cancel"] {
        let late = answered(retry_of(delete_call(3, "cus_001"), &state), action);
        assert_state_refused(&mut vm, "alice", &late, "expired");
    }
}

#[test]
fn a_retry_without_a_decline_is_still_held_and_asked_of_the_service() {
    let (_host, mut vm) = mrtr_vm();
    let state = issued_state(&mut vm, "alice", "cus_001");
    let accepted = retry_of(delete_call(3, "cus_001"), &state);
    let mut state_only = accepted.clone();
    state_only["params"]
        .as_object_mut()
        .unwrap()
        .remove("inputResponses");
    let mut no_answer = accepted.clone();
    no_answer["params"]["inputResponses"] = json!({});
    // Not an elicitation result Warden can read as a refusal: the approval decides, as for `accept`.
    let unknown = answered(accepted.clone(), "Decline");
    let mut not_an_object = accepted.clone();
    not_an_object["params"]["inputResponses"][KEY] = json!("decline");
    for retry in [accepted, state_only, no_answer, unknown, not_an_object] {
        let id = send(&mut vm, "alice", MODERN, &retry);
        assert!(check_call(&vm).is_some(), "held and asked: {retry}");
        answer(&mut vm, pending("ap-1"));
        let reply = local_answer(&vm, id);
        assert_eq!(reply["result"]["resultType"], "input_required", "{reply}");
    }
}

#[test]
fn a_servers_own_request_state_passes_through_untouched() {
    let (_host, mut vm) = mrtr_vm();
    // An allowed call: forwarded byte for byte, MRTR members included.
    let mut call = tool_call(5, "search_customers", json!({"query": "ada"}));
    call["params"]["requestState"] = json!("server-sealed-state");
    call["params"]["inputResponses"] = json!({"confirm": {"action": "accept"}});
    let id = send(&mut vm, "alice", MODERN, &call);
    let request = vm.stream_state(id).unwrap().request.clone();
    assert_eq!(request.forwarded, call.to_string().into_bytes());
    // A held call with the server's state is held as any other and forwarded unchanged once approved.
    let mut held = delete_call(6, "cus_001");
    held["params"]["requestState"] = json!("server-sealed-state");
    held["params"]["inputResponses"] = json!({"confirm": {"action": "accept"}});
    let id = send(&mut vm, "alice", MODERN, &held);
    answer(&mut vm, approved("ap-9"));
    let request = vm.stream_state(id).unwrap().request.clone();
    assert_eq!(request.forwarded, held.to_string().into_bytes());
}

#[test]
fn configuration_is_refused_without_a_usable_state_key_or_inbox_url() {
    let refused = |config: &[u8], env: &[(&str, &str)], expected: &str| {
        let host = host(config, env);
        let mut vm = host.create_vm().unwrap();
        assert!(vm.on_vm_start().unwrap());
        assert!(!vm.on_configure().unwrap(), "{expected}");
        let logs = format!("{:?}", vm.logs());
        assert!(logs.contains(expected), "{expected} not in {logs}");
    };
    let secret = ("WARDEN_INTERNAL_SECRET", SECRET);
    refused(
        &config(Some(mrtr_block())),
        &[secret],
        "approvals.mrtr.state_key_env",
    );
    refused(
        &config(Some(mrtr_block())),
        &[secret, (STATE_KEY_ENV, "short")],
        "at least 32",
    );
    for url in [
        "/inbox",
        "approvals.example",
        "ftp://approvals.example",
        "https://a.example/?x=1",
    ] {
        refused(
            &config(Some(
                json!({"inbox_base_url": url, "state_key_env": STATE_KEY_ENV}),
            )),
            &[secret, (STATE_KEY_ENV, STATE_KEY)],
            "approvals.mrtr.inbox_base_url",
        );
    }
}
