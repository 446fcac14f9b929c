//! The exchange's decisions, natively: every callback with real tokens (the dev ES256 key), the demo
//! policy with approvals, and the effects checked in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::rc::Rc;
use std::time::Duration;

use jwt_simple::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::engine::{Engine, Environment};
use crate::jwt::{KeySet, Verifier};

const DEV_ES256_PEM: &str = include_str!("../../../policies/dev/dev-signing-key-es256.pem");
const ISS: &str = "https://dev-issuer.warden.local";
/// 2027-01-15, inside the dev tokens' validity.
const NOW_SECONDS: u64 = 1_800_000_000;
const NOW: u128 = NOW_SECONDS as u128 * 1_000_000_000;

/// No remote issuer: never consulted by the demo configuration.
struct NoRemoteKeys;

impl KeySource for NoRemoteKeys {
    fn key_set(&self, _: &Verifier, _: usize) -> Option<Rc<KeySet>> {
        None
    }
}

fn config() -> Value {
    let mut config: Value =
        serde_json::from_str(include_str!("../../../policies/demo-approvals.json")).unwrap();
    config["resource_metadata"] = json!({"resource": "https://mcp.example.com/mcp"});
    config["identity_headers"] = json!(true);
    config["upstream_credential"] = json!({"header": "x-api-key", "env": "UPSTREAM_KEY"});
    config["limits"] = json!({"max_request_body_bytes": 256, "max_response_body_bytes": 512,
                              "max_sse_event_bytes": 256});
    config
}

/// The VM environment of the tests: the upstream credential, the internal secret and the MRTR
/// `requestState` key.
fn environment(name: &str) -> Option<String> {
    match name {
        "UPSTREAM_KEY" => Some("upstream-secret".into()),
        "WARDEN_INTERNAL_SECRET" => Some("internal-secret".into()),
        "WARDEN_MRTR_STATE_KEY" => Some("mrtr-state-key-0123456789abcdef0123".into()),
        _ => None,
    }
}

fn runtime_of(config: &Value) -> Runtime {
    let engine = Engine::load(
        config.to_string().as_bytes(),
        Environment::Read(&environment),
    )
    .unwrap();
    Runtime::new(engine)
}

fn runtime() -> Runtime {
    runtime_of(&config())
}

fn token(sub: &str, groups: &[&str]) -> String {
    let key = ES256KeyPair::from_pem(DEV_ES256_PEM)
        .unwrap()
        .with_key_id("warden-dev-es256");
    let claims =
        Claims::with_custom_claims(json!({"groups": groups}), Duration::from_secs(3600).into())
            .with_issuer(ISS)
            .with_audience("warden-demo")
            .with_subject(sub);
    let mut claims = claims;
    claims.issued_at = Some(UnixTimeStamp::from_secs(NOW_SECONDS - 10));
    claims.expires_at = Some(UnixTimeStamp::from_secs(NOW_SECONDS + 3600));
    claims.invalid_before = None;
    key.sign(claims).unwrap()
}

fn headers(method: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut headers = vec![
        (":method".to_owned(), method.to_owned()),
        (":path".to_owned(), "/mcp".to_owned()),
        ("x-request-id".to_owned(), "req-1".to_owned()),
    ];
    headers.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    headers
}

fn bearer(sub: &str, groups: &[&str]) -> String {
    format!("Bearer {}", token(sub, groups))
}

fn post_headers(authorization: &str) -> Vec<(String, String)> {
    headers(
        "POST",
        &[
            ("authorization", authorization),
            ("content-type", "application/json"),
        ],
    )
}

/// Drives one exchange against `runtime`.
struct Drive<'r> {
    runtime: &'r Runtime,
    exchange: Exchange,
}

impl<'r> Drive<'r> {
    fn new(runtime: &'r Runtime) -> Self {
        Self {
            runtime,
            exchange: Exchange::new(RecordKey([7; 16])),
        }
    }

