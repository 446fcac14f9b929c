//! [`LocalReply`]: an HTTP response Warden sends itself instead of forwarding the request, and the
//! constructors for the shapes it uses (JSON-RPC errors, OAuth 2.0 error objects).

use serde_json::{json, Value};

use crate::jsonrpc;

/// A reply the filter sends itself instead of forwarding the request. Its body is always JSON: the
/// `content-type: application/json` header is part of [`LocalReply::headers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    /// HTTP status: 200 for JSON-RPC errors the client should read, 202 when only notifications were
    /// refused (nothing to answer), 4xx/5xx for refusals of the request as a whole.
    pub status: u16,
    /// Response headers (lower-case names), `content-type` first.
    pub headers: Vec<(&'static str, String)>,
    /// Response body; empty for 202.
    pub body: Vec<u8>,
}

impl LocalReply {
    /// A reply of `status` with a JSON `body` (may be empty).
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body,
        }
    }

    /// A reply whose body is one JSON-RPC error response (JSON-RPC 2.0 §5.1) for request `id`.
    pub fn jsonrpc_error(
        status: u16,
        id: &Value,
        code: i64,
        message: &str,
        data: Option<Value>,
    ) -> Self {
        Self::json(
            status,
            jsonrpc::error_response(id, code, message, data)
                .to_string()
                .into_bytes(),
        )
    }

    /// A reply whose body is an OAuth 2.0 error object `{"error", "error_description"}` (RFC 6749
    /// §5.2, as RFC 6750 §3 uses it for resource servers).
    pub fn oauth_error(status: u16, error: &str, description: &str) -> Self {
        Self::json(
            status,
            json!({ "error": error, "error_description": description })
                .to_string()
                .into_bytes(),
        )
    }

    /// The same reply with one more header.
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The value of header `name` (lower case), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The reply to every request while no valid configuration is loaded: HTTP 503.
    pub fn unconfigured() -> Self {
        Self::oauth_error(
            503,
            "unavailable",
            "the Warden filter has no valid configuration",
        )
    }
}
