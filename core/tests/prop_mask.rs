//! Property tests of response masking (`Engine::rewrite_json_body`, `Engine::rewrite_event_data`):
//! masking valid JSON gives valid JSON, and the streaming path decodes to exactly what the `Value` path
//! gives, with the same counts, for single messages, batches, JSON nested in strings, escapes,
//! numbers, secret-named members and base64 text blobs. The oracle is shared with the `json_mask`
//! fuzz target (`fuzz/`); the case counts keep this file to a few seconds in debug.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Shared oracle: this file does not use its SSE rewrite callback.
#[allow(dead_code)]
#[path = "invariants/mask.rs"]
mod mask;

use proptest::prelude::*;
use serde_json::{Map, Value};

thread_local! {
    static FIXTURE: mask::Fixture = mask::fixture();
    static EVERY_DETECTOR: mask::Fixture = every_detector();
}

/// The shared fixture's configuration without its `default_profile`: every built-in and custom
/// detector runs.
fn every_detector() -> mask::Fixture {
    let mut config: Value =
        serde_json::from_str(include_str!("../../policies/custom-detectors.json")).unwrap();
    config["masking"]
        .as_object_mut()
        .unwrap()
        .remove("default_profile");
    let engine = warden_core::Engine::load(
        config.to_string().as_bytes(),
        warden_core::engine::Environment::NotRead,
    )
    .unwrap();
    let plan = engine.unknown_call_response_plan();
    let reference_plan = warden_core::response::ResponsePlan {
        detectors: plan.detectors.clone(),
        tools_list_ids: vec![serde_json::json!({"warden-oracle": "an id no test message uses"})],
        record_results: Default::default(),
        pinning: None,
    };
    let base = mask::fixture();
    mask::Fixture {
        engine,
        identity: base.identity,
        plan,
        reference_plan,
    }
}

/// Text made of pieces the detectors match, pieces that nearly match, and noise that forces escapes.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "4111 1111 1111 1111",
            "4111-1111-1111-1112",
            "5555555555554444",
            "078-05-1120",
            "000-12-3456",
            "jane@example.com",
            "a@b",
            "CUST-123456",
            "xCUST-123456",
            "sk_live_abcdefghijklmnopqrstuvwx",
            "AKIAIOSFODNN7EXAMPLE",
            "password",
            "=hunter22",
            ": ",
            "192.168.1.20",
            "+44 20 7946 0958",
            "GB82 WEST 1234 5698 7654 32",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
            "blob",
            " ",
            "\"",
            "\\",
            "\n",
            "\u{1}",
            "é€😀",
            "{\"k\":\"078-05-1120\"}",
            "[",
            "1",
        ]),
        0..6,
    )
    .prop_map(|pieces| pieces.concat())
}

/// Numbers, some of them card numbers (as integers and as floats).
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::from(4_111_111_111_111_111_u64)),
        Just(Value::from(5_555_555_555_554_444_i64)),
        Just(Value::from(4_111_111_111_111_111.0_f64)),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
    ]
}

/// An MCP resource whose `blob` is `text` in base64 (masked when `mime` is text or JSON).
fn blob(text: &str, mime: &str) -> Value {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    serde_json::json!({"uri": "file:///r", "mimeType": mime, "blob": encoded})
}

/// JSON values with such leaves, and strings holding serialized JSON.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
        (
            text(),
            prop::sample::select(vec!["text/plain", "application/json", "image/png"])
        )
            .prop_map(|(text, mime)| blob(&text, mime)),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((text(), inner.clone()), 0..5)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
            inner.prop_map(|nested| Value::String(nested.to_string())),
        ]
    })
}

/// A server message: a result, an error, a request or notification with params, or anything.
fn message() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        any::<i32>().prop_map(Value::from),
        text().prop_map(Value::String),
        Just(Value::Null),
    ];
    let member = prop::sample::select(vec!["result", "error", "params", "other"]);
    prop_oneof![
        5 => (id, member, json()).prop_map(|(id, member, value)| {
            serde_json::json!({"jsonrpc": "2.0", "id": id, member: value})
        }),
        1 => json(),
    ]
}

/// A body: one message, a batch, or either pretty-printed.
fn body() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            3 => message(),
            1 => prop::collection::vec(message(), 0..4).prop_map(Value::Array),
        ],
        any::<bool>(),
    )
        .prop_map(|(value, pretty)| {
            if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                value.to_string()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn masking_json_bodies_gives_json_the_reference_path_agrees_with(body in body()) {
        FIXTURE.with(|fx| mask::check_json_body(fx, body.as_bytes()));
    }

    #[test]
    fn masking_event_data_gives_json_the_reference_path_agrees_with(data in body()) {
        FIXTURE.with(|fx| mask::check_event_data(fx, &data));
    }

    #[test]
    fn masking_json_bodies_with_every_detector_the_reference_path_agrees_with(body in body()) {
        EVERY_DETECTOR.with(|fx| mask::check_json_body(fx, body.as_bytes()));
    }

    #[test]
    fn masking_event_data_with_every_detector_the_reference_path_agrees_with(data in body()) {
        EVERY_DETECTOR.with(|fx| mask::check_event_data(fx, &data));
    }

    #[test]
    fn masking_free_text_or_bare_values_agrees_with_the_reference_path(text in text()) {
        FIXTURE.with(|fx| {
            mask::check_json_body(fx, text.as_bytes());
            mask::check_event_data(fx, &text);
        });
    }
}

/// A body whose only personal data is inside a base64 text blob: the pre-scan must not skip it.
#[test]
fn a_text_blob_alone_is_masked_on_the_fast_path() {
    use warden_core::response::MaskedById;
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": {"contents": [
        blob("mail jane@example.com", "text/plain")]}})
    .to_string();
    FIXTURE.with(|fx| {
        let mut counts = MaskedById::new();
        let masked = fx
            .engine
            .rewrite_json_body(&fx.plan, &fx.identity, body.as_bytes(), &mut counts)
            .unwrap()
            .expect("the blob's e-mail is masked");
        let masked: Value = serde_json::from_slice(&masked).unwrap();
        assert_eq!(
            masked["result"]["contents"][0]["blob"],
            blob("mail [REDACTED:EMAIL_ADDRESS]", "text/plain")["blob"]
        );
        mask::check_json_body(fx, body.as_bytes());
    });
}

/// A secret-named member: the streaming path hands it to the `Value` path, which masks it whole.
#[test]
fn a_secret_named_member_is_masked_whole_on_the_fast_path() {
    // Every detector: the shared fixture's default profile has no SECRET_ASSIGNMENT.
    use warden_core::response::MaskedById;
    let body = r#"{"jsonrpc":"2.0","id":1,"result":{"db":{"password":"hunter22"}}}"#;
    EVERY_DETECTOR.with(|fx| {
        let mut counts = MaskedById::new();
        let masked = fx
            .engine
            .rewrite_json_body(&fx.plan, &fx.identity, body.as_bytes(), &mut counts)
            .unwrap()
            .expect("the password is masked");
        let masked: Value = serde_json::from_slice(&masked).unwrap();
        assert_eq!(
            masked["result"]["db"]["password"],
            "[REDACTED:SECRET_ASSIGNMENT]"
        );
        mask::check_json_body(fx, body.as_bytes());
    });
}