    fn env(&self) -> Env<'r> {
        Env {
            runtime: self.runtime,
            keys: &NoRemoteKeys,
            now_unix_nanos: NOW,
        }
    }

    fn request_headers(&mut self, headers: &[(String, String)], end_of_stream: bool) -> Step {
        let env = self.env();
        self.exchange
            .on_request_headers(&env, headers, end_of_stream)
    }

    fn request_body(&mut self, body: &[u8], end_of_stream: bool) -> Step {
        let env = self.env();
        let held = body.to_vec();
        self.exchange
            .on_request_body(&env, body.len(), end_of_stream, |len| held[..len].to_vec())
    }

    /// A POST of `body` from `authorization`: headers, then the whole body.
    fn post(&mut self, authorization: &str, body: &Value) -> Step {
        let step = self.request_headers(&post_headers(authorization), false);
        assert_eq!(step.flow, Flow::Pause, "{step:?}");
        self.request_body(body.to_string().as_bytes(), true)
    }

    fn response_headers(&mut self, content_type: &str, extra: &[(&str, &str)]) -> Step {
        let env = self.env();
        let mut headers = vec![
            (":status".to_owned(), "200".to_owned()),
            ("content-type".to_owned(), content_type.to_owned()),
            ("content-length".to_owned(), "10".to_owned()),
        ];
        headers.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        self.exchange.on_response_headers(&env, &headers, false)
    }

    fn response_body(&mut self, held: &[u8], end_of_stream: bool) -> Step {
        let env = self.env();
        let held = held.to_vec();
        self.exchange
            .on_response_body(&env, held.len(), end_of_stream, |len| held[..len].to_vec())
    }

    /// Response trailers, with `held` the body bytes the host holds.
    fn response_trailers(&mut self, held: &[u8]) -> Step {
        let env = self.env();
        let held = held.to_vec();
        self.exchange
            .on_response_trailers(&env, |len| held[..len].to_vec())
    }

    fn log(&mut self) -> Step {
        let env = self.env();
        self.exchange.on_log(&env)
    }

    fn records(&mut self) -> Vec<Value> {
        let step = self.log();
        let Some(Effect::ShipAudit(records)) = step.effects.last() else {
            panic!("no records shipped: {step:?}");
        };
        records
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

fn reply_of(step: &Step) -> &LocalReply {
    step.replies()
        .unwrap_or_else(|| panic!("no local reply: {step:?}"))
}

fn body_json(reply: &LocalReply) -> Value {
    serde_json::from_slice(&reply.body).unwrap()
}

fn counted(step: &Step, counter: &Counter) -> u64 {
    step.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Count(c, n) if c == counter => Some(*n),
            _ => None,
        })
        .sum()
}

/// The audit records are published, then the reply is sent (the access log runs as it completes).
fn assert_published_before_reply(step: &Step) {
    let publish = step
        .effects
        .iter()
        .position(|e| matches!(e, Effect::PublishAudit(_)));
    let reply = step
        .effects
        .iter()
        .position(|e| matches!(e, Effect::SendReply(_)));
    assert!(publish.is_some() && publish < reply, "{step:?}");
    assert_eq!(step.flow, Flow::Pause);
}

#[test]
fn metadata_is_served_without_a_token_and_an_unconfigured_path_is_404() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    let step = drive.request_headers(
        &[
            (":method".into(), "GET".into()),
            (
                ":path".into(),
                "/.well-known/oauth-protected-resource/mcp".into(),
            ),
        ],
        true,
    );
    let reply = reply_of(&step);
    assert_eq!(reply.status, 200);
    assert_eq!(body_json(reply)["resource"], "https://mcp.example.com/mcp");
    assert_eq!(reply.header("cache-control"), Some("max-age=300"));
    assert_published_before_reply(&step);

    let mut drive = Drive::new(&runtime);
    let step = drive.request_headers(
        &[
            (":method".into(), "GET".into()),
            (
                ":path".into(),
                "/.well-known/oauth-protected-resource/other".into(),
            ),
        ],
        true,
    );
    assert_eq!(reply_of(&step).status, 404);
}

