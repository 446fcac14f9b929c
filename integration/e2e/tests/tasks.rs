//! End-to-end MCP tasks through a real Envoy with `warden_filter.wasm`: rmcp 3.9 clients as two
//! callers (alice, a support agent, and carol, a contractor) and the demo MCP server (rmcp too),
//! whose `search_customers` runs as a task for clients that declared the tasks extension and whose
//! task store binds no task to a caller (any session reads any task; ids are `task-1`, `task-2`,
//! …). What keeps the callers apart is Warden:
//! 1. alice creates a task (a `tools/call` answered with `resultType: "task"`);
//! 2. carol's `tasks/get`, `tasks/result`, `tasks/cancel` and `tasks/update` on alice's task id are
//!    refused with JSON-RPC error `-32602` and never reach the server (`/_demo/received`);
//! 3. alice's `tasks/get` (the completed task carries the tool result inline, SEP-2663) and
//!    `tasks/result` (MCP 2025-11-25) are masked with the profile of the rule that allowed the
//!    creating call, `allow-support-tools`, although the rule allowing `tasks/*` masks nothing;
//! 4. carol's `tasks/list` shows only her own task and alice's only alice's, while the server
//!    itself, asked directly, lists both.
//!
//! Each point runs on both demo endpoints: `/mcp` (the `initialize` handshake, sessions, answers as
//! `text/event-stream`) and `/mcp-json` (MCP 2026-07-28: `server/discover`, stateless, `Mcp-Method`
//! and `Mcp-Name` headers, answers as `application/json`).
//!
//! rmcp 3.9 models the tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663: `tasks/get`,
//! `tasks/update`, `tasks/cancel`, the result inline in `tasks/get`) but not the 2025-11-25
//! `tasks/result` and `tasks/list`: the clients send those with rmcp's own `CustomRequest` on the
//! session rmcp negotiated, and the demo server answers them in `on_custom_request`.
//!
//! Needs `cargo build -p warden -p demo-mcp-server` and the release `.wasm` (`just e2e` builds them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientCapabilities, ClientConfig,
    ClientRequest, CustomRequest, ErrorData, ExtensionCapabilities, GetTaskParams, Implementation,
    InputResponses, JsonObject, TaskStatus, UpdateTaskParams, TASKS_EXTENSION_ID,
};
use rmcp::service::{RoleClient, RunningService};
use rmcp::{ClientHandler, ServiceError};
use serde_json::{json, Value};
use warden_e2e::mcp::{connect_2026_07_28, connect_with, Endpoint};
use warden_e2e::stack::{demo_plugin_config, Stack};
use warden_testkit::tokens::dev_token;

/// Alice's card number, e-mail and SSN, which the demo server returns in clear.
const ALICE_PII: [&str; 3] = [
    "4111 1111 1111 1111",
    "alice.johnson@example.com",
    "123-45-6789",
];

/// What the `pii` profile puts in their place.
const MARKERS: [&str; 3] = [
    "[REDACTED:CREDIT_CARD]",
    "[REDACTED:EMAIL_ADDRESS]",
    "[REDACTED:US_SSN]",
];

/// The part of Warden's refusal message every refused task request carries.
const REFUSAL: &str = "readable only by the caller that created them";

/// The demo policy with masking profiles: the default profile `plain` masks nothing, the rule that
/// allows `search_customers` (`allow-support-tools`) masks with `pii`, and a rule without a profile
/// allows the task methods. A task answer masked with the `tasks/*` rule's profile alone would show
/// everything.
fn configuration() -> Value {
    let mut config = demo_plugin_config().unwrap();
    config["masking"] = json!({
        "profiles": {
            "plain": {"detectors": []},
            "pii": {"detectors": ["CREDIT_CARD", "EMAIL_ADDRESS", "US_SSN"]}},
        "default_profile": "plain"});
    let rules = config["policy"]["rules"].as_array_mut().unwrap();
    let support = rules
        .iter_mut()
        .find(|rule| rule["id"] == "allow-support-tools")
        .expect("policies/demo.json has rule allow-support-tools");
    support["mask"] = json!("pii");
    rules.push(json!({"id": "allow-tasks", "match": {"method": "tasks/*"}, "action": "allow"}));
    config
}

