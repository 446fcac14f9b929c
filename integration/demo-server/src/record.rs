//! Records every JSON-RPC message the server receives, before rmcp sees it, and serves the record
//! at `GET /_demo/received` so tests can prove a call never reached the upstream.

use std::sync::{Arc, Mutex};

use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use serde_json::Value;

/// Largest request body the recorder buffers (bytes); larger bodies are refused with 413.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// One received JSON-RPC message (request or notification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    /// HTTP path the message was posted to (`/mcp` or `/mcp-json`).
    pub path: String,
    /// JSON-RPC `method`.
    pub method: String,
    /// `params.name` of a `tools/call`, else `None`.
    pub tool: Option<String>,
    /// The request's `Mcp-Method` header (MCP 2026-07-28, SEP-2243), when it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_method: Option<String>,
    /// The request's `Mcp-Name` header, when it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_name: Option<String>,
}

/// The shared, append-only log of received messages.
#[derive(Debug, Clone, Default)]
pub struct ReceivedLog(Arc<Mutex<Vec<Received>>>);

impl ReceivedLog {
    fn extend(&self, items: impl IntoIterator<Item = Received>) {
        // A poisoned lock only means another request panicked mid-push; the data is still a Vec.
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        log.extend(items);
    }

    /// A copy of everything received so far, in arrival order.
    pub fn snapshot(&self) -> Vec<Received> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The JSON-RPC messages in a POST body: one object or a batch (array). Bodies that are not JSON, and
/// array elements without a string `method` (responses), yield nothing. Each carries the request's
/// `Mcp-Method` and `Mcp-Name` headers (`headers`), as they arrived.
pub fn messages_in(path: &str, headers: &HeaderMap, body: &[u8]) -> Vec<Received> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let items = match value {
        Value::Array(items) => items,
        single => vec![single],
    };
    items
        .iter()
        .filter_map(|m| {
            let method = m.get("method")?.as_str()?.to_owned();
            let tool = (method == "tools/call")
                .then(|| m.pointer("/params/name").and_then(Value::as_str))
                .flatten()
                .map(str::to_owned);
            Some(Received {
                path: path.to_owned(),
                method,
                tool,
                mcp_method: header("mcp-method"),
                mcp_name: header("mcp-name"),
            })
        })
        .collect()
}

/// axum middleware: buffers each POST body, records its messages, and passes the request on unchanged.
pub async fn record_messages(
    State(log): State<ReceivedLog>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body unreadable or over {MAX_BODY_BYTES} bytes: {e}"),
            )
                .into_response()
        }
    };
    let received = messages_in(parts.uri.path(), &parts.headers, &bytes);
    for r in &received {
        eprintln!(
            "demo-mcp-server: {} {} {}",
            r.path,
            r.method,
            r.tool.as_deref().unwrap_or("-")
        );
    }
    log.extend(received);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// `GET /_demo/received`: the JSON array of [`Received`] messages.
pub async fn list_received(State(log): State<ReceivedLog>) -> Json<Vec<Received>> {
    Json(log.snapshot())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_yields_one_record_per_request_with_tool_names() {
        let body = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}},
                        {"jsonrpc":"2.0","method":"notifications/initialized"},
                        {"jsonrpc":"2.0","id":7,"result":{}}]"#;
        let got = messages_in("/mcp", &HeaderMap::new(), body);
        assert_eq!(
            got,
            vec![
                Received {
                    path: "/mcp".into(),
                    method: "tools/call".into(),
                    tool: Some("echo".into()),
                    mcp_method: None,
                    mcp_name: None,
                },
                Received {
                    path: "/mcp".into(),
                    method: "notifications/initialized".into(),
                    tool: None,
                    mcp_method: None,
                    mcp_name: None,
                },
            ]
        );
    }

    #[test]
    fn non_json_body_records_nothing() {
        assert!(messages_in("/mcp", &HeaderMap::new(), b"not json").is_empty());
    }

    #[test]
    fn the_standard_headers_are_recorded_with_the_message() {
        let mut headers = HeaderMap::new();
        headers.insert("mcp-method", "tools/call".parse().unwrap());
        headers.insert("mcp-name", "echo".parse().unwrap());
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#;
        let got = messages_in("/mcp", &headers, body);
        assert_eq!(got[0].mcp_method.as_deref(), Some("tools/call"));
        assert_eq!(got[0].mcp_name.as_deref(), Some("echo"));
    }
}