#[test]
fn a_request_without_a_valid_token_gets_401_with_a_challenge_and_is_recorded_unauthenticated() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    let step = drive.request_headers(&headers("POST", &[("authorization", "Bearer nope")]), false);
    let reply = reply_of(&step);
    assert_eq!(reply.status, 401);
    assert!(reply
        .header("www-authenticate")
        .unwrap()
        .contains("resource_metadata="));
    assert_eq!(body_json(reply)["error"], "invalid_token");
    assert_eq!(counted(&step, &Counter::JwtFailures("malformed_token")), 1);
    assert_published_before_reply(&step);
    let records = drive.records();
    assert_eq!(records[0]["decision"], "unauthenticated");
    assert_eq!(records[0]["status"], 401);
}

#[test]
fn a_token_of_a_remote_issuer_whose_keys_are_not_loaded_gets_503_with_retry_after_and_no_challenge()
{
    let mut config = config();
    config["issuers"][0]["jwks"] = Value::Null;
    config["issuers"][0]["remote_jwks"] =
        json!({"cluster": "idp", "jwks_uri": "https://idp.example/jwks"});
    let runtime = runtime_of(&config);
    let mut drive = Drive::new(&runtime);
    let step = drive.request_headers(&post_headers(&bearer("alice", &[])), false);
    let reply = reply_of(&step);
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("2"));
    assert_eq!(reply.header("www-authenticate"), None);
}

#[test]
fn a_verified_token_is_cached_and_stripped_and_warden_sets_the_upstream_headers() {
    let runtime = runtime();
    let authorization = bearer("alice", &["support"]);
    let mut drive = Drive::new(&runtime);
    let mut request = post_headers(&authorization);
    request.push(("X-Warden-Sub".into(), "mallory".into()));
    request.push(("accept-encoding".into(), "gzip".into()));
    let step = drive.request_headers(&request, false);
    assert_eq!(step.flow, Flow::Pause);
    for removed in ["authorization", "accept-encoding", "X-Warden-Sub"] {
        assert!(
            step.effects
                .contains(&Effect::RemoveRequestHeader(removed.into())),
            "{removed}: {step:?}"
        );
    }
    let set: Vec<(&str, &str)> = step
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetRequestHeader(n, v) => Some((n.as_str(), v.as_str())),
            _ => None,
        })
        .collect();
    assert!(set.contains(&("x-api-key", "upstream-secret")), "{set:?}");
    assert!(set.contains(&("x-warden-sub", "alice")), "{set:?}");
    assert!(
        set.contains(&("content-type", "application/json")),
        "{set:?}"
    );
    // Identity headers are set after the client's are removed.
    let removed_at = step
        .effects
        .iter()
        .position(|e| *e == Effect::RemoveRequestHeader("X-Warden-Sub".into()))
        .unwrap();
    let set_at = step
        .effects
        .iter()
        .position(|e| matches!(e, Effect::SetRequestHeader(n, _) if n == "x-warden-sub"))
        .unwrap();
    assert!(removed_at < set_at);
    assert_eq!(runtime.tokens.borrow().len(), 1);
}

#[test]
fn a_post_declaring_another_charset_is_refused_with_415_before_its_body_is_read() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    let step = drive.request_headers(
        &headers(
            "POST",
            &[
                ("authorization", &bearer("alice", &[])),
                ("content-type", "application/json; charset=utf-7"),
            ],
        ),
        false,
    );
    let reply = reply_of(&step);
    assert_eq!(reply.status, 415);
    assert_eq!(body_json(reply)["error"]["data"]["header"], "content-type");
    assert_eq!(drive.records()[0]["decision"], "invalid");
}

#[test]
fn an_allowed_call_is_forwarded_only_once_its_whole_body_is_judged() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    let step = drive.request_headers(&post_headers(&bearer("alice", &[])), false);
    assert_eq!(step.flow, Flow::Pause);
    let body = call(1, "echo", json!({"text": "hi"})).to_string();
    let (first, _) = body.as_bytes().split_at(10);
    assert_eq!(drive.request_body(first, false).flow, Flow::Pause);
    let step = drive.request_body(body.as_bytes(), true);
    assert_eq!(step, Step::proceed());
    let records = drive.records();
    assert_eq!(records[0]["decision"], "allow");
    assert_eq!(records[0]["tool"], "echo");
    assert_eq!(records[0]["rule"], "allow-support-tools");
}

