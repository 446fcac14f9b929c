//! Request decoding against a real Express MCP server (`express.json()` + the TypeScript SDK): a call the
//! demo policy blocks, smuggled inside a body that is an allowed call when read as UTF-8 but the blocked
//! call when read in the charset the `Content-Type` declares (UTF-7), never executes; the allowed control
//! does, and reaches the server with the `Content-Type` Warden wrote.

use serde_json::{json, Value};
use tempfile::TempDir;
use warden_e2e::express::ExpressUpstream;
use warden_e2e::stack::{demo_plugin_config, Envoy};

use crate::{alice_token, DELETED_TOOL};

/// Read as UTF-8: `search_customers` with an extra string parameter `x` (allowed by the demo policy).
/// Read as UTF-7 (`+ACI-` is `"`, `+AF8-` is `_`): `params` gains a second `name`, `delete_customer`,
/// and `JSON.parse` keeps the last one.
const SMUGGLED: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_customers","x":"+ACI-,+ACI-name+ACI-:+ACI-delete+AF8-customer","arguments":{"customer_id":"cus_001","query":"acme"}}}"#;

async fn post(envoy: &Envoy, content_type: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(envoy.url("/mcp"))
        .bearer_auth(alice_token())
        .header("accept", "application/json, text/event-stream")
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn a_blocked_call_smuggled_through_a_utf7_charset_never_executes_on_express() {
    let dir = TempDir::with_prefix("warden-e2e-express-").unwrap();
    let express = ExpressUpstream::start(dir.path()).unwrap();
    let envoy = Envoy::start(dir.path(), &demo_plugin_config().unwrap(), express.port())
        .await
        .unwrap();

    for content_type in [
        "application/json; charset=utf-7",
        "application/json; charset=\"UTF-7\"",
        "application/json; charset=utf-8; charset=utf-7",
    ] {
        let (status, body) = post(&envoy, Some(content_type), SMUGGLED).await;
        assert_eq!(status, 415, "{content_type}: {body}");
        assert_eq!(body["error"]["data"]["header"], "content-type", "{body}");
    }

    // Allowed calls still work, whatever UTF-8 spelling the client declared, and the server read them
    // as Warden did.
    for content_type in [Some("application/json; charset=UTF-8"), None] {
        let (status, body) = post(&envoy, content_type, SMUGGLED).await;
        assert_eq!(status, 200, "{content_type:?}: {body}");
        assert!(body["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("no customer matches"));
    }
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "search_customers", "arguments": {"query": "control"}}});
    let (status, _) = post(&envoy, Some("application/json"), &call.to_string()).await;
    assert_eq!(status, 200);

    let executed = express.executed().await.unwrap();
    assert!(
        executed.iter().all(|e| e.tool != DELETED_TOOL),
        "a blocked call executed: {executed:?}"
    );
    assert_eq!(
        executed.iter().map(|e| e.tool.as_str()).collect::<Vec<_>>(),
        ["search_customers"; 3],
        "{executed:?}"
    );
}