/// A client that declares the tasks extension (`capabilities.extensions`), so the demo server runs
/// `search_customers` as a task for it.
#[derive(Debug, Clone, Default)]
struct TasksClient;

impl ClientHandler for TasksClient {
    fn get_info(&self) -> ClientConfig {
        // `ClientCapabilities::builder().enable_tasks()` needs rmcp's `server` feature.
        let mut capabilities = ClientCapabilities::default();
        capabilities.extensions = Some(ExtensionCapabilities::from([(
            TASKS_EXTENSION_ID.to_owned(),
            JsonObject::new(),
        )]));
        ClientConfig::new(
            capabilities,
            Implementation::new("warden-e2e-tasks", "1.0.0"),
        )
    }
}

type Client = RunningService<RoleClient, TasksClient>;

/// Connects a [`TasksClient`] to `url` the way `endpoint` speaks, with `bearer` when set.
async fn connect(endpoint: Endpoint, url: &str, bearer: Option<&str>) -> Client {
    match endpoint {
        Endpoint::Sse => connect_with(url, bearer, TasksClient).await,
        Endpoint::Json => connect_2026_07_28(url, bearer, TasksClient).await,
    }
    .unwrap()
}

/// Connects `who` (groups `groups`) through Envoy.
async fn connect_as(stack: &Stack, endpoint: Endpoint, who: &str, groups: &[&str]) -> Client {
    let token = dev_token(who, groups).unwrap();
    connect(endpoint, &stack.envoy.url(endpoint.path()), Some(&token)).await
}

/// Calls `search_customers` for `query` and returns the id of the task the server answered with.
async fn create_task(client: &Client, query: &str) -> String {
    let arguments: JsonObject = serde_json::from_value(json!({"query": query})).unwrap();
    let call = CallToolRequestParams::new("search_customers").with_arguments(arguments);
    match client.call_tool_once(call).await.unwrap() {
        CallToolResponse::Task(created) => {
            assert_eq!(created.task.status, TaskStatus::Working, "{created:?}");
            created.task.task_id
        }
        other => panic!("expected a task, got {other:?}"),
    }
}

