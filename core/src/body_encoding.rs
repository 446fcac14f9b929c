//! What a request must declare about its body before Warden reads it, so that Warden and the MCP server
//! decode the same bytes into the same JSON-RPC message.
//!
//! Warden parses every MCP POST body as UTF-8 JSON (RFC 8259 §8.1). A server that honours a declared
//! `charset` (Express's `express.json()` decodes `utf-7`, `utf-16le`, … with iconv-lite) or a request
//! `Content-Encoding` would read other bytes than the ones Warden judged. So, on every request that
//! carries a body:
//! - `Content-Type`, when present, must be exactly one header whose media type is `application/json`
//!   (RFC 9110 §8.3.1 syntax: case-insensitive names, quoted or bare parameter values) and whose only
//!   `charset` parameter, if any, is `utf-8`. Any other charset, a repeated `charset`, an unparsable
//!   value or another media type is refused with HTTP 415 (RFC 9110 §15.5.16).
//! - A `Content-Encoding` header (any value, `identity` included: RFC 9110 §8.4.1 reserves it for
//!   `Accept-Encoding`) is refused with HTTP 415.
//! - Only POST carries a body on an MCP route: a body on any other method is refused with HTTP 400
//!   ([`body_on_method_refusal`]).
//!
//! A missing `Content-Type` is read as JSON: Warden parses the body strictly either way. What Warden
//! forwards carries the `Content-Type` it writes itself, [`FORWARDED_CONTENT_TYPE`], so no parser after
//! it can reinterpret the bytes whatever the client declared.

use mediatype::MediaType;
use serde_json::{json, Value};

use crate::jsonrpc::INVALID_REQUEST;
use crate::reply::LocalReply;

/// The `Content-Type` Warden sets on every request body it forwards: JSON, which is UTF-8 by definition
/// (RFC 8259 §8.1; the media type has no `charset` parameter, RFC 8259 §11).
pub const FORWARDED_CONTENT_TYPE: &str = "application/json";

/// Why a request's declared body encoding is refused: the header that says so, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{header}: {problem}")]
pub struct EncodingRefusal {
    /// The request header at fault, lower case (`content-type` or `content-encoding`).
    pub header: &'static str,
    /// What is wrong, for the client (names the value received).
    pub problem: String,
}

impl EncodingRefusal {
    fn content_type(problem: String) -> Self {
        Self {
            header: "content-type",
            problem,
        }
    }

    /// The local reply: HTTP 415 with a JSON-RPC error -32600 (id `null`: the body was not read), whose
    /// `data.header` names the header.
    pub fn reply(&self) -> LocalReply {
        refusal_reply(415, &self.to_string(), json!({ "header": self.header }))
    }
}

/// Checks the request's `Content-Type` and `Content-Encoding` values (every occurrence of each header,
/// in order) before its body is read.
///
/// # Errors
/// [`EncodingRefusal`] for a declared charset other than UTF-8, a repeated `charset` parameter or header,
/// a media type other than `application/json`, an unparsable `Content-Type`, or any `Content-Encoding`.
pub fn check_body_encoding(
    content_types: &[&str],
    content_encodings: &[&str],
) -> Result<(), EncodingRefusal> {
    if let Some(encoding) = content_encodings.first() {
        return Err(EncodingRefusal {
            header: "content-encoding",
            problem: format!(
                "request bodies must not be encoded (received \"{encoding}\"); send the JSON-RPC message \
                 as plain UTF-8 JSON"
            ),
        });
    }
    match content_types {
        [] => Ok(()),
        [one] => check_content_type(one),
        _ => Err(EncodingRefusal::content_type(format!(
            "{} Content-Type headers received; send exactly one: {FORWARDED_CONTENT_TYPE}",
            content_types.len()
        ))),
    }
}

fn check_content_type(value: &str) -> Result<(), EncodingRefusal> {
    let media_type = MediaType::parse(value.trim()).map_err(|e| {
        EncodingRefusal::content_type(format!(
            "\"{value}\" is not a media type ({e}); send {FORWARDED_CONTENT_TYPE}"
        ))
    })?;
    let is_json = media_type.ty.as_str().eq_ignore_ascii_case("application")
        && media_type.subty.as_str().eq_ignore_ascii_case("json")
        && media_type.suffix.is_none();
    if !is_json {
        return Err(EncodingRefusal::content_type(format!(
            "MCP messages are JSON; \"{value}\" is not {FORWARDED_CONTENT_TYPE}"
        )));
    }
    let charsets: Vec<String> = media_type
        .params
        .iter()
        .filter(|(name, _)| name.as_str().eq_ignore_ascii_case("charset"))
        .map(|(_, charset)| charset.unquoted_str().into_owned())
        .collect();
    match charsets.as_slice() {
        [] => Ok(()),
        [charset] if charset.eq_ignore_ascii_case("utf-8") => Ok(()),
        [charset] => Err(EncodingRefusal::content_type(format!(
            "charset \"{charset}\" is not accepted: Warden reads request bodies as UTF-8 only (RFC 8259 §8.1)"
        ))),
        _ => Err(EncodingRefusal::content_type(format!(
            "the charset parameter appears {} times in \"{value}\"; declare it once, as utf-8, or not at all",
            charsets.len()
        ))),
    }
}

