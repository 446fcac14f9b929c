//! The standard request headers of MCP 2026-07-28 Streamable HTTP (SEP-2243): `Mcp-Method` mirrors the
//! body's JSON-RPC `method`, `Mcp-Name` the name the method acts on (tool, prompt, resource URI, task).
//!
//! Envoy routes, rate limits and access logs keyed on these headers see only the headers; Warden judges
//! the body. So a request whose headers say something else than its body is refused (HTTP 400, JSON-RPC
//! error -32600 whose `data.header` names the header), and what every later hop sees is what Warden
//! judged:
//! - a header present more than once, or present without its counterpart in the body (`Mcp-Method` on a
//!   JSON-RPC response or a batch, `Mcp-Name` on a method that names nothing), or whose value differs
//!   from the body's;
//! - from protocol version [`FIRST_VERSION_REQUIRING`] on (`MCP-Protocol-Version`), a request (not a
//!   notification: the specification leaves those open) without `Mcp-Method`, or without `Mcp-Name`
//!   when its method names something; and any batch, which that version no longer has.
//!
//! Values are compared exactly (method names and names are case-sensitive). A value written as
//! `=?base64?…?=` (markers case-sensitive) is the standard Base64 (RFC 4648 §4) of the UTF-8 name; one that
//! does not decode to UTF-8 is refused.
//!
//! # `Mcp-Param-*`
//! A client mirrors each `tools/call` argument whose `inputSchema` property carries `x-mcp-header: T`
//! into `Mcp-Param-T` (SEP-2243 "custom headers"): strings as they are, integers in decimal, booleans
//! as `true`/`false`, each in the `=?base64?…?=` form when not plain visible ASCII; `null` or absent
//! arguments send no header. Warden does not know the tool's schema when the request arrives, so it
//! ties `Mcp-Param-T` to the **top-level argument whose name equals `T` case-insensitively, `-` and `_`
//! counting as the same character** (`Mcp-Param-Region` ↔ `region`, `Mcp-Param-Tenant-Id` ↔
//! `tenant_id`), the naming the specification's examples and the SDKs use. Every `Mcp-Param-*`
//! header, whatever the protocol version, must:
//! - appear once, on a `tools/call`, and name exactly one argument that is present and not `null`
//!   (otherwise it has no counterpart: an annotation on a nested property, or one named unlike its
//!   property, cannot be checked and is refused — fail closed);
//! - carry that argument's value: a string equal to it, an integer equal to it (decimal, `42.0`
//!   accepted as the specification's numeric comparison allows), `true`/`false` for a boolean, a
//!   number equal as a double; an object or array has no header form.
//!
//! An argument without its header is not refused: only the schema says which arguments are mirrored,
//! and the server (which has it) checks that side.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use crate::jsonrpc::{Message, Payload};

/// `Mcp-Method` (lower case, as Envoy presents header names).
pub const MCP_METHOD: &str = "mcp-method";
/// `Mcp-Name`.
pub const MCP_NAME: &str = "mcp-name";
/// Prefix of the headers mirroring tool arguments (`Mcp-Param-<Name>`, lower case).
pub const MCP_PARAM_PREFIX: &str = "mcp-param-";
/// The first `MCP-Protocol-Version` whose requests must carry the headers.
pub const FIRST_VERSION_REQUIRING: &str = "2026-07-28";

/// The body member `Mcp-Name` mirrors for `method` (a member of `params`), if the method names
/// something: `tools/call` and `prompts/get` → `name`, `resources/read` → `uri`, `tasks/get`,
/// `tasks/update`, `tasks/cancel` → `taskId`.
pub fn name_member(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    }
}

/// Why the mirrored headers are refused: the header at fault and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{header}: {problem}")]
pub struct HeaderMismatch {
    /// `mcp-method`, `mcp-name` or `mcp-param-<name>` (lower case, as received).
    pub header: String,
    /// What is wrong, naming the values.
    pub problem: String,
}

impl HeaderMismatch {
    fn new(header: &str, problem: String) -> Self {
        Self {
            header: header.to_owned(),
            problem,
        }
    }
}

/// The mirrored headers of one request, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirroredHeaders {
    /// Every `Mcp-Method` value, in order.
    pub method: Vec<String>,
    /// Every `Mcp-Name` value, in order.
    pub name: Vec<String>,
    /// Every `Mcp-Param-*` header, in order: (name in lower case, value).
    pub params: Vec<(String, String)>,
    /// Whether the protocol version makes them mandatory on requests.
    pub required: bool,
}

