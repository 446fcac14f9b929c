//! End-to-end approvals: a real Envoy with `warden_filter.wasm` (`policies/demo-approvals.json`, where
//! `delete_customer` needs an approver in group `approvers`), a real `warden serve` with its SQLite file,
//! the demo MCP server, and the approver's CLI as a process.
//!
//! Needs `cargo build -p demo-mcp-server -p warden` and the release `.wasm` (`just e2e` builds them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::ServiceError;
use serde_json::{json, Value};
use warden_e2e::approvals::{approvals_config_with, ApprovalStack, APPROVAL_RULE};
use warden_e2e::mcp::{connect, Endpoint};
use warden_testkit::tokens::{approver_token, dev_token};

const TOOL: &str = "delete_customer";
const RULE: &str = APPROVAL_RULE;
const DENIED_CODE: i64 = -32003;

/// The demo approvals policy with the approval block of rule [`RULE`] changed by `block`.
fn config(block: Value) -> Value {
    approvals_config_with(&block).unwrap()
}

fn alice() -> String {
    dev_token("alice", &["support"]).unwrap()
}

fn bob() -> String {
    approver_token("bob", &["approvers"]).unwrap()
}

/// Posts one `tools/call` of `delete_customer` for `customer` to `/mcp-json`; returns the JSON-RPC
/// response.
async fn delete(stack: &ApprovalStack, token: &str, customer: &str) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": TOOL, "arguments": {"customer_id": customer}}});
    let response = reqwest::Client::new()
        .post(stack.url(Endpoint::Json.path()))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The `error.data` of a JSON-RPC error answer, checking its code.
fn error_data(response: &Value) -> &Value {
    assert_eq!(response["error"]["code"], DENIED_CODE, "{response}");
    &response["error"]["data"]
}

fn pending_id(response: &Value) -> String {
    let data = error_data(response);
    assert_eq!(data["status"], "pending", "{response}");
    data["approval_id"].as_str().unwrap().to_owned()
}

fn assert_deleted(response: &Value) {
    assert!(
        response["result"].is_object(),
        "expected a result: {response}"
    );
    assert!(response.get("error").is_none(), "{response}");
}

