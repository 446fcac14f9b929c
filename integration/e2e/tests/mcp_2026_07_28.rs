//! End-to-end MCP 2026-07-28 with the official Python SDK 2.x client and server through a real Envoy
//! with `warden_filter.wasm`:
//! - approvals (SEP-2322 MRTR, `approvals.mrtr`): the client calls a held tool, gets an `input_required`
//!   result with a URL-mode elicitation pointing at the approval, an approver approves it with `warden
//!   approvals approve` (warden serve's API), and the SDK's own retry (carrying Warden's `requestState`)
//!   completes the call on the server, which never sees Warden's MRTR members;
//! - `Mcp-Param-*` (SEP-2243): the SDK mirrors an `x-mcp-header` argument into its header, Warden checks
//!   it against the body and lets it through to the server, which checks it too.
//!
//! Needs `cargo build -p warden` and the release `.wasm` (`just e2e` builds them), and the Python SDK in
//! `.venv` (`just setup`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use tempfile::TempDir;
use warden_e2e::approvals::{approvals_template, mrtr_approvals_config, ApprovalService};
use warden_e2e::python::{run_client_answering, PythonUpstream};
use warden_e2e::stack::{demo_plugin_config, launch_envoy, wait_for_audit_record, Envoy};
use warden_testkit::process::free_port;
use warden_testkit::tokens::{approver_token, dev_token};

/// The demo approvals policy with a 1 s hold and `approvals.mrtr` pointing at `inbox_base_url`.
fn config(inbox_base_url: &str) -> Value {
    mrtr_approvals_config(&json!({"hold_seconds": 1}), inbox_base_url).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_completes_a_held_call_by_retrying_once_an_approver_approved() {
    let dir = TempDir::with_prefix("warden-e2e-mrtr-").unwrap();
    let upstream = PythonUpstream::start(dir.path()).unwrap();
    let port = free_port().unwrap();
    let inbox = format!("http://127.0.0.1:{port}");
    let config = config(&inbox);
    let service = ApprovalService::start(dir.path(), &config, port, None).unwrap();
    let template = approvals_template(service.internal_port()).unwrap();
    let envoy = launch_envoy(dir.path(), &template, &config, upstream.port(), 2)
        .await
        .unwrap();
    let url = format!("http://127.0.0.1:{}/mcp", envoy.listen_port);
    let token = dev_token("alice", &["support"]).unwrap();
    let approver = approver_token("bob", &["approvers"]).unwrap();
    let operations = json!([
        {"op": "call_tool", "tool": "delete_customer", "arguments": {"customer_id": "cus_001"}},
    ]);
    let mut elicitations = Vec::new();
    let seen = tokio::task::block_in_place(|| {
        run_client_answering(&url, &token, &operations, |elicitation| {
            elicitations.push(elicitation.clone());
            let shown = elicitation["url"].as_str().unwrap_or_default();
            let id = shown
                .strip_prefix(&format!("{inbox}/inbox#approval-"))
                .unwrap_or_else(|| panic!("not an approval URL: {elicitation}"));
            let out = service.cli(&approver, &["approve", id])?;
            assert!(
                out.status.success(),
                "warden approvals approve {id}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(true)
        })
    })
    .unwrap();
    assert_eq!(seen["protocol_version"], "2026-07-28", "{seen}");
    assert_eq!(elicitations.len(), 1, "{elicitations:?}");
    assert_eq!(elicitations[0]["mode"], "url", "{elicitations:?}");
    assert!(
        elicitations[0]["message"]
            .as_str()
            .unwrap()
            .contains("approval"),
        "{elicitations:?}"
    );
    let result = &seen["results"][0];
    assert_eq!(result["text"], "deleted cus_001", "{seen}");
    assert_eq!(result["is_error"], false, "{seen}");
    let executed = upstream.executed().await.unwrap();
    let deletes: Vec<_> = executed
        .iter()
        .filter(|call| call.tool == "delete_customer")
        .collect();
    assert_eq!(
        deletes.len(),
        1,
        "executed once, after the approval: {executed:?}"
    );
    let log = dir.path().join("audit.log");
    let approved = wait_for_audit_record(&log, "the approved record", |r| {
        r["tool"] == "delete_customer" && r["decision"] == "approved"
    })
    .await
    .unwrap();
    assert_eq!(approved["protocol_version"], "2026-07-28", "{approved}");
    drop(envoy);
}

#[tokio::test]
async fn mcp_param_headers_the_python_sdk_mirrors_pass_warden_and_reach_the_server() {
    let dir = TempDir::with_prefix("warden-e2e-mcp-param-").unwrap();
    let upstream = PythonUpstream::start(dir.path()).unwrap();
    let envoy = Envoy::start(dir.path(), &demo_plugin_config().unwrap(), upstream.port())
        .await
        .unwrap();
    let url = envoy.url("/mcp");
    let token = dev_token("alice", &["support"]).unwrap();
    // The listing teaches the client which arguments to mirror; the second value needs the
    // =?base64?…?= form.
    let operations = json!([
        {"op": "list_tools"},
        {"op": "call_tool", "tool": "echo", "arguments": {"text": "plain"}},
        {"op": "call_tool", "tool": "echo", "arguments": {"text": " héllo, wörld "}},
    ]);
    let seen = tokio::task::spawn_blocking(move || {
        run_client_answering(&url, &token, &operations, |_| Ok(false))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(seen["protocol_version"], "2026-07-28", "{seen}");
    assert_eq!(seen["results"][1]["text"], "plain", "{seen}");
    assert_eq!(seen["results"][2]["text"], " héllo, wörld ", "{seen}");
    let headers: Vec<Value> = reqwest::get(format!(
        "http://127.0.0.1:{}/_param_headers",
        upstream.port()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        headers,
        vec![
            json!({"mcp-param-text": "plain"}),
            json!({"mcp-param-text": "=?base64?IGjDqWxsbywgd8O2cmxkIA==?="}),
        ],
        "what the server received"
    );
}
