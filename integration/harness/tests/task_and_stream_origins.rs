//! MCP 2025-11-25 tasks and SSE resumption, through the release .wasm: a task is readable only by the
//! caller it was created for, and its result (like a resumed stream) is masked with the profile of
//! the rule that allowed the call that started it, not the policy's strictest. Each caller works on
//! its own VM: what binds them is Envoy shared data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proxy_wasm_host::{Action, Host, HttpStream, Vm};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use warden_harness::{
    audit_records, borrowed, demo_configuration, json_body, post_headers, send_request,
    send_response, tool_call, warden_host, DevSigner,
};

const CARD: &str = "4111 1111 1111 1111";
const EMAIL: &str = "jane@example.com";
const TASK: &str = "786512e2-9e0d-44bd-8f29-789f320fe840";

/// The demo policy with three masking profiles: the default masks nothing, `search_customers`
/// (rule `allow-support-tools`) masks e-mail addresses, `get_invoice` (rule `allow-invoices`)
/// masks card numbers, and a rule allows the task methods. The strictest profile masks both.
fn configuration() -> Vec<u8> {
    let mut config: Value = serde_json::from_slice(&demo_configuration().unwrap()).unwrap();
    config["masking"] = json!({
        "profiles": {"plain": {"detectors": []},
                     "cards": {"detectors": ["CREDIT_CARD"]},
                     "emails": {"detectors": ["EMAIL_ADDRESS"]}},
        "default_profile": "plain"});
    let rules = config["policy"]["rules"].as_array_mut().unwrap();
    rules[1]["mask"] = json!("emails");
    rules.insert(
        1,
        json!({"id": "allow-invoices", "match": {"tool": "get_invoice"}, "action": "allow", "mask": "cards"}),
    );
    rules.push(json!({"id": "allow-tasks", "match": {"method": "tasks/*"}, "action": "allow"}));
    config.to_string().into_bytes()
}

fn token(sub: &str) -> String {
    DevSigner::load().unwrap().token(sub, &["support"]).unwrap()
}

/// A task-augmented `tools/call` of `search_customers` (MCP 2025-11-25 `params.task`).
fn task_call(id: i64) -> Value {
    let mut call = tool_call(id, "search_customers", json!({"query": "jane"}));
    call["params"]["task"] = json!({"ttl": 60000});
    call
}

/// The server's `CreateTaskResult` for request `id`.
fn create_task_result(id: i64, task_id: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {"task": {"taskId": task_id, "status": "working",
        "createdAt": "2025-11-25T10:30:00Z", "lastUpdatedAt": "2025-11-25T10:30:00Z", "ttl": 60000}}})
}

/// A tool result (what `tasks/result` returns) for request `id` carrying a card number and an e-mail.
fn sensitive_result(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text",
        "text": format!("card {CARD}, mail {EMAIL}")}],
        "_meta": {"io.modelcontextprotocol/related-task": {"taskId": TASK}}}})
}

/// `sub` creates task `task_id` on `vm`: a task-augmented call answered with its `CreateTaskResult`.
fn create_task(vm: &mut Vm, sub: &str, task_id: &str) {
    let mut stream = vm.http_stream().unwrap();
    let body = task_call(1).to_string();
    send_request(
        &mut stream,
        &post_headers(Some(&token(sub))),
        &[body.as_bytes()],
    )
    .unwrap();
    assert!(stream.local_response().is_none(), "the call is allowed");
    let answer = create_task_result(1, task_id).to_string();
    send_response(&mut stream, "application/json", &[answer.as_bytes()]).unwrap();
    stream.finish().unwrap();
}

/// `sub` sends `method` for `task_id` on `vm`; returns the stream (answered locally, or forwarded).
fn task_request<'v>(vm: &'v mut Vm, sub: &str, method: &str, task_id: &str) -> HttpStream<'v> {
    let mut stream = vm.http_stream().unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": {"taskId": task_id}});
    send_request(
        &mut stream,
        &post_headers(Some(&token(sub))),
        &[body.to_string().as_bytes()],
    )
    .unwrap();
    stream
}

/// Asserts `stream` was answered locally with JSON-RPC error -32602 for task `task_id`, and that the
/// request never reached the server.
fn assert_task_refused(stream: &HttpStream<'_>, task_id: &str) {
    let reply = stream
        .local_response()
        .expect("refused by Warden, not forwarded");
    assert_eq!(reply.status, 200);
    let error = json_body(&reply.body).unwrap();
    assert_eq!(error["id"], 7);
    assert_eq!(error["error"]["code"], -32602, "{error}");
    assert_eq!(error["error"]["data"]["taskId"], task_id);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("readable only by the caller that created them"),
        "{error}"
    );
    assert!(stream.request().forwarded.is_empty());
}

