//! Strict JSON-RPC 2.0 parsing (<https://www.jsonrpc.org/specification>) for MCP Streamable HTTP bodies.
//!
//! The filter must decide on exactly what the server will execute, so anything two JSON parsers could
//! read differently is refused instead of guessed: duplicate object keys (RFC 8259 §4 leaves their
//! meaning to the parser; serde_json keeps the last, others the first), invalid UTF-8 and lone
//! surrogate escapes (RFC 8259 §8.2), trailing bytes after the document, and nesting deeper than
//! [`MAX_DEPTH`].

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// JSON-RPC 2.0 §5.1: invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0 §5.1: the JSON sent is not a valid Request object (or batch).
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC 2.0 §5.1: invalid method parameters (a `tools/call` without a string `params.name`, …).
pub const INVALID_PARAMS: i64 = -32602;
/// Server-defined code (JSON-RPC 2.0 §5.1 reserves -32000..-32099) Warden answers policy denials with;
/// not taken by MCP or its SDKs.
pub const POLICY_DENIED: i64 = -32003;
/// JSON-RPC 2.0 §5.1 internal error: Warden withheld a response it could not inspect.
pub const INTERNAL_ERROR: i64 = -32603;

/// Deepest nesting of arrays and objects accepted by [`parse_strict`]: serde_json's recursion limit
/// (deeper documents fail with `recursion limit exceeded`, before any stack risk).
pub const MAX_DEPTH: usize = 127;

/// The MCP method whose `params.name` / `params.arguments` name and parameterize a tool.
const TOOLS_CALL: &str = "tools/call";

/// Why a body is not exactly one well-formed JSON document.
///
/// Displays the problem and where it is, e.g. `duplicate key "id" at line 1 column 31`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(serde_json::Error);

impl ParseError {
    /// 1-based line of the offending byte (0 when unknown).
    pub fn line(&self) -> usize {
        self.0.line()
    }

    /// 1-based column (in bytes) of the offending byte on its line (0 when unknown).
    pub fn column(&self) -> usize {
        self.0.column()
    }
}

/// Parses exactly one JSON document (RFC 8259) from `bytes`.
///
/// # Errors
/// A [`ParseError`] with line and column when the bytes are not JSON, are not valid UTF-8 inside a
/// string, contain a lone surrogate `\u` escape, repeat a key in any object, nest arrays/objects deeper
/// than [`MAX_DEPTH`], or carry anything but JSON whitespace after the document.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue.deserialize(&mut de).map_err(ParseError)?;
    de.end().map_err(ParseError)?;
    Ok(value)
}

/// A `serde_json::Value` builder that refuses repeated object keys.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let value = map.next_value_seed(StrictValue)?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

/// A POST body: one message or a batch (JSON-RPC 2.0 §6; MCP 2025-03-26 allows batches).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A single message object.
    Single(Message),
    /// A non-empty array of messages, in body order.
    Batch(Vec<Message>),
}

impl Payload {
    /// The messages, in body order (one for [`Payload::Single`]).
    pub fn messages(&self) -> &[Message] {
        match self {
            Payload::Single(message) => std::slice::from_ref(message),
            Payload::Batch(messages) => messages,
        }
    }
}

/// One JSON-RPC 2.0 message (§4 request and notification, §5 response).
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A call that expects a response: `id` is a string, a number or null.
    Request {
        /// The request id, echoed by the response.
        id: Value,
        /// The method name (`tools/call`, `initialize`, …).
        method: String,
        /// `params`: an object or an array when present.
        params: Option<Value>,
    },
    /// A call without `id`: the server answers nothing, but may still act on it.
    Notification {
        /// The method name (`notifications/initialized`, …).
        method: String,
        /// `params`: an object or an array when present.
        params: Option<Value>,
    },
    /// A response (a client answering a server request, e.g. sampling or elicitation).
    Response {
        /// The id of the request answered.
        id: Value,
        /// The whole response object (`jsonrpc`, `id`, `result` or `error`).
        body: Value,
    },
}

