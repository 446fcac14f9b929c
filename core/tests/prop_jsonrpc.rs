//! Property tests of the strict JSON-RPC parser (`warden_core::jsonrpc`): on accepted input it agrees
//! with `serde_json`, it refuses only what `serde_json` refuses or a repeated key, and the messages it
//! returns carry the document's ids, methods, tool names and arguments. The oracle is shared with the
//! `jsonrpc_parse` fuzz target (`fuzz/`); the case counts keep this file to a few seconds in debug.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "invariants/jsonrpc.rs"]
mod jsonrpc;

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Strings with JSON's hard cases: quotes, backslashes, control characters, non-ASCII, astral planes.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just('a'),
            Just('"'),
            Just('\\'),
            Just('/'),
            Just('\u{0}'),
            Just('\u{1f}'),
            Just('é'),
            Just('€'),
            Just('😀'),
            any::<char>(),
        ],
        0..8,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Keys from a small set, so that JSON-RPC members and repeats are frequent.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "jsonrpc",
            "id",
            "method",
            "params",
            "result",
            "error",
            "name",
            "arguments",
            "code",
            "message"
        ])
        .prop_map(str::to_owned),
        text(),
    ]
}

/// Any JSON value, up to four levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON-RPC message, well-formed or nearly: each member present or not, of the right type or not.
fn message() -> impl Strategy<Value = Value> {
    let version = prop_oneof![
        3 => Just(Value::from("2.0")),
        1 => Just(Value::from("1.0")),
        1 => Just(Value::from(2.0)),
    ];
    let id = prop_oneof![
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::String),
        Just(Value::Null),
        json(),
    ];
    let method = prop_oneof![
        3 => prop::sample::select(vec!["tools/call", "tools/list", "initialize", "ping"])
            .prop_map(Value::from),
        1 => json(),
    ];
    let params = prop_oneof![
        3 => (text(), prop::option::of(json())).prop_map(|(name, arguments)| {
            let mut params = Map::new();
            params.insert("name".to_owned(), Value::String(name));
            if let Some(arguments) = arguments {
                params.insert("arguments".to_owned(), arguments);
            }
            Value::Object(params)
        }),
        1 => json(),
    ];
    let error = prop_oneof![
        (any::<i32>(), text())
            .prop_map(|(code, message)| serde_json::json!({"code": code, "message": message})),
        json(),
    ];
    (
        prop::option::weighted(0.9, version),
        prop::option::of(id),
        prop::option::weighted(0.7, method),
        prop::option::of(params),
        prop::option::weighted(0.2, json()),
        prop::option::weighted(0.2, error),
    )
        .prop_map(|(version, id, method, params, result, error)| {
            let members = [
                ("jsonrpc", version),
                ("id", id),
                ("method", method),
                ("params", params),
                ("result", result),
                ("error", error),
            ];
            Value::Object(
                members
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.to_owned(), v?)))
                    .collect(),
            )
        })
}

/// A body: one message or a batch of up to four.
fn body() -> impl Strategy<Value = Value> {
    prop_oneof![
        message(),
        prop::collection::vec(message(), 0..4).prop_map(Value::Array),
    ]
}

/// An object written by hand from members that may repeat a key (serde_json's maps cannot).
fn object_text_with_repeats() -> impl Strategy<Value = String> {
    prop::collection::vec((key(), json()), 1..6).prop_map(|members| {
        let members: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
            .collect();
        format!(
            r#"{{"jsonrpc":"2.0","method":"m","params":{{{}}}}}"#,
            members.join(",")
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_json_document_parses_as_serde_json_reads_it(value in json()) {
        jsonrpc::check_parse(value.to_string().as_bytes());
        jsonrpc::check_parse(serde_json::to_string_pretty(&value).unwrap().as_bytes());
    }

    #[test]
    fn messages_and_batches_carry_what_the_json_says(value in body()) {
        jsonrpc::check_parse(value.to_string().as_bytes());
    }

    #[test]
    fn repeated_keys_are_the_only_extra_refusals(text in object_text_with_repeats()) {
        jsonrpc::check_parse(text.as_bytes());
    }

    #[test]
    fn mutated_bodies_never_disagree(
        value in body(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
    ) {
        let mut bytes = value.to_string().into_bytes();
        for (at, byte, op) in edits {
            let at = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(at, byte),
                1 if at < bytes.len() => { bytes.remove(at); }
                _ if at < bytes.len() => bytes[at] = byte,
                _ => bytes.push(byte),
            }
        }
        jsonrpc::check_parse(&bytes);
    }
}
