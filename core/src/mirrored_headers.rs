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

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use crate::jsonrpc::{Message, Payload};

/// `Mcp-Method` (lower case, as Envoy presents header names).
pub const MCP_METHOD: &str = "mcp-method";
/// `Mcp-Name`.
pub const MCP_NAME: &str = "mcp-name";
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
    /// `mcp-method` or `mcp-name`.
    pub header: &'static str,
    /// What is wrong, naming the values.
    pub problem: String,
}

impl HeaderMismatch {
    fn new(header: &'static str, problem: String) -> Self {
        Self { header, problem }
    }
}

/// The mirrored headers of one request, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirroredHeaders {
    /// Every `Mcp-Method` value, in order.
    pub method: Vec<String>,
    /// Every `Mcp-Name` value, in order.
    pub name: Vec<String>,
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
            required,
        }
    }

    /// Checks the headers against the parsed body.
    ///
    /// # Errors
    /// The first [`HeaderMismatch`], as described in the module documentation.
    pub fn check(&self, payload: &Payload) -> Result<(), HeaderMismatch> {
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
fn single<'v>(
    header: &'static str,
    values: &'v [String],
) -> Result<Option<&'v str>, HeaderMismatch> {
    match values {
        [] => Ok(None),
        [one] => Ok(Some(one.trim())),
        many => Err(HeaderMismatch::new(
            header,
            format!("appears {} times; send it once", many.len()),
        )),
    }
}

fn without_counterpart(header: &'static str, why: &str) -> HeaderMismatch {
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
}
