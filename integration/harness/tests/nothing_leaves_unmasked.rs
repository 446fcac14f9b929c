//! Nothing leaves unmasked, through the release .wasm: a buffered JSON body that ends in trailers, a final
//! SSE event without its blank line, member names, and GET streams whose originating call is unknown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proxy_wasm_host::{Action, HttpStream};
use serde_json::{json, Value};
use warden_harness::{
    borrowed, demo, demo_configuration, post_headers, send_request, tool_call, warden_host,
    DevSigner,
};

const CARD: &str = "4111 1111 1111 1111";
const EMAIL: &str = "jane@example.com";

fn token() -> String {
    DevSigner::load()
        .unwrap()
        .token("alice", &["support"])
        .unwrap()
}

fn sensitive_result() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text",
        "text": format!("card {CARD}, mail {EMAIL}")}]}})
}

/// Sends an allowed `tools/call` on `stream`.
fn allowed_call(stream: &mut HttpStream<'_>) {
    let body = tool_call(1, "search_customers", json!({"query": "jane"})).to_string();
    send_request(stream, &post_headers(Some(&token())), &[body.as_bytes()]).unwrap();
    assert!(stream.local_response().is_none());
}

/// Response headers `:status 200` with `content_type`, a body to follow.
fn start_response(stream: &mut HttpStream<'_>, content_type: &str) {
    stream
        .response_headers(&[(":status", "200"), ("content-type", content_type)], false)
        .unwrap();
}

fn assert_no_clear_value(out: &[u8]) {
    let out = String::from_utf8_lossy(out);
    for clear in [CARD, EMAIL] {
        assert!(!out.contains(clear), "{clear} left Warden in clear: {out}");
    }
}

#[test]
fn a_json_body_that_ends_in_trailers_is_masked_before_it_is_released() {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    allowed_call(&mut stream);
    start_response(&mut stream, "application/json");
    let body = sensitive_result().to_string();
    let (first, second) = body.as_bytes().split_at(body.len() / 2);
    assert_eq!(stream.response_body(first, false).unwrap(), Action::Pause);
    assert_eq!(stream.response_body(second, false).unwrap(), Action::Pause);
    assert!(
        stream.response().forwarded.is_empty(),
        "nothing before the end"
    );
    stream.response_trailers(&[("grpc-status", "0")]).unwrap();
    let out = stream.response().forwarded;
    assert_no_clear_value(&out);
    let masked: Value = serde_json::from_slice(&out).unwrap();
    assert!(masked["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("[REDACTED:CREDIT_CARD]"));
}

#[test]
fn an_sse_stream_ending_in_trailers_withholds_its_unterminated_event() {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    allowed_call(&mut stream);
    start_response(&mut stream, "text/event-stream");
    let complete = format!("event: message\ndata: {}\n\n", sensitive_result());
    let unterminated = format!("event: message\ndata: {}", sensitive_result());
    stream.response_body(complete.as_bytes(), false).unwrap();
    stream
        .response_body(unterminated.as_bytes(), false)
        .unwrap();
    stream.response_trailers(&[("x-trailer", "1")]).unwrap();
    let out = stream.response().forwarded;
    assert_no_clear_value(&out);
    assert_eq!(
        String::from_utf8_lossy(&out).matches("data:").count(),
        1,
        "only the complete event is released"
    );
}

#[test]
fn a_final_sse_event_without_its_blank_line_is_masked() {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    allowed_call(&mut stream);
    start_response(&mut stream, "text/event-stream");
    let unterminated = format!("event: message\ndata: {}", sensitive_result());
    stream.response_body(unterminated.as_bytes(), true).unwrap();
    let out = stream.response().forwarded;
    assert_no_clear_value(&out);
    assert!(String::from_utf8_lossy(&out).contains("[REDACTED:EMAIL_ADDRESS]"));
}

/// A JSON response (id 1) of `result` to an allowed call, as the client receives it.
fn through_warden(result: &Value) -> Vec<u8> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "result": result}).to_string();
    body_through_warden(&body)
}

/// The JSON response `body` to an allowed call, as the client receives it.
fn body_through_warden(body: &str) -> Vec<u8> {
    let (_host, mut vm) = demo().unwrap();
    let mut stream = vm.http_stream().unwrap();
    allowed_call(&mut stream);
    start_response(&mut stream, "application/json");
    stream.response_body(body.as_bytes(), true).unwrap();
    stream.response().forwarded
}

#[test]
fn member_names_are_masked_like_values() {
    let out = through_warden(&json!({"structuredContent": {EMAIL: {"card": CARD}}, "content": []}));
    assert_no_clear_value(&out);
    let masked: Value = serde_json::from_slice(&out).unwrap();
    assert!(masked["result"]["structuredContent"]["[REDACTED:EMAIL_ADDRESS]"].is_object());
}

/// The demo configuration with a weak default profile (cards only) and a rule that masks e-mails.
fn split_profiles_configuration() -> Vec<u8> {
    let mut config: Value = serde_json::from_slice(&demo_configuration().unwrap()).unwrap();
    config["masking"] = json!({
        "profiles": {"cards": {"detectors": ["CREDIT_CARD"]},
                     "emails": {"detectors": ["EMAIL_ADDRESS"]}},
        "default_profile": "cards"});
    config["policy"]["rules"][1]["mask"] = json!("emails");
    config.to_string().into_bytes()
}

