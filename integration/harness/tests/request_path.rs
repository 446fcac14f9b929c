//! Request path through the release .wasm: authentication, policy decisions, body parsing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proxy_wasm_host::{Action, LocalResponse};
use serde_json::{json, Value};
use warden_harness::{borrowed, demo, json_body, post_headers, send_request, tool_call, DevSigner};

fn alice() -> String {
    DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap()
}

fn denial(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32003,
        "message": "tool call denied by policy rule \"block-delete-customer\"",
        "data": {"rule": "block-delete-customer", "tool": "delete_customer"}}})
}

/// Sends one POST with `body` split into `chunks`; returns (local response, forwarded body, headers released).
fn post(token: Option<&str>, chunks: &[&[u8]]) -> (Option<LocalResponse>, Vec<u8>, bool) {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    send_request(&mut stream, &post_headers(token), chunks).unwrap();
    let request = stream.request();
    (
        stream.local_response(),
        request.forwarded,
        request.headers_released,
    )
}

fn header<'a>(local: &'a LocalResponse, name: &str) -> Option<&'a str> {
    local
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn allowed_call_continues_after_the_body_without_authorization_or_accept_encoding() {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let body = tool_call(1, "search_customers", json!({"query": "acme"})).to_string();
    let headers = post_headers(Some(&alice()));
    assert_eq!(
        stream.request_headers(&borrowed(&headers), false).unwrap(),
        Action::Pause
    );
    assert!(
        !stream.request().headers_released,
        "headers must wait for the body"
    );
    assert_eq!(
        stream.request_body(body.as_bytes(), true).unwrap(),
        Action::Continue
    );
    assert!(stream.local_response().is_none());
    let request = stream.request();
    assert!(request.headers_released);
    assert_eq!(request.forwarded, body.as_bytes());
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.header("accept-encoding"), None);
    assert_eq!(request.header(":path"), Some("/mcp"));
}

#[test]
fn denied_delete_customer_is_answered_with_jsonrpc_error_32003() {
    let body = tool_call(7, "delete_customer", json!({"id": "c-1"})).to_string();
    let (local, forwarded, released) = post(Some(&alice()), &[body.as_bytes()]);
    let local = local.expect("a local response");
    assert_eq!(local.status, 200);
    assert_eq!(header(&local, "content-type"), Some("application/json"));
    assert_eq!(json_body(&local.body).unwrap(), denial(7));
    assert!(
        forwarded.is_empty() && !released,
        "nothing may reach the upstream"
    );
}

#[test]
fn batch_with_a_denied_call_is_refused_whole_with_one_error_per_request() {
    let batch = json!([
        tool_call(1, "search_customers", json!({})),
        tool_call(2, "delete_customer", json!({}))
    ]);
    let (local, forwarded, released) = post(Some(&alice()), &[batch.to_string().as_bytes()]);
    let local = local.expect("a local response");
    assert_eq!(local.status, 200);
    let errors = json_body(&local.body).unwrap();
    let errors = errors.as_array().expect("an array of errors");
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[1], denial(2));
    assert_eq!(errors[0]["id"], 1);
    assert_eq!(errors[0]["error"]["code"], -32003);
    assert_eq!(errors[0]["error"]["data"]["rule"], "block-delete-customer");
    assert!(forwarded.is_empty() && !released);
}

fn assert_unauthenticated(token: Option<&str>, error: &str) {
    let body = tool_call(1, "echo", json!({"text": "hi"})).to_string();
    let (local, forwarded, released) = post(token, &[body.as_bytes()]);
    let local = local.expect("a local 401");
    assert_eq!(local.status, 401);
    let challenge = header(&local, "www-authenticate").expect("WWW-Authenticate");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let parsed = json_body(&local.body).unwrap();
    assert_eq!(parsed["error"], error, "{parsed}");
    assert!(parsed["error_description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    assert!(forwarded.is_empty() && !released);
}

#[test]
fn missing_token_is_refused_with_401_invalid_request() {
    assert_unauthenticated(None, "invalid_request");
}

#[test]
fn expired_token_is_refused_with_401_invalid_token() {
    let token = DevSigner::load().unwrap().expired_token("alice").unwrap();
    assert_unauthenticated(Some(&token), "invalid_token");
}

#[test]
fn token_forged_with_another_key_is_refused_with_401_invalid_token() {
    assert_unauthenticated(
        Some(&DevSigner::forged_token("alice").unwrap()),
        "invalid_token",
    );
}

#[test]
fn two_authorization_headers_are_refused_with_401() {
    let token = alice();
    let mut headers = post_headers(Some(&token));
    headers.push(("authorization".to_string(), format!("Bearer {token}")));
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    send_request(
        &mut stream,
        &headers,
        &[tool_call(1, "echo", json!({})).to_string().as_bytes()],
    )
    .unwrap();
    assert_eq!(stream.local_response().expect("a local 401").status, 401);
    assert!(!stream.request().headers_released);
}

#[test]
fn invalid_json_is_answered_400_with_parse_error_32700() {
    let (local, forwarded, _) = post(Some(&alice()), &[b"{\"jsonrpc\": \"2.0\", \"id\": 1,"]);
    let local = local.expect("a local 400");
    assert_eq!(local.status, 400);
    let parsed = json_body(&local.body).unwrap();
    assert_eq!(parsed["error"]["code"], -32700);
    assert_eq!(parsed["id"], Value::Null);
    assert!(forwarded.is_empty());
}

#[test]
fn duplicate_keys_are_refused_not_guessed() {
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"delete_customer","arguments":{}}}"#;
    let (local, forwarded, released) = post(Some(&alice()), &[body]);
    let local = local.expect("a local refusal");
    assert_eq!(local.status, 400);
    assert!(forwarded.is_empty() && !released);
}