fn start(host: &Host) -> Vm {
    host.start_vm().unwrap()
}

#[test]
fn another_callers_tasks_result_get_and_cancel_are_refused_without_reaching_the_server() {
    let host = warden_host(&configuration()).unwrap();
    let (mut alice_vm, mut mallory_vm) = (start(&host), start(&host));
    create_task(&mut alice_vm, "alice", TASK);
    for method in ["tasks/result", "tasks/get", "tasks/cancel"] {
        let mut stream = task_request(&mut mallory_vm, "mallory", method, TASK);
        assert_task_refused(&stream, TASK);
        stream.finish().unwrap();
        let records = audit_records(&stream).unwrap();
        assert_eq!(records[0]["decision"], "deny");
        assert!(records[0]["jsonrpc_error"]["message"]
            .as_str()
            .unwrap()
            .contains("created by another caller"));
    }
    // A task id Warden never saw answer is refused the same way (its owner is unknown).
    let stream = task_request(&mut mallory_vm, "mallory", "tasks/result", "never-created");
    assert_task_refused(&stream, "never-created");
}

#[test]
fn the_owners_tasks_result_is_masked_with_the_profile_of_the_rule_that_allowed_the_call() {
    let host = warden_host(&configuration()).unwrap();
    let (mut creating_vm, mut reading_vm) = (start(&host), start(&host));
    create_task(&mut creating_vm, "alice", TASK);
    let mut stream = task_request(&mut reading_vm, "alice", "tasks/result", TASK);
    assert!(
        stream.local_response().is_none(),
        "the owner's read goes on"
    );
    let result = sensitive_result(7).to_string();
    let out = send_response(&mut stream, "application/json", &[result.as_bytes()]).unwrap();
    let text = json_body(&out).unwrap()["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    // `allow-support-tools` masks e-mails only: the card stays (the strictest profile would mask
    // it), the e-mail goes (the `allow-tasks` rule's default profile would keep it).
    assert!(!text.contains(EMAIL), "{text}");
    assert!(text.contains("[REDACTED:EMAIL_ADDRESS]"), "{text}");
    assert!(text.contains(CARD), "{text}");
    stream.finish().unwrap();
    let records = audit_records(&stream).unwrap();
    assert_eq!(records[0]["method"], "tasks/result");
    assert_eq!(records[0]["decision"], "allow");
    assert_eq!(records[0]["rule"], "allow-support-tools");
}

/// The ids of `n` distinct task ids that fall into the bucket of `task_id` (SHA-256 of the id, first
/// two bytes big-endian, modulo 1024: `warden_core::origins::bucket_of`).
fn same_bucket(task_id: &str, n: usize) -> Vec<String> {
    let bucket = |id: &str| {
        let digest = Sha256::digest(id.as_bytes());
        usize::from(u16::from_be_bytes([digest[0], digest[1]])) % 1024
    };
    (0..)
        .map(|i| format!("flood-{i}"))
        .filter(|id| bucket(id) == bucket(task_id))
        .take(n)
        .collect()
}

#[test]
fn a_task_evicted_by_newer_ones_is_refused_even_to_its_owner() {
    let host = warden_host(&configuration()).unwrap();
    let (mut alice_vm, mut mallory_vm) = (start(&host), start(&host));
    create_task(&mut alice_vm, "alice", TASK);
    let flood = same_bucket(TASK, 4);
    for id in &flood[..3] {
        create_task(&mut mallory_vm, "mallory", id);
    }
    let mut stream = task_request(&mut alice_vm, "alice", "tasks/get", TASK);
    assert!(
        stream.local_response().is_none(),
        "three newer tasks leave room"
    );
    stream.finish().unwrap();
    create_task(&mut mallory_vm, "mallory", &flood[3]);
    // Fail closed: the owner is unknown now, so nobody reads the task through Warden.
    for sub in ["alice", "mallory"] {
        let stream = task_request(&mut alice_vm, sub, "tasks/result", TASK);
        assert_task_refused(&stream, TASK);
    }
    let stream = task_request(&mut mallory_vm, "mallory", "tasks/get", &flood[0]);
    assert!(stream.local_response().is_none(), "the newer tasks stay");
}

/// GET request headers of `sub` resuming after `last_event_id` in session `session-1`.
fn resumption_headers(sub: &str, last_event_id: &str) -> Vec<(String, String)> {
    let mut headers = post_headers(Some(&token(sub)));
    headers.retain(|(name, _)| name != ":method" && name != "content-type");
    headers.push((":method".into(), "GET".into()));
    headers.push(("last-event-id".into(), last_event_id.into()));
    headers
}

/// `alice` calls `search_customers`; the server answers on an SSE stream whose events carry ids
/// `s1_0` (priming) and `s1_1`, then the client loses the stream.
fn interrupted_call(vm: &mut Vm) {
    let mut stream = vm.http_stream().unwrap();
    let body = tool_call(1, "search_customers", json!({"query": "jane"})).to_string();
    send_request(
        &mut stream,
        &post_headers(Some(&token("alice"))),
        &[body.as_bytes()],
    )
    .unwrap();
    let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
        "params": {"progressToken": 1, "progress": 1}});
    let events = format!("id: s1_0\ndata:\n\nid: s1_1\nevent: message\ndata: {progress}\n\n");
    send_response(&mut stream, "text/event-stream", &[events.as_bytes()]).unwrap();
    stream.finish().unwrap();
}