impl MirroredHeaders {
    /// The headers of a request: every value of `Mcp-Method` and `Mcp-Name`, and its
    /// `MCP-Protocol-Version` (a `YYYY-MM-DD` date; anything else requires nothing).
    pub fn new(method: &[&str], name: &[&str], protocol_version: Option<&str>) -> Self {
        let required = protocol_version.is_some_and(|v| {
            v.len() == FIRST_VERSION_REQUIRING.len()
                && v.bytes().all(|b| b.is_ascii_digit() || b == b'-')
                && v >= FIRST_VERSION_REQUIRING
        });
        Self {
            method: method.iter().map(|v| (*v).to_owned()).collect(),
            name: name.iter().map(|v| (*v).to_owned()).collect(),
            params: Vec::new(),
            required,
        }
    }

    /// These headers plus the request's `Mcp-Param-*` headers, picked from all of its `headers`
    /// (names case-insensitive).
    pub fn with_params(mut self, headers: &[(String, String)]) -> Self {
        self.params = headers
            .iter()
            .filter(|(n, _)| {
                n.get(..MCP_PARAM_PREFIX.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(MCP_PARAM_PREFIX))
            })
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        self
    }

    /// Checks the headers against the parsed body.
    ///
    /// # Errors
    /// The first [`HeaderMismatch`], as described in the module documentation.
    pub fn check(&self, payload: &Payload) -> Result<(), HeaderMismatch> {
        self.check_method_and_name(payload)?;
        self.check_params(payload)
    }