/// The local reply for a request with a body on a method other than POST: HTTP 400 with a JSON-RPC
/// error -32600 (`data.method` names the method). MCP clients send messages only with POST (MCP
/// Streamable HTTP transport), so such a body could only reach the server uninspected.
pub fn body_on_method_refusal(method: &str) -> LocalReply {
    refusal_reply(
        400,
        &format!("a {method} request on an MCP route must not carry a body; send JSON-RPC messages with POST"),
        json!({ "method": method }),
    )
}

fn refusal_reply(status: u16, message: &str, data: Value) -> LocalReply {
    LocalReply::jsonrpc_error(status, &Value::Null, INVALID_REQUEST, message, Some(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_header(content_types: &[&str], encodings: &[&str]) -> Option<&'static str> {
        check_body_encoding(content_types, encodings)
            .err()
            .map(|e| e.header)
    }

    #[test]
    fn accepts_json_with_or_without_a_utf8_charset_in_any_spelling() {
        for ct in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; CHARSET=\"utf-8\"",
            "application/json ; charset=Utf-8 ; foo=bar",
        ] {
            assert_eq!(check_body_encoding(&[ct], &[]), Ok(()), "{ct}");
        }
        assert_eq!(check_body_encoding(&[], &[]), Ok(()));
    }

    #[test]
    fn refuses_every_other_charset_however_it_is_spelled() {
        for ct in [
            "application/json; charset=utf-7",
            "application/json; charset=UTF-7",
            "application/json; Charset=\"utf-7\"",
            "application/json; charset=utf-16le",
            "application/json; charset=utf8",
            "application/json; charset=\"utf-8 \"",
            "application/json; charset=iso-8859-1",
            "application/json; charset=",
        ] {
            assert_eq!(refused_header(&[ct], &[]), Some("content-type"), "{ct}");
        }
    }

    #[test]
    fn refuses_a_repeated_charset_even_when_one_is_utf8() {
        for ct in [
            "application/json; charset=utf-8; charset=utf-7",
            "application/json; charset=utf-7; charset=utf-8",
            "application/json; charset=utf-8; CHARSET=utf-8",
        ] {
            assert_eq!(refused_header(&[ct], &[]), Some("content-type"), "{ct}");
        }
    }

    #[test]
    fn refuses_other_media_types_and_unparsable_values() {
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
            "application/vnd.api+json",
            "text/json",
            "application/json/extra",
            "",
            "application/json; charset=\"utf-8",
            "json",
        ] {
            assert_eq!(refused_header(&[ct], &[]), Some("content-type"), "{ct:?}");
        }
    }

    #[test]
    fn refuses_two_content_type_headers() {
        assert_eq!(
            refused_header(
                &["application/json", "application/json; charset=utf-7"],
                &[]
            ),
            Some("content-type")
        );
    }

    #[test]
    fn refuses_any_request_content_encoding() {
        for encoding in ["gzip", "identity", "br, gzip", ""] {
            assert_eq!(
                refused_header(&["application/json"], &[encoding]),
                Some("content-encoding"),
                "{encoding:?}"
            );
        }
    }

    #[test]
    fn refusal_is_http_415_with_a_jsonrpc_error_naming_the_header() {
        let refusal = check_body_encoding(&["application/json; charset=utf-7"], &[])
            .expect_err("utf-7 is refused");
        let reply = refusal.reply();
        assert_eq!(reply.status, 415);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["id"], Value::Null);
        assert_eq!(body["error"]["code"], INVALID_REQUEST);
        assert_eq!(body["error"]["data"]["header"], "content-type");
        assert!(body["error"]["message"].as_str().unwrap().contains("utf-7"));
    }

    #[test]
    fn body_on_get_is_a_400_naming_the_method() {
        let reply = body_on_method_refusal("GET");
        assert_eq!(reply.status, 400);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["error"]["data"]["method"], "GET");
    }
}
