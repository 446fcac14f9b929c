//! Opt-in payload recording (a rule's `record`): the call's arguments as the rule's masking profile
//! renders them, and the result as the client received it (after masking), each cut to
//! `record.max_bytes`, carried by the call's audit record to Envoy's access log and the audit store.
//! Clear values never reach a record: arguments are masked here, results are captured from the
//! rewritten response.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The recorded payload of one `tools/call` (audit record member `payload`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct RecordedPayload {
    /// The call's `params.arguments` after masking with the deciding rule's profile: compact JSON
    /// text, cut at `record.max_bytes` bytes (a UTF-8 character boundary) when longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// Whether `arguments` was cut.
    #[serde(default, skip_serializing_if = "is_false")]
    pub arguments_truncated: bool,
    /// The response's `result` (or `error`) member as sent to the client, after masking: compact
    /// JSON text, cut like `arguments`. Absent when no response was inspected (refused or held
    /// calls, bodies passed on without inspection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Whether `result` was cut.
    #[serde(default, skip_serializing_if = "is_false")]
    pub result_truncated: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A captured piece of payload: the (possibly cut) text and whether it was cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capped {
    /// At most the cap's bytes of compact JSON text.
    pub text: String,
    /// Whether the text was longer than the cap.
    pub truncated: bool,
}

impl Capped {
    /// `text` cut to at most `max_bytes` bytes, at the last UTF-8 character boundary that fits.
    pub fn new(mut text: String, max_bytes: usize) -> Self {
        if text.len() <= max_bytes {
            return Self {
                text,
                truncated: false,
            };
        }
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        Self {
            text,
            truncated: true,
        }
    }
}

/// Results to capture, keyed by the JSON text of the JSON-RPC id of the call whose rule records
/// results, with the cap in bytes.
pub type ResultCaps = BTreeMap<String, usize>;

/// Captured results, keyed like [`ResultCaps`].
pub type CapturedResults = BTreeMap<String, Capped>;

/// Captures, from `body` (one JSON-RPC message or a batch, as the client receives it), the `result`
/// (or `error`) of every response whose id `wanted` names. Bodies that are not JSON capture
/// nothing. Costs a parse only when `wanted` is not empty.
pub fn capture_results(body: &[u8], wanted: &ResultCaps, captured: &mut CapturedResults) {
    if wanted.is_empty() {
        return;
    }
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let messages = match &doc {
        Value::Array(batch) => batch.as_slice(),
        single => std::slice::from_ref(single),
    };
    for message in messages {
        let Some(id) = message.get("id").filter(|id| !id.is_null()) else {
            continue;
        };
        let key = id.to_string();
        let Some(&cap) = wanted.get(&key) else {
            continue;
        };
        if let Some(outcome) = message.get("result").or_else(|| message.get("error")) {
            captured.insert(key, Capped::new(outcome.to_string(), cap));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn capped_cuts_on_a_character_boundary_and_says_so() {
        assert_eq!(
            Capped::new("abc".into(), 3),
            Capped {
                text: "abc".into(),
                truncated: false
            }
        );
        // "é" is two bytes: a cap of 2 after "a" cannot split it.
        let cut = Capped::new("aé".into(), 2);
        assert_eq!(cut.text, "a");
        assert!(cut.truncated);
    }

    #[test]
    fn captures_result_or_error_of_wanted_ids_only() {
        let body = json!([
            {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "[REDACTED:EMAIL_ADDRESS]"}]}},
            {"jsonrpc": "2.0", "id": "two", "error": {"code": -32000, "message": "boom"}},
            {"jsonrpc": "2.0", "id": 3, "result": {}},
        ])
        .to_string();
        let wanted = ResultCaps::from([("1".to_owned(), 1000), ("\"two\"".to_owned(), 10)]);
        let mut captured = CapturedResults::new();
        capture_results(body.as_bytes(), &wanted, &mut captured);
        assert_eq!(captured.len(), 2);
        assert!(captured["1"].text.contains("[REDACTED:EMAIL_ADDRESS]"));
        assert!(!captured["1"].truncated);
        assert_eq!(captured["\"two\""].text, "{\"code\":-3");
        assert!(captured["\"two\""].truncated);
    }

    #[test]
    fn nothing_wanted_or_not_json_captures_nothing() {
        let mut captured = CapturedResults::new();
        capture_results(
            b"{\"id\":1,\"result\":1}",
            &ResultCaps::new(),
            &mut captured,
        );
        capture_results(
            b"not json",
            &ResultCaps::from([("1".to_owned(), 10)]),
            &mut captured,
        );
        assert!(captured.is_empty());
    }
}