impl Message {
    /// The method of a request or notification; `None` for a response.
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request { method, .. } | Message::Notification { method, .. } => Some(method),
            Message::Response { .. } => None,
        }
    }

    /// The id of a request or response; `None` for a notification.
    pub fn id(&self) -> Option<&Value> {
        match self {
            Message::Request { id, .. } | Message::Response { id, .. } => Some(id),
            Message::Notification { .. } => None,
        }
    }

    /// `params.name` of a `tools/call`. Notifications count too: a server may execute a
    /// `tools/call` sent without `id` even though it will not answer it.
    pub fn tool_name(&self) -> Option<&str> {
        self.tools_call_params()?.get("name")?.as_str()
    }

    /// `params.arguments` of a `tools/call` (request or notification), when present.
    pub fn arguments(&self) -> Option<&Value> {
        self.tools_call_params()?.get("arguments")
    }

    /// `params.inputResponses` of a `tools/call` retried under MCP 2026-07-28 Multi Round-Trip
    /// Requests (SEP-2322), when present.
    pub fn input_responses(&self) -> Option<&Value> {
        self.tools_call_params()?.get("inputResponses")
    }

    fn tools_call_params(&self) -> Option<&Map<String, Value>> {
        match self {
            Message::Request { method, params, .. } | Message::Notification { method, params }
                if method == TOOLS_CALL =>
            {
                params.as_ref()?.as_object()
            }
            _ => None,
        }
    }
}

/// Why a POST body is not a JSON-RPC message or batch; becomes a JSON-RPC error response.
///
/// Displays `message`, e.g. `batch[1]: "jsonrpc" must be "2.0"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PayloadError {
    /// [`PARSE_ERROR`], [`INVALID_REQUEST`] or [`INVALID_PARAMS`].
    pub code: i64,
    /// What was wrong and where (line/column, or `batch[n]` and the member).
    pub message: String,
}

impl PayloadError {
    fn invalid(at: &str, what: impl fmt::Display) -> Self {
        Self {
            code: INVALID_REQUEST,
            message: format!("{at}{what}"),
        }
    }
}

/// Parses a POST body: a single message object or a non-empty batch array of them.
///
/// Beyond JSON-RPC 2.0 §4–§6, refused as ambiguous: a message carrying both `method` and
/// `result`/`error`, a response with both or neither of `result` and `error`, and two messages of one
/// batch sharing an id. A `tools/call` must have an object `params` with a string `name` and, when
/// present, an object `arguments` (MCP `CallToolRequest`). Other members are kept as sent.
///
/// # Errors
/// [`PARSE_ERROR`] when [`parse_strict`] refuses the bytes; [`INVALID_REQUEST`] for JSON that is not a
/// message or batch (wrong `jsonrpc`, `method` not a string, id not a string/number/null, `params` not
/// an object/array, an empty batch, …); [`INVALID_PARAMS`] for a malformed `tools/call`. The message
/// locates the problem (`batch[2]: ...`).
pub fn parse_payload(bytes: &[u8]) -> Result<Payload, PayloadError> {
    let value = parse_strict(bytes).map_err(|e| PayloadError {
        code: PARSE_ERROR,
        message: format!("invalid JSON: {e}"),
    })?;
    match value {
        Value::Array(items) if items.is_empty() => Err(PayloadError::invalid(
            "",
            "empty batch: a batch must hold at least one message",
        )),
        Value::Array(items) => {
            let mut messages: Vec<Message> = Vec::with_capacity(items.len());
            // (is a response, id as JSON text) -> index of the message that carried it first.
            let mut seen_ids: HashMap<(bool, String), usize> = HashMap::new();
            for (index, item) in items.into_iter().enumerate() {
                let at = format!("batch[{index}]: ");
                let message = parse_message(item, &at)?;
                if let Some(id) = message.id() {
                    let key = (matches!(message, Message::Response { .. }), id.to_string());
                    if let Some(earlier) = seen_ids.insert(key, index) {
                        return Err(PayloadError::invalid(
                            &at,
                            format_args!("id {id} repeats the id of batch[{earlier}]"),
                        ));
                    }
                }
                messages.push(message);
            }
            Ok(Payload::Batch(messages))
        }
        other => parse_message(other, "").map(Payload::Single),
    }
}

