//! Oracle for `warden_core::jsonrpc`: the strict parser agrees with `serde_json` on every document it
//! accepts, refuses only what `serde_json` refuses or a repeated key, and `parse_payload`'s messages say
//! what the JSON says. Shared by `core/tests/prop_jsonrpc.rs` and the `jsonrpc_parse` fuzz target.

use serde_json::Value;
use warden_core::jsonrpc::{parse_payload, parse_strict, Payload, PARSE_ERROR};

/// Parses `bytes` with [`parse_strict`], [`parse_payload`] and `serde_json`; panics on any disagreement.
pub fn check_parse(bytes: &[u8]) {
    let reference = serde_json::from_slice::<Value>(bytes);
    let payload = parse_payload(bytes);
    let strict = match parse_strict(bytes) {
        Ok(strict) => strict,
        Err(e) => {
            if reference.is_ok() {
                assert!(
                    e.to_string().contains("duplicate key"),
                    "strict refused what serde_json reads, not for a repeated key: {e}"
                );
            }
            match payload {
                Ok(_) => panic!("parse_payload accepted what parse_strict refused ({e})"),
                Err(p) => assert_eq!(p.code, PARSE_ERROR, "{p}"),
            }
            return;
        }
    };
    let reference = match reference {
        Ok(reference) => reference,
        Err(e) => panic!("strict accepted what serde_json refuses: {e}"),
    };
    assert_eq!(
        strict, reference,
        "strict and serde_json read different values"
    );
    match payload {
        Ok(payload) => check_messages(&payload, &reference),
        Err(p) => assert_ne!(p.code, PARSE_ERROR, "JSON parse error on valid JSON: {p}"),
    }
}

/// Each parsed message carries the id, method, tool name and arguments of its JSON object.
fn check_messages(payload: &Payload, document: &Value) {
    let objects: Vec<&Value> = match (payload, document) {
        (Payload::Single(_), object @ Value::Object(_)) => vec![object],
        (Payload::Batch(messages), Value::Array(items)) => {
            assert_eq!(messages.len(), items.len(), "batch length");
            items.iter().collect()
        }
        _ => panic!("payload shape {payload:?} differs from the document {document}"),
    };
    for (message, object) in payload.messages().iter().zip(objects) {
        assert_eq!(object.get("jsonrpc"), Some(&Value::from("2.0")));
        assert_eq!(message.id(), object.get("id"), "id of {object}");
        assert_eq!(
            message.method(),
            object.get("method").and_then(Value::as_str),
            "method of {object}"
        );
        if message.method() == Some("tools/call") {
            let params = &object["params"];
            assert_eq!(message.tool_name(), params["name"].as_str(), "{object}");
            assert_eq!(message.arguments(), params.get("arguments"), "{object}");
        }
    }
}