#[test]
fn a_resumed_stream_is_masked_with_the_profile_of_the_call_that_started_it() {
    let host = warden_host(&configuration()).unwrap();
    let (mut calling_vm, mut resuming_vm) = (start(&host), start(&host));
    interrupted_call(&mut calling_vm);
    let mut stream = resuming_vm.http_stream().unwrap();
    let headers = resumption_headers("alice", "s1_1");
    assert_eq!(
        stream.request_headers(&borrowed(&headers), true).unwrap(),
        Action::Continue
    );
    let event = format!(
        "id: s1_2\nevent: message\ndata: {}\n\n",
        sensitive_result(1)
    );
    let out = send_response(&mut stream, "text/event-stream", &[event.as_bytes()]).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains(EMAIL), "{out}");
    assert!(
        out.contains(CARD),
        "masked with allow-support-tools' profile, not the strictest: {out}"
    );
    stream.finish().unwrap();
    let records = audit_records(&stream).unwrap();
    assert_eq!(records[0]["http_method"], "GET");
    assert_eq!(records[0]["rule"], "allow-support-tools");
    // The resumed stream's own events resume the same way.
    let mut again = calling_vm.http_stream().unwrap();
    let headers = resumption_headers("alice", "s1_2");
    again.request_headers(&borrowed(&headers), true).unwrap();
    let out = send_response(&mut again, "text/event-stream", &[event.as_bytes()]).unwrap();
    assert!(String::from_utf8(out).unwrap().contains(CARD));
}

#[test]
fn another_caller_cannot_resume_a_stream_and_an_unknown_one_gets_the_strictest_profile() {
    let host = warden_host(&configuration()).unwrap();
    let (mut alice_vm, mut mallory_vm) = (start(&host), start(&host));
    interrupted_call(&mut alice_vm);
    let mut stream = mallory_vm.http_stream().unwrap();
    let headers = resumption_headers("mallory", "s1_1");
    assert_eq!(
        stream.request_headers(&borrowed(&headers), true).unwrap(),
        Action::Pause
    );
    let reply = stream.local_response().expect("refused by Warden");
    assert_eq!(reply.status, 403);
    assert!(String::from_utf8_lossy(&reply.body).contains("another caller"));
    assert!(!stream.request().headers_released);
    stream.finish().unwrap();
    assert_eq!(audit_records(&stream).unwrap()[0]["decision"], "deny");

    let mut unknown = mallory_vm.http_stream().unwrap();
    let headers = resumption_headers("mallory", "s9_4");
    unknown.request_headers(&borrowed(&headers), true).unwrap();
    let event = format!("id: s9_5\ndata: {}\n\n", sensitive_result(1));
    let out = send_response(&mut unknown, "text/event-stream", &[event.as_bytes()]).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains(EMAIL) && !out.contains(CARD), "{out}");
}

/// The server's `tasks/list` result for request `id` (MCP 2025-11-25 `ListTasksResult`): every task of
/// `task_ids`, as a server that does not scope tasks by caller lists them, and a `nextCursor`.
fn task_list_result(id: i64, task_ids: &[&str]) -> Value {
    let tasks: Vec<Value> = task_ids
        .iter()
        .map(|task_id| json!({"taskId": task_id, "status": "working",
            "createdAt": "2025-11-25T10:30:00Z", "lastUpdatedAt": "2025-11-25T10:30:00Z", "ttl": 60000}))
        .collect();
    json!({"jsonrpc": "2.0", "id": id, "result": {"tasks": tasks, "nextCursor": "page-2"}})
}

