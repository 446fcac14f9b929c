//! MCP 2026-07-28 standard headers (SEP-2243) through the release .wasm: `Mcp-Method` and `Mcp-Name`
//! must mirror the body, so an Envoy route or rate limit keyed on them sees what Warden judged. Every
//! refusal is a 400 with a JSON-RPC error naming the header, and nothing reaches the upstream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proxy_wasm_host::{Direction, LocalResponse};
use serde_json::{json, Value};
use warden_harness::{
    audit_records, demo, json_body, post_headers, send_request, send_response, tool_call, DevSigner,
};

fn headers(protocol_version: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let token = DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap();
    let mut headers = post_headers(Some(&token));
    headers.push((
        "mcp-protocol-version".to_owned(),
        protocol_version.to_owned(),
    ));
    headers.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    headers
}

fn send(
    headers: &[(String, String)],
    body: &Value,
) -> (Option<LocalResponse>, Direction, Vec<Value>) {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    send_request(&mut stream, headers, &[body.to_string().as_bytes()]).unwrap();
    if stream.local_response().is_none() {
        send_response(&mut stream, "application/json", &[b"{}"]).unwrap();
        stream.finish().unwrap();
    }
    let records = audit_records(&stream).unwrap_or_default();
    (stream.local_response(), stream.request(), records)
}

fn assert_refused(headers: &[(String, String)], body: &Value, header: &str, case: &str) {
    let (local, request, records) = send(headers, body);
    let local =
        local.unwrap_or_else(|| panic!("{case}: expected a 400, the request was forwarded"));
    assert_eq!(local.status, 400, "{case}");
    let answer = json_body(&local.body).unwrap();
    assert_eq!(answer["error"]["code"], -32600, "{case}: {answer}");
    assert_eq!(
        answer["error"]["data"]["header"], header,
        "{case}: {answer}"
    );
    assert!(
        request.forwarded.is_empty(),
        "{case}: nothing may reach the upstream"
    );
    assert_eq!(records[0]["decision"], "invalid", "{case}");
}

fn search() -> Value {
    tool_call(1, "search_customers", json!({"query": "acme"}))
}

#[test]
fn a_name_header_naming_an_allowed_tool_cannot_carry_another_call() {
    let body = tool_call(1, "delete_customer", json!({"customer_id": "cus_001"}));
    for version in ["2026-07-28", "2025-11-25"] {
        let h = headers(
            version,
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "search_customers"),
            ],
        );
        assert_refused(&h, &body, "mcp-name", version);
    }
}

/// A refusal case: its name, the extra headers, the body, the header the refusal names.
type Case = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Value,
    &'static str,
);

#[test]
fn every_mismatch_and_header_without_its_counterpart_is_refused() {
    let cases: [Case; 5] = [
        (
            "method differs",
            vec![
                ("mcp-method", "tools/list"),
                ("mcp-name", "search_customers"),
            ],
            search(),
            "mcp-method",
        ),
        (
            "method repeated",
            vec![
                ("mcp-method", "tools/call"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "search_customers"),
            ],
            search(),
            "mcp-method",
        ),
        (
            "name on a method naming nothing",
            vec![("mcp-method", "tools/list"), ("mcp-name", "x")],
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            "mcp-name",
        ),
        (
            "headers missing in 2026-07-28",
            vec![],
            search(),
            "mcp-method",
        ),
        (
            "name missing in 2026-07-28",
            vec![("mcp-method", "tools/call")],
            search(),
            "mcp-name",
        ),
    ];
    for (case, extra, body, header) in cases {
        assert_refused(&headers("2026-07-28", &extra), &body, header, case);
    }
}

#[test]
fn matching_headers_including_base64_names_are_forwarded() {
    let h = headers(
        "2026-07-28",
        &[
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?c2VhcmNoX2N1c3RvbWVycw==?="),
        ],
    );
    let (local, request, records) = send(&h, &search());
    assert!(local.is_none(), "{local:?}");
    assert!(!request.forwarded.is_empty());
    assert_eq!(records[0]["decision"], "allow");
    assert_eq!(records[0]["protocol_version"], "2026-07-28");
    // Older clients that send no headers are judged as before.
    let (local, _, _) = send(&headers("2025-11-25", &[]), &search());
    assert!(local.is_none(), "{local:?}");
}

/// `search_customers` with `query: "acme"` and more arguments.
fn search_with(arguments: Value) -> Value {
    let mut body = search();
    for (k, v) in arguments.as_object().unwrap() {
        body["params"]["arguments"][k] = v.clone();
    }
    body
}

#[test]
fn a_param_header_that_differs_from_its_argument_or_has_none_is_refused() {
    let call = [
        ("mcp-method", "tools/call"),
        ("mcp-name", "search_customers"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = call.to_vec();
        all.extend_from_slice(extra);
        all
    };
    let cases: [Case; 7] = [
        (
            "value differs",
            with(&[("mcp-param-query", "other")]),
            search(),
            "mcp-param-query",
        ),
        (
            "no such argument",
            with(&[("mcp-param-region", "us-west1")]),
            search(),
            "mcp-param-region",
        ),
        (
            "argument is null",
            with(&[("mcp-param-region", "us-west1")]),
            search_with(json!({"region": null})),
            "mcp-param-region",
        ),
        (
            "integer differs",
            with(&[("mcp-param-limit", "10")]),
            search_with(json!({"limit": 1000})),
            "mcp-param-limit",
        ),
        (
            "an object has no header form",
            with(&[("mcp-param-filter", "{}")]),
            search_with(json!({"filter": {}})),
            "mcp-param-filter",
        ),
        (
            "base64 that decodes to another value",
            with(&[("mcp-param-query", "=?base64?b3RoZXI=?=")]),
            search(),
            "mcp-param-query",
        ),
        (
            "repeated",
            with(&[("mcp-param-query", "acme"), ("mcp-param-query", "acme")]),
            search(),
            "mcp-param-query",
        ),
    ];
    for (case, extra, body, header) in cases {
        assert_refused(&headers("2026-07-28", &extra), &body, header, case);
    }
    // A param header on a method without arguments has no counterpart either.
    assert_refused(
        &headers(
            "2026-07-28",
            &[("mcp-method", "tools/list"), ("mcp-param-query", "acme")],
        ),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        "mcp-param-query",
        "tools/list",
    );
}

#[test]
fn param_headers_that_mirror_their_arguments_are_forwarded() {
    let h = headers(
        "2026-07-28",
        &[
            ("mcp-method", "tools/call"),
            ("mcp-name", "search_customers"),
            ("mcp-param-query", "acme"),
            ("mcp-param-tenant-id", "=?base64?IHTDqW5hbnQg?="),
            ("mcp-param-limit", "10"),
            ("mcp-param-exact", "true"),
        ],
    );
    let body = search_with(json!({"tenant_id": " ténant ", "limit": 10, "exact": true}));
    let (local, request, records) = send(&h, &body);
    assert!(local.is_none(), "{local:?}");
    assert_eq!(request.forwarded, body.to_string().into_bytes());
    assert_eq!(records[0]["decision"], "allow");
}