#[test]
fn a_body_completed_by_trailers_is_judged_then() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    drive.request_headers(&post_headers(&bearer("alice", &["contractors"])), false);
    let body = call(3, "delete_customer", json!({"customer_id": "c1"})).to_string();
    assert_eq!(drive.request_body(body.as_bytes(), false).flow, Flow::Pause);
    let env = drive.env();
    let step = drive
        .exchange
        .on_request_trailers(&env, |len| body.as_bytes()[..len].to_vec());
    assert_eq!(reply_of(&step).status, 200);
    assert_eq!(body_json(reply_of(&step))["error"]["code"], -32003);
}

#[test]
fn a_denied_call_gets_a_jsonrpc_error_naming_the_rule_and_counts_as_denied() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    let step = drive.post(
        &bearer("bob", &["contractors"]),
        &call(7, "delete_customer", json!({"customer_id": "c1"})),
    );
    let reply = reply_of(&step);
    assert_eq!(reply.status, 200);
    let body = body_json(reply);
    assert_eq!(body["id"], 7);
    assert_eq!(body["error"]["data"]["rule"], "block-delete-customer");
    assert_eq!(counted(&step, &Counter::Denied), 1);
    assert_published_before_reply(&step);
    assert_eq!(drive.records()[0]["decision"], "deny");
}

#[test]
fn an_unreadable_body_gets_400_and_an_oversized_one_413() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    drive.request_headers(&post_headers(&bearer("alice", &[])), false);
    let step = drive.request_body(b"{not json", true);
    assert_eq!(reply_of(&step).status, 400);
    assert_eq!(drive.records()[0]["decision"], "invalid");

    let mut drive = Drive::new(&runtime);
    drive.request_headers(&post_headers(&bearer("alice", &[])), false);
    let step = drive.request_body(&[b' '; 257], false);
    let reply = reply_of(&step);
    assert_eq!(reply.status, 413);
    assert_eq!(body_json(reply)["error"]["code"], -32600);
    let records = drive.records();
    assert_eq!(records[0]["decision"], "invalid");
    assert!(records[0]["reason"]
        .as_str()
        .unwrap()
        .contains("limits.max_request_body_bytes"));
}

#[test]
fn a_body_on_a_get_is_refused_and_an_empty_one_is_let_through() {
    let runtime = runtime();
    let get = headers("GET", &[("authorization", &bearer("alice", &[]))]);
    let mut drive = Drive::new(&runtime);
    assert_eq!(drive.request_headers(&get, false).flow, Flow::Pause);
    let step = drive.request_body(b"{}", false);
    assert_eq!(reply_of(&step).status, 400);

    let mut drive = Drive::new(&runtime);
    assert_eq!(drive.request_headers(&get, false).flow, Flow::Pause);
    assert_eq!(drive.request_body(b"", true), Step::proceed());
    let mut drive = Drive::new(&runtime);
    assert_eq!(drive.request_headers(&get, true).flow, Flow::Continue);
}

/// Holds `delete_customer` for alice and returns the check call.
fn held(drive: &mut Drive<'_>) -> CheckCall {
    let step = drive.post(
        &bearer("alice", &["support"]),
        &call(9, "delete_customer", json!({"customer_id": "c1"})),
    );
    assert_eq!(step.flow, Flow::Pause);
    assert_eq!(counted(&step, &Counter::ApprovalChecks), 1);
    let Some(Effect::CheckApproval(check)) = step.effects.last() else {
        panic!("no check: {step:?}");
    };
    check.clone()
}