fn parse_message(value: Value, at: &str) -> Result<Message, PayloadError> {
    let Value::Object(mut object) = value else {
        return Err(PayloadError::invalid(
            at,
            format_args!("a message must be a JSON object, not {}", kind(&value)),
        ));
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(PayloadError::invalid(at, r#""jsonrpc" must be "2.0""#));
    }
    if let Some(id) = object.get("id") {
        if !matches!(id, Value::String(_) | Value::Number(_) | Value::Null) {
            return Err(PayloadError::invalid(
                at,
                format_args!(
                    r#""id" must be a string, a number or null, not {}"#,
                    kind(id)
                ),
            ));
        }
    }
    let has_result = object.contains_key("result");
    let has_error = object.contains_key("error");
    match object.remove("method") {
        Some(Value::String(method)) => {
            if has_result || has_error {
                return Err(PayloadError::invalid(
                    at,
                    r#"a message with "method" must not carry "result" or "error""#,
                ));
            }
            let params = object.remove("params");
            if let Some(p) = &params {
                if !p.is_object() && !p.is_array() {
                    return Err(PayloadError::invalid(
                        at,
                        format_args!(r#""params" must be an object or an array, not {}"#, kind(p)),
                    ));
                }
            }
            if method == TOOLS_CALL {
                check_tools_call(params.as_ref(), at)?;
            }
            Ok(match object.remove("id") {
                Some(id) => Message::Request { id, method, params },
                None => Message::Notification { method, params },
            })
        }
        Some(other) => Err(PayloadError::invalid(
            at,
            format_args!(r#""method" must be a string, not {}"#, kind(&other)),
        )),
        None => {
            if has_result == has_error {
                return Err(PayloadError::invalid(
                    at,
                    r#"a message needs "method" (request) or exactly one of "result" and "error" (response)"#,
                ));
            }
            if let Some(error) = object.get("error") {
                check_error_object(error, at)?;
            }
            let Some(id) = object.get("id").cloned() else {
                return Err(PayloadError::invalid(at, r#"a response must carry "id""#));
            };
            Ok(Message::Response {
                id,
                body: Value::Object(object),
            })
        }
    }
}

/// JSON-RPC 2.0 §5.1: `error` is an object with an integer `code` and a string `message`.
fn check_error_object(error: &Value, at: &str) -> Result<(), PayloadError> {
    let valid = error.get("code").is_some_and(|c| c.is_i64())
        && error.get("message").is_some_and(Value::is_string);
    if valid {
        Ok(())
    } else {
        Err(PayloadError::invalid(
            at,
            r#""error" must be an object with an integer "code" and a string "message""#,
        ))
    }
}

/// MCP `CallToolRequest`: `params: {name: string, arguments?: object}`.
fn check_tools_call(params: Option<&Value>, at: &str) -> Result<(), PayloadError> {
    let invalid = |what: &str| PayloadError {
        code: INVALID_PARAMS,
        message: format!("{at}tools/call {what}"),
    };
    let params = params
        .and_then(Value::as_object)
        .ok_or_else(|| invalid(r#"needs an object "params""#))?;
    if !params.get("name").is_some_and(Value::is_string) {
        return Err(invalid(r#"needs a string "params.name""#));
    }
    if params.get("arguments").is_some_and(|a| !a.is_object()) {
        return Err(invalid(r#""params.arguments" must be an object"#));
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Builds a JSON-RPC 2.0 error response (§5, §5.1):
/// `{"jsonrpc":"2.0","id":id,"error":{"code":code,"message":message,"data":data}}`, without `data`
/// when `None`.
pub fn error_response(id: &Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = Map::new();
    error.insert("code".to_owned(), code.into());
    error.insert("message".to_owned(), message.into());
    if let Some(data) = data {
        error.insert("data".to_owned(), data);
    }
    let mut response = Map::new();
    response.insert("jsonrpc".to_owned(), "2.0".into());
    response.insert("id".to_owned(), id.clone());
    response.insert("error".to_owned(), Value::Object(error));
    Value::Object(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(body: &[u8]) -> PayloadError {
        parse_payload(body).expect_err("body should be refused")
    }

    #[test]
    fn parses_single_tools_call_request() {
        let body = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Oslo"}}}"#;
        let Payload::Single(message) = parse_payload(body).unwrap() else {
            panic!("expected a single message")
        };
        assert_eq!(message.method(), Some("tools/call"));
        assert_eq!(message.tool_name(), Some("get_weather"));
        assert_eq!(message.arguments(), Some(&json!({"city": "Oslo"})));
        assert_eq!(message.id(), Some(&json!(7)));
    }

    #[test]
    fn parses_batch_of_request_notification_and_response() {
        let body = br#"[
            {"jsonrpc":"2.0","id":"a","method":"tools/list"},
            {"jsonrpc":"2.0","method":"notifications/initialized"},
            {"jsonrpc":"2.0","id":"a","result":{}}
        ]"#;
        let Payload::Batch(messages) = parse_payload(body).unwrap() else {
            panic!("expected a batch")
        };
        assert!(
            matches!(&messages[0], Message::Request { id, method, params: None } if id == "a" && method == "tools/list")
        );
        assert!(
            matches!(&messages[1], Message::Notification { method, .. } if method == "notifications/initialized")
        );
        assert_eq!(
            messages[2],
            Message::Response {
                id: json!("a"),
                body: json!({"jsonrpc":"2.0","id":"a","result":{}})
            }
        );
    }

    #[test]
    fn tools_call_sent_as_notification_still_names_its_tool() {
        let body = br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"drop_db"}}"#;
        let Payload::Single(message) = parse_payload(body).unwrap() else {
            panic!()
        };
        assert!(matches!(message, Message::Notification { .. }));
        assert_eq!(message.tool_name(), Some("drop_db"));
        assert_eq!(message.arguments(), None);
    }

    #[test]
    fn error_response_from_client_is_a_response() {
        let body = br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32601,"message":"nope"}}"#;
        assert!(matches!(
            parse_payload(body).unwrap(),
            Payload::Single(Message::Response {
                id: Value::Null,
                ..
            })
        ));
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth_with_position() {
        let e = parse_strict(br#"{"a":{"b":1,"b":2}}"#).unwrap_err();
        assert!(e.to_string().contains(r#"duplicate key "b""#), "{e}");
        assert_eq!(
            (e.line(), e.column()),
            (1, 15),
            "points at the repeated key"
        );
        let e =
            refused(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"x","params":{}}"#);
        assert_eq!(e.code, PARSE_ERROR);
        assert!(e.message.contains("duplicate key \"method\""), "{e}");
        let e = refused(br#"[{"jsonrpc":"2.0","method":"m","params":[{"k":1,"k":1}]}]"#);
        assert_eq!(e.code, PARSE_ERROR);
    }

    #[test]
    fn refuses_invalid_utf8_inside_strings() {
        let e = refused(b"{\"jsonrpc\":\"2.0\",\"method\":\"a\xff\"}");
        assert_eq!(e.code, PARSE_ERROR);
        assert!(parse_strict(b"\"\xc3\x28\"").is_err());
    }

    #[test]
    fn refuses_lone_surrogate_escapes() {
        assert!(parse_strict(br#""\ud800""#).is_err());
        assert!(parse_strict(br#""\udc00x""#).is_err());
        assert!(parse_strict(br#""\ud800\u0041""#).is_err());
        assert_eq!(parse_strict(br#""\ud83d\ude00""#).unwrap(), json!("😀"));
    }

    #[test]
    fn refuses_trailing_bytes_but_accepts_trailing_whitespace() {
        let e = refused(br#"{"jsonrpc":"2.0","method":"ping"} {"jsonrpc":"2.0","method":"x"}"#);
        assert_eq!(e.code, PARSE_ERROR);
        assert!(e.message.contains("trailing"), "{e}");
        assert!(parse_strict(b"{}x").is_err());
        assert!(parse_payload(b" {\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\r\n\t ").is_ok());
    }

    #[test]
    fn refuses_nesting_deeper_than_the_bound() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse_strict(nest(MAX_DEPTH).as_bytes()).is_ok());
        let e = parse_strict(nest(MAX_DEPTH + 1).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("recursion limit"), "{e}");
    }

    #[test]
    fn refuses_empty_body_and_empty_batch() {
        assert_eq!(refused(b"").code, PARSE_ERROR);
        let e = refused(b" [ ] ");
        assert_eq!(e.code, INVALID_REQUEST);
        assert!(e.message.contains("empty batch"), "{e}");
    }

    #[test]
    fn refuses_wrong_or_missing_jsonrpc_version() {
        for body in [
            br#"{"jsonrpc":"1.0","id":1,"method":"m"}"#.as_slice(),
            br#"{"id":1,"method":"m"}"#,
            br#"{"jsonrpc":2.0,"id":1,"method":"m"}"#,
        ] {
            let e = refused(body);
            assert_eq!(e.code, INVALID_REQUEST);
            assert!(e.message.contains("\"jsonrpc\" must be \"2.0\""), "{e}");
        }
    }

    #[test]
    fn refuses_ids_that_are_not_string_number_or_null() {
        for id in ["true", "[1]", "{}"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m"}}"#);
            let e = refused(body.as_bytes());
            assert_eq!(e.code, INVALID_REQUEST, "{id}");
            assert!(e.message.contains("\"id\""), "{e}");
        }
    }

    #[test]
    fn refuses_non_object_messages_and_batch_members_with_their_index() {
        assert_eq!(refused(b"42").code, INVALID_REQUEST);
        let e = refused(br#"[{"jsonrpc":"2.0","method":"ping"}, "x"]"#);
        assert_eq!(e.code, INVALID_REQUEST);
        assert!(e.message.starts_with("batch[1]: "), "{e}");
    }

    #[test]
    fn refuses_ambiguous_messages() {
        let cases: [&[u8]; 6] = [
            br#"{"jsonrpc":"2.0","id":1,"method":"m","result":{}}"#,
            br#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":1}"#,
            br#"{"jsonrpc":"2.0","result":{}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"m","params":"x"}"#,
        ];
        for body in cases {
            assert_eq!(
                refused(body).code,
                INVALID_REQUEST,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn refuses_malformed_error_object_in_response() {
        let e = refused(br#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#);
        assert_eq!(e.code, INVALID_REQUEST);
    }

    #[test]
    fn refuses_repeated_request_id_inside_batch() {
        let e = refused(
            br#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":1,"method":"b"}]"#,
        );
        assert_eq!(e.code, INVALID_REQUEST);
        assert_eq!(e.message, "batch[1]: id 1 repeats the id of batch[0]");
    }

    #[test]
    fn refuses_tools_call_without_string_name_or_with_non_object_arguments() {
        for params in [
            r#"{"arguments":{}}"#,
            r#"{"name":["a"]}"#,
            r#"{"name":"t","arguments":[1]}"#,
            "[]",
        ] {
            let body =
                format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}"#);
            assert_eq!(refused(body.as_bytes()).code, INVALID_PARAMS, "{params}");
        }
        assert_eq!(
            refused(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#).code,
            INVALID_PARAMS
        );
    }

    #[test]
    fn error_response_has_the_jsonrpc_shape() {
        assert_eq!(
            error_response(
                &json!("r1"),
                POLICY_DENIED,
                "denied by rule no-delete",
                Some(json!({"rule":"no-delete"}))
            ),
            json!({"jsonrpc":"2.0","id":"r1","error":{"code":-32003,"message":"denied by rule no-delete","data":{"rule":"no-delete"}}})
        );
        assert_eq!(
            serde_json::to_string(&error_response(&Value::Null, PARSE_ERROR, "bad", None)).unwrap(),
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}"#
        );
    }
}