/// Polls `tasks/get` until the task completed; returns the last answer as JSON.
async fn completed(client: &Client, task_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = client.get_task(GetTaskParams::new(task_id)).await.unwrap();
        if got.task.status() == TaskStatus::Completed {
            return serde_json::to_value(&got).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "task {task_id} not completed: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `method` (`tasks/result`, `tasks/list`: not modelled by rmcp) with `params` as an rmcp
/// `CustomRequest`; returns the result as JSON.
async fn custom(client: &Client, method: &str, params: Value) -> Result<Value, ServiceError> {
    let request = ClientRequest::CustomRequest(CustomRequest::new(method, Some(params)));
    let result = client.send_request(request).await?;
    Ok(serde_json::to_value(result).unwrap())
}

/// The task ids of a `tasks/list` answer.
async fn listed(client: &Client) -> Vec<String> {
    let list = custom(client, "tasks/list", json!({})).await.unwrap();
    list["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("no tasks array: {list}"))
        .iter()
        .map(|task| task["taskId"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts `outcome` is Warden's refusal of a task request for `task_id`.
fn assert_refused<T: std::fmt::Debug>(outcome: Result<T, ServiceError>, task_id: &str) {
    let error: ErrorData = match outcome {
        Err(ServiceError::McpError(error)) => error,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    };
    assert_eq!(error.code.0, -32602, "{error:?}");
    assert!(error.message.contains(REFUSAL), "{error:?}");
    assert_eq!(error.data.as_ref().unwrap()["taskId"], task_id, "{error:?}");
}

/// Asserts the JSON text of `answer` shows alice's record with every PII value masked.
fn assert_masked(answer: &Value) {
    let shown = answer.to_string();
    for value in ALICE_PII {
        assert!(!shown.contains(value), "{value} in clear: {shown}");
    }
    for marker in MARKERS {
        assert!(shown.contains(marker), "{marker} missing: {shown}");
    }
    assert!(shown.contains("Alice Johnson"), "{shown}");
}

/// The `tasks/*` requests the demo server has received, by method.
async fn task_requests(stack: &Stack) -> Vec<String> {
    stack
        .demo
        .received()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.starts_with("tasks/"))
        .map(|r| r.method)
        .collect()
}

async fn tasks_are_bound_to_the_caller_that_created_them(endpoint: Endpoint) {
    let stack = Stack::start_with(&configuration()).await.unwrap();
    let alice = connect_as(&stack, endpoint, "alice", &["support"]).await;
    let carol = connect_as(&stack, endpoint, "carol", &["contractors"]).await;

    // (1) Each creates a task; alice's completes with her record, masked in the inline result.
    let alice_task = create_task(&alice, "alice").await;
    let carol_task = create_task(&carol, "bob").await;
    assert_ne!(alice_task, carol_task);
    assert_masked(&completed(&alice, &alice_task).await);

    // (2) Carol names alice's task: refused by Warden, never forwarded.
    let before = task_requests(&stack).await;
    assert_refused(
        carol.get_task(GetTaskParams::new(&alice_task)).await,
        &alice_task,
    );
    assert_refused(
        custom(&carol, "tasks/result", json!({"taskId": alice_task})).await,
        &alice_task,
    );
    assert_refused(
        carol.cancel_task(CancelTaskParams::new(&alice_task)).await,
        &alice_task,
    );
    assert_refused(
        carol
            .update_task(UpdateTaskParams::new(&alice_task, InputResponses::new()))
            .await,
        &alice_task,
    );
    assert_eq!(
        task_requests(&stack).await,
        before,
        "carol's requests reached the server"
    );
    assert!(!before.iter().any(|m| m == "tasks/result"), "{before:?}");

    // (3) Alice's own `tasks/result` goes through and is masked with her call's profile.
    let result = custom(&alice, "tasks/result", json!({"taskId": alice_task}))
        .await
        .unwrap();
    assert_masked(&result);
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/related-task"]["taskId"], alice_task,
        "{result}"
    );
    let results: Vec<_> = task_requests(&stack)
        .await
        .into_iter()
        .filter(|m| m == "tasks/result")
        .collect();
    assert_eq!(
        results.len(),
        1,
        "only alice's tasks/result reached the server"
    );

    // (4) Each caller lists only their own task; the server itself lists both.
    assert_eq!(listed(&carol).await, std::slice::from_ref(&carol_task));
    assert_eq!(listed(&alice).await, std::slice::from_ref(&alice_task));
    let direct = connect(endpoint, &stack.demo.url(endpoint.path()), None).await;
    let mut everything = listed(&direct).await;
    everything.sort();
    let mut both = vec![alice_task.clone(), carol_task];
    both.sort();
    assert_eq!(everything, both, "the server does not filter: Warden does");

    // The audit trail: carol's refusals say why, alice's read names the creating call's rule.
    let records = stack
        .envoy
        .wait_for_audit("carol's refusals and alice's tasks/result", |records| {
            let refused = records
                .iter()
                .filter(|r| r["identity"]["sub"] == "carol" && r["decision"] == "deny")
                .count();
            let read = records
                .iter()
                .any(|r| r["method"] == "tasks/result" && r["identity"]["sub"] == "alice");
            refused == 4 && read
        })
        .await
        .unwrap();
    for refused in records
        .iter()
        .filter(|r| r["identity"]["sub"] == "carol" && r["decision"] == "deny")
    {
        let message = refused["jsonrpc_error"]["message"].as_str().unwrap();
        assert!(message.contains("created by another caller"), "{refused}");
    }
    let read = records
        .iter()
        .find(|r| r["method"] == "tasks/result" && r["identity"]["sub"] == "alice")
        .unwrap();
    assert_eq!(read["decision"], "allow", "{read}");
    assert_eq!(read["rule"], "allow-support-tools", "{read}");

    for client in [alice, carol, direct] {
        client.cancel().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_bound_to_their_creator_over_sessions_and_sse() {
    tasks_are_bound_to_the_caller_that_created_them(Endpoint::Sse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_bound_to_their_creator_over_stateless_2026_07_28_json() {
    tasks_are_bound_to_the_caller_that_created_them(Endpoint::Json).await;
}