#[test]
fn a_held_call_is_checked_with_the_internal_secret_and_forwarded_when_approved() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    let check = held(&mut drive);
    assert_eq!(check.cluster, "warden_approvals");
    assert_eq!(check.timeout, Duration::from_secs(35));
    assert!(check
        .headers
        .contains(&("x-warden-internal-secret", "internal-secret".to_owned())));
    assert!(check.headers.contains(&(":path", "/v1/check".to_owned())));
    let sent: Value = serde_json::from_slice(&check.body).unwrap();
    assert_eq!(sent["tool"], "delete_customer");
    let env = drive.env();
    let answer = json!({"status": "approved", "approval_id": "ap_1", "approvers": ["carol"],
                        "decided_at": "2027-01-15T08:00:00Z"})
    .to_string();
    let step = drive
        .exchange
        .on_check_answer(&env, Some((200, answer.as_bytes())));
    assert_eq!(step.flow, Flow::Continue);
    assert_eq!(counted(&step, &Counter::ApprovalsGranted), 1);
    let records = drive.records();
    assert_eq!(records[0]["decision"], "approved");
    assert_eq!(records[0]["approval"]["id"], "ap_1");
}

#[test]
fn a_held_call_without_an_answer_is_refused_fail_closed() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    held(&mut drive);
    let env = drive.env();
    let step = drive.exchange.on_check_answer(&env, None);
    let reply = reply_of(&step);
    assert_eq!(reply.status, 200);
    assert_eq!(body_json(reply)["error"]["data"]["status"], "unavailable");
    assert_eq!(counted(&step, &Counter::ApprovalsRefused), 1);
    assert_eq!(counted(&step, &Counter::Denied), 1);
    assert_published_before_reply(&step);
    // A late second answer changes nothing.
    assert_eq!(drive.exchange.on_check_answer(&env, None), Step::proceed());
}

/// A POST of an allowed `echo` call, judged and forwarded.
fn forwarded(runtime: &Runtime) -> Drive<'_> {
    let mut drive = Drive::new(runtime);
    let step = drive.post(
        &bearer("alice", &[]),
        &call(1, "echo", json!({"text": "x"})),
    );
    assert_eq!(step.flow, Flow::Continue);
    drive
}

const CARD: &str = "4111 1111 1111 1111";

fn result_with(text: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1,
           "result": {"content": [{"type": "text", "text": text}]}})
    .to_string()
}

#[test]
fn a_json_response_is_buffered_to_its_end_then_masked_whole() {
    let runtime = runtime();
    let mut drive = forwarded(&runtime);
    let step = drive.response_headers("application/json", &[]);
    assert_eq!(
        step.effects,
        vec![Effect::RemoveResponseHeader("content-length")]
    );
    let body = result_with(&format!("card {CARD}"));
    let half = body.len() / 2;
    assert_eq!(
        drive.response_body(&body.as_bytes()[..half], false).flow,
        Flow::Pause
    );
    let step = drive.response_body(body.as_bytes(), true);
    let Some(Effect::ReplaceResponseBody { len, body: masked }) = step.effects.first() else {
        panic!("{step:?}");
    };
    assert_eq!(*len, body.len());
    let masked = String::from_utf8(masked.clone()).unwrap();
    assert!(
        !masked.contains(CARD) && masked.contains("[REDACTED:CREDIT_CARD]"),
        "{masked}"
    );
    let log = drive.log();
    assert_eq!(
        counted(&log, &Counter::Masked("CREDIT_CARD".into())),
        1,
        "{log:?}"
    );
}