fn decision_for_split(body: &[u8], at: usize, token: &str) -> (Option<(u32, Vec<u8>)>, Vec<u8>) {
    let (local, forwarded, _) = post(Some(token), &[&body[..at], &body[at..]]);
    (local.map(|l| (l.status, l.body)), forwarded)
}

#[test]
fn request_body_split_at_every_offset_gives_the_same_decision() {
    let token = alice();
    for call in [
        tool_call(3, "get_invoice", json!({"id": "inv-é"})),
        tool_call(4, "delete_customer", json!({"id": "c"})),
    ] {
        let body = call.to_string().into_bytes();
        let whole = decision_for_split(&body, body.len(), &token);
        for at in 1..body.len() {
            assert_eq!(
                decision_for_split(&body, at, &token),
                whole,
                "split at byte {at} of {call}"
            );
        }
    }
}

#[test]
fn body_completed_by_trailers_is_judged_in_the_trailers_callback() {
    let token = alice();
    for (tool, denied) in [("echo", false), ("delete_customer", true)] {
        let (_host, mut vm) = demo().unwrap();
        let mut stream = vm.http_stream().unwrap();
        let body = tool_call(5, tool, json!({"text": "x"})).to_string();
        stream
            .request_headers(&borrowed(&post_headers(Some(&token))), false)
            .unwrap();
        assert_eq!(
            stream.request_body(body.as_bytes(), false).unwrap(),
            Action::Pause
        );
        stream.request_trailers(&[("x-trailer", "1")]).unwrap();
        if denied {
            assert_eq!(
                json_body(&stream.local_response().expect("denied").body).unwrap(),
                denial(5)
            );
        } else {
            assert!(stream.local_response().is_none());
            assert_eq!(stream.request().forwarded, body.as_bytes());
        }
    }
}

#[test]
fn a_rule_on_input_responses_judges_the_answers_of_an_mrtr_retry() {
    let mut config: Value = json_body(&warden_harness::demo_configuration().unwrap()).unwrap();
    let rules = config["policy"]["rules"].as_array_mut().unwrap();
    rules.insert(
        0,
        json!({"id": "no-export-all", "action": "deny", "match": {"tool": "search_customers",
            "input_responses": [{"pointer": "/scope/content/rows", "equals": "all"}]}}),
    );
    let host = warden_harness::warden_host(config.to_string().as_bytes()).unwrap();
    let mut vm = host.start_vm().unwrap();
    let retry = |rows: &str| {
        let mut call = tool_call(7, "search_customers", json!({"query": "acme"}));
        call["params"]["inputResponses"] =
            json!({"scope": {"action": "accept", "content": {"rows": rows}}});
        call["params"]["requestState"] = json!("server-state-1");
        call.to_string()
    };
    let mut stream = vm.http_stream().unwrap();
    let body = retry("all");
    send_request(
        &mut stream,
        &post_headers(Some(&alice())),
        &[body.as_bytes()],
    )
    .unwrap();
    let local = stream
        .local_response()
        .expect("the answers are refused by the rule");
    let answer = json_body(&local.body).unwrap();
    assert_eq!(answer["error"]["code"], -32003, "{answer}");
    assert_eq!(answer["error"]["data"]["rule"], "no-export-all", "{answer}");
    assert!(stream.request().forwarded.is_empty());

    let mut stream = vm.http_stream().unwrap();
    let body = retry("first page");
    send_request(
        &mut stream,
        &post_headers(Some(&alice())),
        &[body.as_bytes()],
    )
    .unwrap();
    assert!(stream.local_response().is_none(), "other answers go on");
    assert_eq!(
        json_body(&stream.request().forwarded).unwrap(),
        json_body(body.as_bytes()).unwrap()
    );
}