    /// The `Mcp-Param-*` checks of the module documentation.
    fn check_params(&self, payload: &Payload) -> Result<(), HeaderMismatch> {
        let Some((first, _)) = self.params.first() else {
            return Ok(());
        };
        let arguments = match payload {
            Payload::Single(message) if message.method() == Some("tools/call") => {
                message.arguments().and_then(Value::as_object)
            }
            _ => {
                return Err(without_counterpart(
                    first,
                    "only a single tools/call carries arguments",
                ))
            }
        };
        for (i, (header, value)) in self.params.iter().enumerate() {
            if self.params[..i].iter().any(|(n, _)| n == header) {
                continue;
            }
            let values: Vec<String> = self
                .params
                .iter()
                .filter(|(n, _)| n == header)
                .map(|(_, v)| v.clone())
                .collect();
            single(header, &values)?;
            let token = &header[MCP_PARAM_PREFIX.len()..];
            let same = |name: &str| {
                name.len() == token.len()
                    && name.bytes().zip(token.bytes()).all(|(a, b)| {
                        a.eq_ignore_ascii_case(&b)
                            || (matches!(a, b'-' | b'_') && matches!(b, b'-' | b'_'))
                    })
            };
            let mut candidates = arguments
                .into_iter()
                .flatten()
                .filter(|(name, v)| same(name) && !v.is_null());
            let (argument, body) = match (candidates.next(), candidates.next()) {
                (Some(found), None) => found,
                (None, _) => {
                    return Err(without_counterpart(
                        header,
                        &format!("the call has no argument named like {token:?} (case-insensitive, - and _ alike) that is not null"),
                    ))
                }
                (Some((a, _)), Some((b, _))) => {
                    return Err(HeaderMismatch::new(
                        header,
                        format!("names both arguments {a:?} and {b:?}"),
                    ))
                }
            };
            let Some(decoded) = decode(value.trim()) else {
                return Err(HeaderMismatch::new(
                    header,
                    format!(
                        "{value:?} is not valid =?base64?…?= text (RFC 4648 §4 Base64 of UTF-8)"
                    ),
                ));
            };
            if !mirrors(body, &decoded) {
                return Err(HeaderMismatch::new(
                    header,
                    format!(
                        "the header says {decoded:?} but the body's arguments.{argument} is {body}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The `Mcp-Method` and `Mcp-Name` checks of the module documentation.
    fn check_method_and_name(&self, payload: &Payload) -> Result<(), HeaderMismatch> {
        let method = single(MCP_METHOD, &self.method)?;
        let name = single(MCP_NAME, &self.name)?;
        let message = match payload {
            Payload::Single(message) => message,
            Payload::Batch(_) if self.required => {
                return Err(HeaderMismatch::new(
                    MCP_METHOD,
                    format!("protocol version {FIRST_VERSION_REQUIRING} has no batches; send one message per request"),
                ))
            }
            Payload::Batch(_) => {
                return match (method, name) {
                    (None, None) => Ok(()),
                    (Some(_), _) => Err(without_counterpart(MCP_METHOD, "a batch has no single method")),
                    (None, Some(_)) => Err(without_counterpart(MCP_NAME, "a batch has no single name")),
                }
            }
        };
        let is_request = matches!(message, Message::Request { .. });
        let body_method = message.method();
        match (method, body_method) {
            (Some(header), Some(body)) if header != body => {
                return Err(HeaderMismatch::new(
                    MCP_METHOD,
                    format!("the header says {header:?} but the body's method is {body:?}"),
                ))
            }
            (Some(_), None) => {
                return Err(without_counterpart(
                    MCP_METHOD,
                    "the body is a JSON-RPC response, which has no method",
                ))
            }
            (None, Some(body)) if self.required && is_request => {
                return Err(HeaderMismatch::new(
                    MCP_METHOD,
                    format!("missing; protocol version {FIRST_VERSION_REQUIRING} requires it to mirror the method {body:?}"),
                ))
            }
            _ => {}
        }
        let member = body_method.and_then(name_member);
        let body_name = member.and_then(|member| named(message, member));
        match (name, member, body_name) {
            (Some(_), None, _) => Err(without_counterpart(
                MCP_NAME,
                &format!("the method {:?} names nothing", body_method.unwrap_or_default()),
            )),
            (Some(_), Some(member), None) => Err(without_counterpart(
                MCP_NAME,
                &format!("the body has no string params.{member}"),
            )),
            (Some(header), Some(member), Some(body)) => match decode(header) {
                Some(decoded) if decoded == body => Ok(()),
                Some(decoded) => Err(HeaderMismatch::new(
                    MCP_NAME,
                    format!("the header says {decoded:?} but the body's params.{member} is {body:?}"),
                )),
                None => Err(HeaderMismatch::new(
                    MCP_NAME,
                    format!("{header:?} is not valid =?base64?…?= text (RFC 4648 §4 Base64 of UTF-8)"),
                )),
            },
            (None, Some(member), _) if self.required && is_request => Err(HeaderMismatch::new(
                MCP_NAME,
                format!("missing; protocol version {FIRST_VERSION_REQUIRING} requires it to mirror params.{member}"),
            )),
            _ => Ok(()),
        }
    }
}

/// The only value of a header, if present.
///
/// # Errors
/// When the header is repeated.
fn single<'v>(header: &str, values: &'v [String]) -> Result<Option<&'v str>, HeaderMismatch> {
    match values {
        [] => Ok(None),
        [one] => Ok(Some(one.trim())),
        many => Err(HeaderMismatch::new(
            header,
            format!("appears {} times; send it once", many.len()),
        )),
    }
}

/// Whether header text `decoded` is the header form of argument `value` (see the module
/// documentation).
fn mirrors(value: &Value, decoded: &str) -> bool {
    match value {
        Value::String(s) => s == decoded,
        Value::Bool(b) => decoded == if *b { "true" } else { "false" },
        Value::Number(n) => {
            if let Some(int) = n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)) {
                let whole = decoded
                    .split_once('.')
                    .filter(|(_, fraction)| {
                        !fraction.is_empty() && fraction.bytes().all(|b| b == b'0')
                    })
                    .map_or(decoded, |(whole, _)| whole);
                let digits = whole.strip_prefix('-').unwrap_or(whole);
                !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && whole.parse::<i128>().is_ok_and(|h| h == int)
            } else {
                decoded.parse::<f64>().ok() == n.as_f64()
            }
        }
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    }
}

fn without_counterpart(header: &str, why: &str) -> HeaderMismatch {
    HeaderMismatch::new(
        header,
        format!("present without its counterpart in the body: {why}"),
    )
}

/// `params.<member>` of the message, when it is a string.
fn named<'m>(message: &'m Message, member: &str) -> Option<&'m str> {
    match message {
        Message::Request { params, .. } | Message::Notification { params, .. } => {
            params.as_ref()?.get(member).and_then(Value::as_str)
        }
        Message::Response { .. } => None,
    }
}