#[test]
fn a_json_response_over_the_limit_or_handed_over_short_is_withheld() {
    let runtime = runtime();
    let mut drive = forwarded(&runtime);
    drive.response_headers("application/json", &[]);
    let big = result_with(&"a".repeat(600));
    let step = drive.response_body(big.as_bytes(), false);
    let Some(Effect::ReplaceResponseBody { len, body }) = step
        .effects
        .iter()
        .find(|e| matches!(e, Effect::ReplaceResponseBody { .. }))
    else {
        panic!("{step:?}");
    };
    assert_eq!(*len, big.len());
    assert!(String::from_utf8_lossy(body).contains("response withheld by Warden"));
    // Everything after is dropped.
    let step = drive.response_body(b"more", true);
    assert_eq!(
        step.effects,
        vec![Effect::ReplaceResponseBody {
            len: 4,
            body: Vec::new()
        }]
    );

    let mut drive = forwarded(&runtime);
    drive.response_headers("application/json", &[]);
    let env = drive.env();
    let body = result_with(CARD);
    let step = drive
        .exchange
        .on_response_body(&env, body.len(), true, |_| Vec::new());
    let expected = body.len();
    assert!(
        step.effects.iter().any(|e| matches!(e,
            Effect::ReplaceResponseBody { len, body }
                if *len == expected && String::from_utf8_lossy(body).contains("withheld"))),
        "{step:?}"
    );
}

#[test]
fn a_compressed_response_is_refused_with_502() {
    let runtime = runtime();
    let mut drive = forwarded(&runtime);
    let step = drive.response_headers("application/json", &[("content-encoding", "gzip")]);
    let reply = reply_of(&step);
    assert_eq!(reply.status, 502);
    assert_eq!(body_json(reply)["error"], "response_refused");
    let step = drive.response_body(b"\x1f\x8b", true);
    assert_eq!(
        step.effects,
        vec![Effect::ReplaceResponseBody {
            len: 2,
            body: Vec::new()
        }]
    );
}

#[test]
fn an_sse_stream_is_masked_event_by_event_and_cut_when_an_event_is_too_large() {
    let runtime = runtime();
    let mut drive = forwarded(&runtime);
    drive.response_headers("text/event-stream", &[]);
    let event = format!("data: {}\n\n", result_with(CARD));
    let (a, b) = event.split_at(20);
    let step = drive.response_body(a.as_bytes(), false);
    assert_eq!(
        step.effects,
        vec![Effect::ReplaceResponseBody {
            len: a.len(),
            body: Vec::new()
        }],
        "an incomplete event is held back"
    );
    let step = drive.response_body(b.as_bytes(), false);
    let Some(Effect::ReplaceResponseBody { body, .. }) = step.effects.first() else {
        panic!("{step:?}");
    };
    let out = String::from_utf8(body.clone()).unwrap();
    assert!(out.starts_with("data: ") && !out.contains(CARD), "{out}");

    let huge = format!("data: {}\n\n", "x".repeat(300));
    let step = drive.response_body(huge.as_bytes(), false);
    assert!(step
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Log(LogLevel::Warn, l) if l.contains("SSE stream cut"))));
    let step = drive.response_body(b"data: {}\n\n", true);
    assert_eq!(
        step.effects,
        vec![Effect::ReplaceResponseBody {
            len: 10,
            body: Vec::new()
        }]
    );
}

#[test]
fn trailers_end_a_buffered_body_which_is_then_masked() {
    let runtime = runtime();
    let mut drive = forwarded(&runtime);
    drive.response_headers("application/json", &[]);
    let body = result_with(CARD);
    assert_eq!(
        drive.response_body(body.as_bytes(), false).flow,
        Flow::Pause
    );
    let step = drive.response_trailers(body.as_bytes());
    let Some(Effect::ReplaceResponseBody { body: masked, .. }) = step.effects.first() else {
        panic!("{step:?}");
    };
    assert!(!String::from_utf8_lossy(masked).contains(CARD));
    assert!(matches!(step.effects.last(), Some(Effect::PublishAudit(_))));
}

#[test]
fn responses_to_local_replies_are_left_alone() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    drive.request_headers(&headers("POST", &[]), false);
    assert_eq!(
        drive.response_headers("application/json", &[]),
        Step::proceed()
    );
    assert_eq!(drive.response_body(CARD.as_bytes(), true), Step::proceed());
}

/// The records a step publishes, if it publishes any.
fn published(step: &Step) -> Option<String> {
    step.effects.iter().find_map(|e| match e {
        Effect::PublishAudit(r) => Some(r.clone()),
        _ => None,
    })
}

