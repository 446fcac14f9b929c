//! Request decoding through the release .wasm: Warden judges exactly the bytes the MCP server will decode.
//! A declared non-UTF-8 charset, a non-JSON media type or a request `Content-Encoding` is refused with
//! 415 before anything is forwarded; what is forwarded carries the `Content-Type` Warden wrote; a body on
//! a method other than POST never reaches the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proxy_wasm_host::{Action, Direction, LocalResponse};
use serde_json::{json, Value};
use warden_harness::{
    audit_records, borrowed, demo, json_body, post_headers, send_request, tool_call, DevSigner,
};

fn alice() -> String {
    DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap()
}

/// POST headers with every `content-type` replaced by `content_types` and `extra` appended.
fn headers_with(content_types: &[&str], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = post_headers(Some(&alice()))
        .into_iter()
        .filter(|(name, _)| name != "content-type")
        .collect();
    for ct in content_types {
        headers.push(("content-type".to_owned(), (*ct).to_owned()));
    }
    for (name, value) in extra {
        headers.push(((*name).to_owned(), (*value).to_owned()));
    }
    headers
}

fn allowed_call() -> String {
    tool_call(1, "search_customers", json!({"query": "acme"})).to_string()
}

/// Sends an allowed tool call with `headers`; returns the local reply (if any), the request as the
/// upstream side saw it, and the audit records.
fn send(headers: &[(String, String)]) -> (Option<LocalResponse>, Direction, Vec<Value>) {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    send_request(&mut stream, headers, &[allowed_call().as_bytes()]).unwrap();
    let records = audit_records(&stream).unwrap_or_default();
    (stream.local_response(), stream.request(), records)
}

fn assert_refused_415(headers: &[(String, String)], header: &str, case: &str) {
    let (local, request, records) = send(headers);
    let local =
        local.unwrap_or_else(|| panic!("{case}: expected a 415, the request was forwarded"));
    assert_eq!(local.status, 415, "{case}");
    let body = json_body(&local.body).unwrap();
    assert_eq!(body["error"]["code"], -32600, "{case}: {body}");
    assert_eq!(body["error"]["data"]["header"], header, "{case}: {body}");
    assert_eq!(body["id"], Value::Null, "{case}");
    assert!(
        request.forwarded.is_empty() && !request.headers_released,
        "{case}: nothing may reach the upstream"
    );
    assert_eq!(records.len(), 1, "{case}: one audit record");
    assert_eq!(records[0]["decision"], "invalid", "{case}");
}

#[test]
fn non_utf8_charsets_are_refused_with_415_in_every_spelling() {
    for ct in [
        "application/json; charset=utf-7",
        "application/json;charset=UTF-7",
        "application/json; Charset=\"utf-7\"",
        "application/json; charset=utf-16le",
        "application/json; charset=iso-8859-1",
        "application/json; charset=utf-8; charset=utf-7",
        "application/json; charset=utf-7; charset=utf-8",
    ] {
        assert_refused_415(&headers_with(&[ct], &[]), "content-type", ct);
    }
}

#[test]
fn a_second_content_type_header_is_refused() {
    assert_refused_415(
        &headers_with(
            &["application/json", "application/json; charset=utf-7"],
            &[],
        ),
        "content-type",
        "two content-type headers",
    );
}

#[test]
fn non_json_media_types_are_refused_with_415() {
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "text/json",
        "application/json-seq",
    ] {
        assert_refused_415(&headers_with(&[ct], &[]), "content-type", ct);
    }
}

#[test]
fn a_request_content_encoding_is_refused_with_415() {
    for encoding in ["gzip", "identity", "deflate"] {
        assert_refused_415(
            &headers_with(&["application/json"], &[("content-encoding", encoding)]),
            "content-encoding",
            encoding,
        );
    }
}

#[test]
fn forwarded_requests_carry_the_content_type_warden_wrote() {
    for content_types in [
        vec!["application/json; charset=UTF-8; foo=bar"],
        vec!["Application/JSON"],
        vec!["application/json; charset=\"utf-8\""],
        vec![],
    ] {
        let (local, request, _) = send(&headers_with(&content_types, &[]));
        assert!(local.is_none(), "{content_types:?}: {local:?}");
        assert!(request.headers_released && request.forwarded == allowed_call().as_bytes());
        assert_eq!(
            request.header_values("content-type"),
            vec!["application/json"],
            "{content_types:?}"
        );
    }
}

fn get_headers() -> Vec<(String, String)> {
    let mut headers = headers_with(&[], &[]);
    for (name, value) in headers.iter_mut() {
        if name == ":method" {
            *value = "GET".to_owned();
        }
    }
    headers
}

#[test]
fn a_body_on_get_is_refused_and_never_forwarded() {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let action = stream
        .request_headers(&borrowed(&get_headers()), false)
        .unwrap();
    assert_eq!(
        action,
        Action::Pause,
        "headers wait until the body is known"
    );
    assert!(!stream.request().headers_released);
    stream
        .request_body(allowed_call().as_bytes(), true)
        .unwrap();
    let local = stream.local_response().expect("a local reply");
    assert_eq!(local.status, 400);
    let body = json_body(&local.body).unwrap();
    assert_eq!(body["error"]["data"]["method"], "GET");
    let request = stream.request();
    assert!(request.forwarded.is_empty() && !request.headers_released);
}

#[test]
fn a_get_whose_body_is_empty_continues() {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    stream
        .request_headers(&borrowed(&get_headers()), false)
        .unwrap();
    assert_eq!(stream.request_body(b"", true).unwrap(), Action::Continue);
    assert!(stream.local_response().is_none());
    assert!(stream.request().headers_released);

    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    assert_eq!(
        stream
            .request_headers(&borrowed(&get_headers()), true)
            .unwrap(),
        Action::Continue
    );
    assert!(stream.local_response().is_none());
}