/// Runs the CLI, expecting success; returns stdout.
fn cli_ok(stack: &ApprovalStack, token: &str, args: &[&str]) -> String {
    let out = stack.service.cli(token, args).unwrap();
    assert!(
        out.status.success(),
        "warden approvals {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the CLI, expecting failure; returns stderr.
fn cli_err(stack: &ApprovalStack, token: &str, args: &[&str]) -> String {
    let out = stack.service.cli(token, args).unwrap();
    assert!(!out.status.success(), "warden approvals {args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

/// Polls the CLI (as bob) until a request is pending; returns its id.
async fn wait_for_pending(stack: &ApprovalStack) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed: Vec<Value> =
            serde_json::from_str(&cli_ok(stack, &bob(), &["list", "--json"])).unwrap();
        if let Some(first) = listed.first() {
            return first["id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no pending request appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_call_completes_after_an_approval_from_the_cli() {
    let stack = ApprovalStack::start(&config(json!({"hold_seconds": 20})), None)
        .await
        .unwrap();
    let started = Instant::now();
    let held = {
        let url = stack.url(Endpoint::Json.path());
        let token = alice();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("accept", "application/json, text/event-stream")
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                              "params": {"name": TOOL, "arguments": {"customer_id": "cus_001"}}}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    let id = wait_for_pending(&stack).await;
    let table = cli_ok(&stack, &bob(), &["list"]);
    assert!(
        table.contains(&id) && table.contains(TOOL) && table.contains("alice"),
        "{table}"
    );
    assert!(
        stack.demo.calls_to(TOOL).await.unwrap().is_empty(),
        "forwarded before approval"
    );
    let shown = cli_ok(&stack, &bob(), &["approve", &id]);
    assert!(shown.contains("approved"), "{shown}");
    let response = held.await.unwrap();
    assert_deleted(&response);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the held call waited for the hold time"
    );
    assert_eq!(stack.demo.calls_to(TOOL).await.unwrap().len(), 1);
    let record = stack
        .wait_for_audit_record("the approved call's audit record", |r| {
            r["tool"] == TOOL && r["decision"] == "approved"
        })
        .await
        .unwrap();
    assert_eq!(record["rule"], RULE);
    assert_eq!(record["approval"]["id"], id.as_str());
    assert_eq!(record["approval"]["approvers"], json!(["bob"]));
    assert!(record["approval"]["decided_at"].is_string(), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_is_bound_to_the_exact_call_and_used_once() {
    let stack = ApprovalStack::start(&config(json!({"hold_seconds": 1})), None)
        .await
        .unwrap();
    let first = delete(&stack, &alice(), "cus_001").await;
    let id = pending_id(&first);
    let data = error_data(&first);
    assert_eq!(data["inbox_url"], "http://127.0.0.1:8787/inbox");
    assert!(
        data["expires_at"].as_str().unwrap().ends_with('Z'),
        "{data}"
    );
    let message = first["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&id) && message.contains("/inbox"),
        "{message}"
    );

    cli_ok(&stack, &bob(), &["approve", &id]);
    let other_arguments = delete(&stack, &alice(), "cus_002").await;
    assert_ne!(
        pending_id(&other_arguments),
        id,
        "another call got the grant"
    );
    let other_caller = delete(
        &stack,
        &dev_token("mallory", &["support"]).unwrap(),
        "cus_001",
    )
    .await;
    assert_ne!(
        pending_id(&other_caller),
        id,
        "another caller got the grant"
    );

    assert_deleted(&delete(&stack, &alice(), "cus_001").await);
    let replay = delete(&stack, &alice(), "cus_001").await;
    assert_ne!(pending_id(&replay), id, "a once grant was used twice");
    assert_eq!(stack.demo.calls_to(TOOL).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_grant_serves_only_one_of_two_concurrent_identical_calls() {
    let stack = ApprovalStack::start(&config(json!({"hold_seconds": 6})), None)
        .await
        .unwrap();
    let token = alice();
    let second_then_approve = async {
        let id = wait_for_pending(&stack).await;
        let (second, ()) = tokio::join!(delete(&stack, &token, "cus_003"), async {
            // Both calls are held on the same request now (same digest).
            tokio::time::sleep(Duration::from_millis(500)).await;
            cli_ok(&stack, &bob(), &["approve", &id]);
        });
        second
    };
    let (a, b) = tokio::join!(delete(&stack, &token, "cus_003"), second_then_approve);
    let successes = [&a, &b].iter().filter(|r| r["result"].is_object()).count();
    assert_eq!(successes, 1, "first: {a}\nsecond: {b}");
    let other = if a["result"].is_object() { &b } else { &a };
    pending_id(other);
    assert_eq!(stack.demo.calls_to(TOOL).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_grant_covers_repeats_with_any_arguments_until_it_ends() {
    let block = json!({"hold_seconds": 1, "grant": "window", "window_seconds": 4});
    let stack = ApprovalStack::start(&config(block), None).await.unwrap();
    let id = pending_id(&delete(&stack, &alice(), "cus_001").await);
    cli_ok(&stack, &bob(), &["approve", &id]);
    let approved_at = Instant::now();
    for customer in ["cus_001", "cus_002", "cus_003"] {
        assert_deleted(&delete(&stack, &alice(), customer).await);
    }
    let mallory = dev_token("mallory", &["support"]).unwrap();
    pending_id(&delete(&stack, &mallory, "cus_001").await);
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(approved_at.elapsed())).await;
    pending_id(&delete(&stack, &alice(), "cus_002").await);
    assert_eq!(stack.demo.calls_to(TOOL).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_approval_and_approvers_outside_the_groups_are_refused() {
    let stack = ApprovalStack::start(&config(json!({"hold_seconds": 1})), None)
        .await
        .unwrap();
    let dave = dev_token("dave", &["support", "approvers"]).unwrap();
    let id = pending_id(&delete(&stack, &dave, "cus_001").await);
    // Dave's approver token (same issuer and subject as his MCP token) cannot approve his call.
    let dave_approver = approver_token("dave", &["support", "approvers"]).unwrap();
    let own = cli_err(&stack, &dave_approver, &["approve", &id]);
    assert!(own.contains("own request") && own.contains("403"), "{own}");
    let outsider = approver_token("mallory", &["support"]).unwrap();
    let refused = cli_err(&stack, &outsider, &["approve", &id]);
    assert!(refused.contains("not in the approver groups"), "{refused}");
    let listed = cli_ok(&stack, &outsider, &["list", "--json"]);
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&listed).unwrap(),
        Vec::<Value>::new()
    );
    pending_id(&delete(&stack, &dave, "cus_001").await);
    cli_ok(&stack, &bob(), &["approve", &id]);
    assert_deleted(&delete(&stack, &dave, "cus_001").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denial_reason_reaches_the_mcp_client() {
    let stack = ApprovalStack::start(&config(json!({"hold_seconds": 20})), None)
        .await
        .unwrap();
    let client = connect(&stack.url(Endpoint::Sse.path()), Some(&alice()))
        .await
        .unwrap();
    let arguments: JsonObject = serde_json::from_value(json!({"customer_id": "cus_002"})).unwrap();
    let (result, ()) = tokio::join!(
        client.call_tool(CallToolRequestParams::new(TOOL).with_arguments(arguments)),
        async {
            let id = wait_for_pending(&stack).await;
            cli_ok(
                &stack,
                &bob(),
                &["deny", &id, "--reason", "customer has open invoices"],
            );
        }
    );
    let error = match result {
        Err(ServiceError::McpError(error)) => error,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    };
    assert_eq!(i64::from(error.code.0), DENIED_CODE);
    assert!(
        error.message.contains("customer has open invoices"),
        "{error:?}"
    );
    let data = error.data.clone().unwrap();
    assert_eq!(
        (data["status"].as_str(), data["rule"].as_str()),
        (Some("denied"), Some(RULE))
    );
    assert!(stack.demo.calls_to(TOOL).await.unwrap().is_empty());
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_request_expires_and_cannot_be_approved_afterwards() {
    let block = json!({"hold_seconds": 1, "pending_expiry_seconds": 2});
    let stack = ApprovalStack::start(&config(block), None).await.unwrap();
    let id = pending_id(&delete(&stack, &alice(), "cus_001").await);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let shown: Value =
        serde_json::from_str(&cli_ok(&stack, &bob(), &["show", &id, "--json"])).unwrap();
    assert_eq!(shown["status"], "expired");
    let late = cli_err(&stack, &bob(), &["approve", &id]);
    assert!(late.contains("409") && late.contains("expired"), "{late}");
    assert_ne!(pending_id(&delete(&stack, &alice(), "cus_001").await), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_service_fails_closed() {
    let mut stack = ApprovalStack::start(&config(json!({"hold_seconds": 1})), None)
        .await
        .unwrap();
    stack.service.stop();
    let response = delete(&stack, &alice(), "cus_001").await;
    let data = error_data(&response);
    assert_eq!(data["status"], "unavailable", "{response}");
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fail closed"),
        "{response}"
    );
    assert!(stack.demo.calls_to(TOOL).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_service_while_a_call_waits_loses_nothing() {
    let mut stack = ApprovalStack::start(&config(json!({"hold_seconds": 10})), None)
        .await
        .unwrap();
    let held = {
        let url = stack.url(Endpoint::Json.path());
        let token = alice();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("accept", "application/json, text/event-stream")
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                              "params": {"name": TOOL, "arguments": {"customer_id": "cus_001"}}}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    let id = wait_for_pending(&stack).await;
    // Crash the service while the call is held: the filter fails closed for this attempt.
    stack.service.restart().unwrap();
    let interrupted = held.await.unwrap();
    assert_eq!(
        error_data(&interrupted)["status"],
        "unavailable",
        "{interrupted}"
    );
    let listed = cli_ok(&stack, &bob(), &["list"]);
    assert!(
        listed.contains(&id),
        "pending request lost in the restart: {listed}"
    );
    cli_ok(&stack, &bob(), &["approve", &id]);
    stack.service.restart().unwrap();
    // The agent retries the identical call: the grant survived both restarts.
    assert_deleted(&delete(&stack, &alice(), "cus_001").await);
    assert_eq!(stack.demo.calls_to(TOOL).await.unwrap().len(), 1);
}