/// The records a step queues for the audit store, if it queues any.
fn shipped(step: &Step) -> Option<String> {
    step.effects.iter().find_map(|e| match e {
        Effect::ShipAudit(r) => Some(r.clone()),
        _ => None,
    })
}

#[test]
fn the_log_callback_counts_masked_values_and_ships_what_the_response_published() {
    let runtime = runtime();
    let mut drive = forwarded(&runtime);
    drive.response_headers("application/json", &[]);
    let end = drive.response_body(
        result_with(&format!("{CARD} and a@b.example")).as_bytes(),
        true,
    );
    let step = drive.log();
    assert_eq!(counted(&step, &Counter::Masked("CREDIT_CARD".into())), 1);
    assert_eq!(counted(&step, &Counter::Masked("EMAIL_ADDRESS".into())), 1);
    assert!(published(&end).is_some(), "{end:?}");
    assert_eq!(published(&step), None, "published again: {step:?}");
    assert_eq!(shipped(&step), published(&end));
    let record: Value =
        serde_json::from_str(shipped(&step).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(record["masked"]["CREDIT_CARD"], 1);
    assert_eq!(record["request_id"], "req-1");
}

/// Whatever path an exchange took, the records the log callback ships are the ones rendering at
/// that moment gives (the clock stands still here): what was published before is final, and an
/// exchange that published nothing publishes its records at the log callback.
#[test]
fn the_records_shipped_at_log_are_the_exchange_as_it_ended() {
    let runtime = runtime();
    let body = result_with(&format!("{CARD} and a@b.example"));
    type Path = fn(&mut Drive<'_>, &str) -> Vec<Step>;
    let paths: [(&str, Path); 5] = [
        ("a JSON body", |drive, body| {
            vec![
                drive.response_headers("application/json", &[]),
                drive.response_body(body.as_bytes(), true),
            ]
        }),
        ("an SSE stream", |drive, body| {
            vec![
                drive.response_headers("text/event-stream", &[]),
                drive.response_body(format!("data: {body}\n\n").as_bytes(), false),
                drive.response_body(b"", true),
            ]
        }),
        ("a JSON body ending in trailers", |drive, body| {
            vec![
                drive.response_headers("application/json", &[]),
                drive.response_body(body.as_bytes(), false),
                drive.response_trailers(body.as_bytes()),
            ]
        }),
        ("a response without a body", |drive, _| {
            let env = drive.env();
            vec![drive.exchange.on_response_headers(
                &env,
                &[(":status".into(), "204".into())],
                true,
            )]
        }),
        ("a stream reset before the response", |_, _| Vec::new()),
    ];
    for (name, path) in paths {
        let mut drive = forwarded(&runtime);
        let before: Vec<String> = path(&mut drive, &body)
            .iter()
            .filter_map(published)
            .collect();
        let expected = drive.exchange.render(&drive.env());
        let log = drive.log();
        assert_eq!(shipped(&log).as_ref(), Some(&expected), "{name}");
        match before.as_slice() {
            [] => assert_eq!(published(&log), Some(expected), "{name}"),
            [records] => {
                assert_eq!(records, &expected, "{name}");
                assert_eq!(published(&log), None, "{name}: published again");
            }
            more => panic!("{name}: published {} times", more.len()),
        }
    }
    // A local reply: published with the reply, shipped as it is.
    let mut drive = Drive::new(&runtime);
    let reply = drive.request_headers(&headers("POST", &[]), false);
    assert_published_before_reply(&reply);
    let expected = drive.exchange.render(&drive.env());
    assert_eq!(published(&reply), Some(expected.clone()));
    let log = drive.log();
    assert_eq!(published(&log), None);
    assert_eq!(shipped(&log), Some(expected));
}

#[test]
fn the_reply_while_unconfigured_is_503_json() {
    let reply = LocalReply::unconfigured();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(body_json(&reply)["error"], "unavailable");
}

#[test]
fn the_tokens_cache_is_shared_by_exchanges_of_one_runtime() {
    let runtime = runtime();
    let authorization = bearer("alice", &[]);
    for _ in 0..3 {
        let mut drive = Drive::new(&runtime);
        drive.request_headers(&post_headers(&authorization), false);
    }
    assert_eq!(runtime.tokens.borrow().len(), 1);
}

#[test]
fn an_mcp_name_header_that_disagrees_with_the_body_is_refused_before_the_policy() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    let mut request = post_headers(&bearer("bob", &["contractors"]));
    request.push(("mcp-protocol-version".into(), "2026-07-28".into()));
    request.push(("Mcp-Method".into(), "tools/call".into()));
    request.push(("Mcp-Name".into(), "search_customers".into()));
    drive.request_headers(&request, false);
    let body = call(4, "delete_customer", json!({"customer_id": "c1"}));
    let step = drive.request_body(body.to_string().as_bytes(), true);
    let reply = reply_of(&step);
    assert_eq!(reply.status, 400);
    let answer = body_json(reply);
    assert_eq!(answer["id"], 4);
    assert_eq!(answer["error"]["code"], -32600);
    assert_eq!(answer["error"]["data"]["header"], "mcp-name");
    let records = drive.records();
    assert_eq!(records[0]["decision"], "invalid");
    assert_eq!(records[0]["tool"], "delete_customer");
    assert_eq!(records[0]["protocol_version"], "2026-07-28");
}

#[test]
fn a_2026_07_28_request_with_matching_headers_is_judged_as_usual() {
    let runtime = runtime();
    let mut drive = Drive::new(&runtime);
    let mut request = post_headers(&bearer("alice", &[]));
    request.push(("mcp-protocol-version".into(), "2026-07-28".into()));
    request.push(("mcp-method".into(), "tools/call".into()));
    request.push(("mcp-name".into(), "echo".into()));
    drive.request_headers(&request, false);
    let step = drive.request_body(call(1, "echo", json!({})).to_string().as_bytes(), true);
    assert_eq!(step, Step::proceed());
}

/// The demo policy with `record` on the rule allowing `echo` (max 40 bytes per part).
fn recording_runtime() -> Runtime {
    let mut config = config();
    let rule = config["policy"]["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == "allow-support-tools")
        .unwrap();
    rule["record"] = json!({"arguments": true, "result": true, "max_bytes": 40});
    runtime_of(&config)
}

#[test]
fn a_recording_rule_puts_masked_arguments_and_the_masked_capped_result_in_the_record() {
    let runtime = recording_runtime();
    for content_type in ["application/json", "text/event-stream"] {
        let mut drive = Drive::new(&runtime);
        let step = drive.post(
            &bearer("alice", &["support"]),
            &call(1, "echo", json!({"text": format!("card {CARD}")})),
        );
        assert_eq!(step.flow, Flow::Continue);
        drive.response_headers(content_type, &[]);
        let body = result_with(&format!("card {CARD} and more text after it"));
        let body = if content_type == "text/event-stream" {
            format!("data: {body}\n\n")
        } else {
            body
        };
        drive.response_body(body.as_bytes(), true);
        let records = drive.records();
        let payload = &records[0]["payload"];
        assert_eq!(
            payload["arguments"], "{\"text\":\"card [REDACTED:CREDIT_CARD]\"}",
            "{content_type}: {payload}"
        );
        let result = payload["result"].as_str().unwrap();
        assert!(
            result.len() <= 40 && result.starts_with("{\"content\":[{\"type\":\"text\",\"text\":"),
            "{content_type}: {payload}"
        );
        assert_eq!(payload["result_truncated"], true, "{payload}");
        assert!(payload.get("arguments_truncated").is_none(), "{payload}");
        assert!(!records[0].to_string().contains(CARD), "{records:?}");
    }
}

#[test]
fn without_record_no_payload_is_written() {
    let runtime = runtime();
    let mut drive = forwarded(&runtime);
    drive.response_headers("application/json", &[]);
    drive.response_body(result_with("hello").as_bytes(), true);
    let records = drive.records();
    assert!(records[0].get("payload").is_none(), "{records:?}");
}