#[test]
fn a_resumed_get_stream_is_masked_with_the_strictest_profile_of_the_policy() {
    let host = warden_host(&split_profiles_configuration()).unwrap();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let mut headers = post_headers(Some(&token()));
    headers.retain(|(name, _)| name != ":method" && name != "content-type");
    headers.push((":method".into(), "GET".into()));
    headers.push(("last-event-id".into(), "stream-1/7".into()));
    assert_eq!(
        stream.request_headers(&borrowed(&headers), true).unwrap(),
        Action::Continue
    );
    start_response(&mut stream, "text/event-stream");
    let event = format!(
        "id: stream-1/8\nevent: message\ndata: {}\n\n",
        sensitive_result()
    );
    stream.response_body(event.as_bytes(), true).unwrap();
    let out = stream.response().forwarded;
    assert_no_clear_value(&out);
}

/// Asserts that `clear` reaches the client in neither copy of a result carrying `object` as
/// `structuredContent` and as its JSON text (`offset` names the case).
fn assert_masked_in_text_and_structure(object: Value, clear: &str, offset: usize) {
    let result = json!({"content": [{"type": "text", "text": object.to_string()}],
                        "structuredContent": object});
    let out = String::from_utf8(through_warden(&result)).unwrap();
    assert!(
        !out.contains(clear),
        "{clear} left in clear at offset {offset}: {out}"
    );
}

/// The pre-scan classifies sixteen bytes at a time and finds secret names, GitHub and Stripe keys and
/// passports at their `:`, `_` and `p`: each must be masked wherever it falls in those blocks (every
/// offset, in a structured result and in its text, nothing else in the body to stop at).
#[test]
fn secrets_the_pre_scan_finds_at_colons_underscores_and_p_are_masked_at_every_offset() {
    let github = format!("ghp_{}", "a1B2".repeat(9));
    let stripe = format!("rk_live_{}", "Zq9x".repeat(6));
    let pat = format!("github_pat_{}", "Q7w".repeat(8));
    let passport = "Passport no. 123456789";
    for offset in 0..40 {
        let pad = "w".repeat(offset);
        for (name, value, clear) in [
            ("note", format!("{pad} {github}"), github.clone()),
            ("note", format!("{pad} {stripe}"), stripe.clone()),
            ("note", format!("{pad} {pat}"), pat.clone()),
            ("note", format!("{pad} {passport}"), "123456789".to_owned()),
            (
                &*format!("{pad}password"),
                "hunter2hunter2".to_owned(),
                "hunter2".to_owned(),
            ),
            (
                &*format!("{pad}api_Token"),
                "s3cr3t-v4lue".to_owned(),
                "s3cr3t".to_owned(),
            ),
        ] {
            assert_masked_in_text_and_structure(json!({ name: value }), &clear, offset);
        }
    }
}

/// Raw JSON may hide a value from the pre-scan's other triggers in two ways: a `\u` escape (here the
/// `@` of an e-mail address) and a base64 resource blob. The pre-scan finds both in the same
/// sixteen-byte blocks as the rest, so each must be masked wherever it falls in those blocks (every
/// offset, nothing else in the body to stop at).
#[test]
fn values_behind_an_escape_or_in_a_blob_are_masked_at_every_offset() {
    use base64::{engine::general_purpose::STANDARD, Engine as _};
    // `amFuZUBleGFtcGxlLmNvbQ==`: base64 that fires no other trigger.
    let blob = STANDARD.encode(EMAIL);
    for offset in 0..40 {
        let pad = "w".repeat(offset);
        // The address's `@` as `\u0040` (its digits before no exponent marker), in the structured
        // result and in its text (escaped again).
        let escaped = format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":{{"content":[{{"type":"text","text":"{{\"note\":\"{pad} jane\\u0040mail.example.com\"}}"}}],"structuredContent":{{"note":"{pad} jane\u0040mail.example.com"}}}}}}"#
        );
        let out = String::from_utf8(body_through_warden(&escaped)).unwrap();
        assert_eq!(
            out.matches("[REDACTED:EMAIL_ADDRESS]").count(),
            2,
            "offset {offset}: {out}"
        );
        let resource = json!({"content": [{"type": "resource", "resource": {
            "uri": format!("file:///{pad}"), "mimeType": "text/plain", "blob": blob}}]});
        let out = String::from_utf8(through_warden(&resource)).unwrap();
        let masked: Value = serde_json::from_str(&out).unwrap();
        let masked_blob = masked["result"]["content"][0]["resource"]["blob"]
            .as_str()
            .unwrap();
        assert_eq!(
            STANDARD.decode(masked_blob).unwrap(),
            b"[REDACTED:EMAIL_ADDRESS]",
            "offset {offset}: {out}"
        );
    }
}

/// The pre-scan passes over RFC 3339 timestamps after a quote without stopping in them: what follows
/// one (an offset, a fraction, text) is still read, wherever the timestamp falls in the sixteen-byte
/// blocks the pre-scan classifies.
#[test]
fn values_right_after_timestamps_are_masked_at_every_offset() {
    let github = format!("ghp_{}", "a1B2".repeat(9));
    for offset in 0..40 {
        let pad = "w".repeat(offset);
        for (value, clear) in [
            (
                "2026-11-21T10:00:00-05:00 card 4111 1111 1111 1111".to_owned(),
                "4111 1111",
            ),
            (
                "2026-11-21T10:00:00.5 mail a.b@example.com".to_owned(),
                "a.b@",
            ),
            (format!("2026-11-21T10:00:00Z {github}"), &*github),
        ] {
            let object = json!({ format!("{pad}updated"): value });
            assert_masked_in_text_and_structure(object, clear, offset);
        }
    }
}