/// The header value as text: the decoded Base64 of a `=?base64?…?=` value, the value itself otherwise.
fn decode(value: &str) -> Option<String> {
    let Some(encoded) = value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    else {
        return Some(value.to_owned());
    };
    String::from_utf8(STANDARD.decode(encoded).ok()?).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use serde_json::json;

    use super::*;
    use crate::jsonrpc::parse_payload;

    const MODERN: Option<&str> = Some("2026-07-28");
    const OLDER: Option<&str> = Some("2025-11-25");

    fn check(
        method: &[&str],
        name: &[&str],
        version: Option<&str>,
        body: Value,
    ) -> Result<(), HeaderMismatch> {
        let payload = parse_payload(body.to_string().as_bytes()).unwrap();
        MirroredHeaders::new(method, name, version).check(&payload)
    }

    fn tool_call(name: &str) -> Value {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": {}}})
    }

    #[test]
    fn matching_headers_pass_for_every_named_method() {
        assert_eq!(
            check(
                &["tools/call"],
                &["delete_customer"],
                MODERN,
                tool_call("delete_customer")
            ),
            Ok(())
        );
        let read = json!({"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": "file:///a b"}});
        assert_eq!(
            check(&["resources/read"], &["file:///a b"], MODERN, read),
            Ok(())
        );
        let prompt =
            json!({"jsonrpc": "2.0", "id": 3, "method": "prompts/get", "params": {"name": "p"}});
        assert_eq!(check(&["prompts/get"], &["p"], MODERN, prompt), Ok(()));
        let task =
            json!({"jsonrpc": "2.0", "id": 4, "method": "tasks/get", "params": {"taskId": "t-1"}});
        assert_eq!(check(&["tasks/get"], &["t-1"], MODERN, task), Ok(()));
        let list = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"});
        assert_eq!(check(&["tools/list"], &[], MODERN, list), Ok(()));
    }

    #[test]
    fn a_name_header_naming_another_tool_than_the_body_is_refused() {
        let e = check(
            &["tools/call"],
            &["search_customers"],
            MODERN,
            tool_call("delete_customer"),
        )
        .unwrap_err();
        assert_eq!(e.header, MCP_NAME);
        assert!(
            e.problem.contains("\"search_customers\"") && e.problem.contains("\"delete_customer\""),
            "{e}"
        );
        // Older versions too: a header that is present must tell the truth.
        assert!(check(
            &[],
            &["search_customers"],
            OLDER,
            tool_call("delete_customer")
        )
        .is_err());
    }

    #[test]
    fn a_method_header_naming_another_method_is_refused() {
        let e = check(&["tools/list"], &[], None, tool_call("delete_customer")).unwrap_err();
        assert_eq!(e.header, MCP_METHOD);
    }

    #[test]
    fn case_differences_are_mismatches() {
        assert!(check(
            &["Tools/Call"],
            &["delete_customer"],
            MODERN,
            tool_call("delete_customer")
        )
        .is_err());
        assert!(check(
            &["tools/call"],
            &["Delete_Customer"],
            MODERN,
            tool_call("delete_customer")
        )
        .is_err());
    }

    #[test]
    fn repeated_headers_are_refused() {
        let e = check(
            &["tools/call", "tools/call"],
            &["x"],
            MODERN,
            tool_call("x"),
        )
        .unwrap_err();
        assert_eq!(e.header, MCP_METHOD);
        let e = check(&["tools/call"], &["x", "y"], MODERN, tool_call("x")).unwrap_err();
        assert_eq!(e.header, MCP_NAME);
    }

    #[test]
    fn headers_without_their_body_counterpart_are_refused() {
        let list = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"});
        assert_eq!(
            check(&["tools/list"], &["x"], OLDER, list)
                .unwrap_err()
                .header,
            MCP_NAME
        );
        let response = json!({"jsonrpc": "2.0", "id": 5, "result": {}});
        assert_eq!(
            check(&["tools/call"], &[], OLDER, response)
                .unwrap_err()
                .header,
            MCP_METHOD
        );
        let nameless =
            json!({"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"taskId": 7}});
        assert_eq!(
            check(&["tasks/get"], &["7"], OLDER, nameless)
                .unwrap_err()
                .header,
            MCP_NAME
        );
        let batch = json!([tool_call("a"), {"jsonrpc": "2.0", "id": 2, "method": "ping"}]);
        assert_eq!(
            check(&["tools/call"], &[], OLDER, batch.clone())
                .unwrap_err()
                .header,
            MCP_METHOD
        );
        assert_eq!(check(&[], &[], OLDER, batch.clone()), Ok(()));
        assert!(check(&[], &[], MODERN, batch).is_err());
    }

    #[test]
    fn from_2026_07_28_requests_must_carry_them_and_notifications_need_not() {
        assert_eq!(
            check(&[], &[], MODERN, tool_call("x")).unwrap_err().header,
            MCP_METHOD
        );
        assert_eq!(
            check(&["tools/call"], &[], MODERN, tool_call("x"))
                .unwrap_err()
                .header,
            MCP_NAME
        );
        assert_eq!(
            check(&[], &[], Some("2027-03-01"), tool_call("x"))
                .unwrap_err()
                .header,
            MCP_METHOD
        );
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        assert_eq!(check(&[], &[], MODERN, note), Ok(()));
        // Older or unreadable versions: absent headers are fine.
        assert_eq!(check(&[], &[], OLDER, tool_call("x")), Ok(()));
        assert_eq!(check(&[], &[], Some("latest"), tool_call("x")), Ok(()));
        assert_eq!(check(&[], &[], None, tool_call("x")), Ok(()));
    }

    #[test]
    fn base64_names_are_decoded_and_bad_base64_is_refused() {
        let encoded = format!("=?base64?{}?=", STANDARD.encode("tööl_unicode"));
        assert_eq!(
            check(
                &["tools/call"],
                &[&encoded],
                MODERN,
                tool_call("tööl_unicode")
            ),
            Ok(())
        );
        assert!(check(
            &["tools/call"],
            &[&encoded],
            MODERN,
            tool_call("tool_unicode")
        )
        .is_err());
        assert!(check(&["tools/call"], &["=?base64?!!!?="], MODERN, tool_call("x")).is_err());
        let not_utf8 = format!("=?base64?{}?=", STANDARD.encode([0xff, 0xfe]));
        assert!(check(&["tools/call"], &[&not_utf8], MODERN, tool_call("x")).is_err());
        // Upper-case markers are no sentinel: the value is compared literally.
        let upper = format!("=?BASE64?{}?=", STANDARD.encode("x"));
        assert!(check(&["tools/call"], &[&upper], MODERN, tool_call("x")).is_err());
        assert_eq!(
            check(&["tools/call"], &[&upper], MODERN, tool_call(&upper)),
            Ok(())
        );
    }
    fn check_params(params: &[(&str, &str)], arguments: Value) -> Result<(), HeaderMismatch> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "t", "arguments": arguments}});
        let payload = parse_payload(body.to_string().as_bytes()).unwrap();
        let headers: Vec<(String, String)> = params
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        MirroredHeaders::new(&["tools/call"], &["t"], MODERN)
            .with_params(&headers)
            .check(&payload)
    }

    #[test]
    fn param_headers_mirroring_their_arguments_pass() {
        let arguments = json!({"region": "us-west1", "tenant_id": "tênant", "limit": 42,
                               "exact": false, "ratio": 0.5, "other": {"x": 1}});
        let tenant = format!("=?base64?{}?=", STANDARD.encode("tênant"));
        assert_eq!(
            check_params(
                &[
                    ("Mcp-Param-Region", "us-west1"),
                    ("mcp-param-TENANT-ID", &tenant),
                    ("mcp-param-limit", "42"),
                    ("mcp-param-exact", "false"),
                    ("mcp-param-ratio", "0.5"),
                ],
                arguments.clone()
            ),
            Ok(())
        );
        // The specification's numeric comparison: 42.0 is 42.
        assert_eq!(
            check_params(&[("mcp-param-limit", "42.0")], arguments.clone()),
            Ok(())
        );
        // Arguments without a header are the server's to check (it has the schema).
        assert_eq!(check_params(&[], arguments), Ok(()));
    }

    #[test]
    fn param_headers_that_differ_or_have_no_counterpart_are_refused() {
        let arguments = json!({"region": "us-west1", "limit": 42, "exact": false,
                               "gone": null, "other": {"x": 1}, "a_b": "1", "a-b": "1"});
        for (header, value) in [
            ("mcp-param-region", "eu-west1"),
            ("mcp-param-region", "US-WEST1"),
            ("mcp-param-region", " =?base64?!!?="),
            ("mcp-param-limit", "42.5"),
            ("mcp-param-limit", "+42"),
            ("mcp-param-limit", "4.2e1"),
            ("mcp-param-exact", "False"),
            ("mcp-param-exact", "0"),
            ("mcp-param-gone", "x"),
            ("mcp-param-missing", "x"),
            ("mcp-param-other", "{\"x\":1}"),
            ("mcp-param-a-b", "1"),
        ] {
            let e = check_params(&[(header, value)], arguments.clone()).unwrap_err();
            assert_eq!(e.header, header, "{header}: {value}: {e}");
        }
        let e = check_params(
            &[
                ("mcp-param-region", "us-west1"),
                ("mcp-param-region", "us-west1"),
            ],
            arguments.clone(),
        )
        .unwrap_err();
        assert!(e.problem.contains("2 times"), "{e}");
        // On anything but a single tools/call, no argument can be mirrored.
        let list = parse_payload(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
        let e = MirroredHeaders::new(&[], &[], OLDER)
            .with_params(&[("mcp-param-region".into(), "x".into())])
            .check(&list)
            .unwrap_err();
        assert_eq!(e.header, "mcp-param-region");
    }
}