/// The task ids of a `tasks/list` answer as the client decodes it, checking that the rest of the
/// result (`nextCursor`) is kept.
fn listed_tasks(message: &Value) -> Vec<String> {
    assert_eq!(message["result"]["nextCursor"], "page-2", "{message}");
    message["result"]["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("no tasks array: {message}"))
        .iter()
        .map(|task| task["taskId"].as_str().unwrap().to_owned())
        .collect()
}

/// `sub` lists tasks on `vm`; the server answers with every task of `task_ids` as `application/json`
/// (`sse`: as one SSE event). Returns the task ids the client gets, and the audit records.
fn list_tasks(vm: &mut Vm, sub: &str, task_ids: &[&str], sse: bool) -> (Vec<String>, Vec<Value>) {
    let mut stream = vm.http_stream().unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tasks/list", "params": {}});
    send_request(
        &mut stream,
        &post_headers(Some(&token(sub))),
        &[body.to_string().as_bytes()],
    )
    .unwrap();
    assert!(stream.local_response().is_none(), "tasks/list is forwarded");
    let answer = task_list_result(9, task_ids).to_string();
    let message = if sse {
        let events = format!("id: l_0\ndata:\n\nid: l_1\nevent: message\ndata: {answer}\n\n");
        let out = send_response(&mut stream, "text/event-stream", &[events.as_bytes()]).unwrap();
        let out = String::from_utf8(out).unwrap();
        let data = out
            .lines()
            .find_map(|line| line.strip_prefix("data: "))
            .unwrap_or_else(|| panic!("no data line: {out}"));
        json_body(data.as_bytes()).unwrap()
    } else {
        let out = send_response(&mut stream, "application/json", &[answer.as_bytes()]).unwrap();
        json_body(&out).unwrap()
    };
    stream.finish().unwrap();
    (listed_tasks(&message), audit_records(&stream).unwrap())
}

#[test]
fn tasks_list_shows_each_caller_only_its_own_tasks_and_drops_forgotten_ones() {
    let host = warden_host(&configuration()).unwrap();
    let (mut alice_vm, mut bob_vm) = (start(&host), start(&host));
    let (alice_1, alice_2, bob_1) = ("task-alice-1", "task-alice-2", "task-bob-1");
    create_task(&mut alice_vm, "alice", alice_1);
    create_task(&mut alice_vm, "alice", alice_2);
    create_task(&mut bob_vm, "bob", bob_1);
    let everything = [alice_1, bob_1, "never-seen", alice_2];
    for sse in [false, true] {
        // Each caller lists on the other's VM: what binds them is shared data.
        let (alice_sees, records) = list_tasks(&mut bob_vm, "alice", &everything, sse);
        assert_eq!(alice_sees, [alice_1, alice_2], "sse: {sse}");
        assert_eq!(records[0]["method"], "tasks/list");
        assert_eq!(records[0]["decision"], "allow");
        let (bob_sees, _) = list_tasks(&mut alice_vm, "bob", &everything, sse);
        assert_eq!(bob_sees, [bob_1], "sse: {sse}");
    }
    // Alice's first task is forgotten (evicted by newer tasks in its bucket): it disappears from her
    // list too, as reads of it are refused.
    for id in &same_bucket(alice_1, 4) {
        create_task(&mut bob_vm, "bob", id);
    }
    let (alice_sees, _) = list_tasks(&mut alice_vm, "alice", &everything, false);
    assert_eq!(alice_sees, [alice_2]);
}

#[test]
fn a_tasks_list_answer_delivered_on_a_resumed_stream_is_filtered_too() {
    let host = warden_host(&configuration()).unwrap();
    let (mut alice_vm, mut bob_vm) = (start(&host), start(&host));
    create_task(&mut alice_vm, "alice", "task-alice-1");
    create_task(&mut bob_vm, "bob", "task-bob-1");
    // Alice's tasks/list is answered on an SSE stream she loses after its priming event.
    let mut stream = alice_vm.http_stream().unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tasks/list"});
    send_request(
        &mut stream,
        &post_headers(Some(&token("alice"))),
        &[body.to_string().as_bytes()],
    )
    .unwrap();
    send_response(&mut stream, "text/event-stream", &[b"id: l9_0\ndata:\n\n"]).unwrap();
    stream.finish().unwrap();
    // She resumes it on another VM; the server delivers the listing there.
    let mut resumed = bob_vm.http_stream().unwrap();
    let headers = resumption_headers("alice", "l9_0");
    assert_eq!(
        resumed.request_headers(&borrowed(&headers), true).unwrap(),
        Action::Continue
    );
    let answer = task_list_result(9, &["task-bob-1", "task-alice-1"]);
    let event = format!("id: l9_1\nevent: message\ndata: {answer}\n\n");
    let out = send_response(&mut resumed, "text/event-stream", &[event.as_bytes()]).unwrap();
    let out = String::from_utf8(out).unwrap();
    let data = out.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    assert_eq!(
        listed_tasks(&json_body(data.as_bytes()).unwrap()),
        ["task-alice-1"]
    );
}
