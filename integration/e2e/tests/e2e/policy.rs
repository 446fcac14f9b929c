//! Policy decisions seen from a real MCP client: denials as JSON-RPC errors, nothing forwarded,
//! batches refused as a whole, `tools/list` filtered.

use rmcp::ServiceError;
use serde_json::{json, Value};
use warden_e2e::{
    mcp::{connect, Endpoint},
    stack::Stack,
};

use crate::{alice_token, call, delete_alice, DELETED_TOOL, DELETE_RULE, DENIED_CODE};

#[tokio::test]
async fn denied_tool_call_is_a_jsonrpc_error_and_never_reaches_upstream() {
    let stack = Stack::start().await.unwrap();
    let token = alice_token();
    let client = connect(&stack.envoy.url(Endpoint::Sse.path()), Some(&token))
        .await
        .unwrap();

    let error = match client.call_tool(delete_alice()).await {
        Err(ServiceError::McpError(error)) => error,
        other => panic!("expected a JSON-RPC error for delete_customer, got {other:?}"),
    };
    assert_eq!(i64::from(error.code.0), DENIED_CODE, "{error:?}");
    let data = error.data.clone().unwrap_or(Value::Null);
    assert_eq!(data["rule"], DELETE_RULE, "{error:?}");
    assert_eq!(data["tool"], DELETED_TOOL, "{error:?}");

    // The session is still usable after a denial.
    let echoed = client
        .call_tool(call("echo", json!({"text": "still here"})))
        .await
        .unwrap();
    assert!(format!("{echoed:?}").contains("still here"));

    let received = stack.demo.received().await.unwrap();
    assert!(
        received.iter().any(|r| r.method == "initialize"),
        "the session itself reached the server: {received:?}"
    );
    assert!(
        stack.demo.calls_to(DELETED_TOOL).await.unwrap().is_empty(),
        "delete_customer reached the server: {received:?}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn batch_with_one_denied_call_is_refused_whole_and_nothing_is_forwarded() {
    let stack = Stack::start().await.unwrap();
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
         "params": {"name": "search_customers", "arguments": {"query": "alice"}}},
        {"jsonrpc": "2.0", "id": "two", "method": "tools/call",
         "params": {"name": "delete_customer", "arguments": {"customer_id": "cus_001"}}}
    ]);
    let response = reqwest::Client::new()
        .post(stack.envoy.url(Endpoint::Json.path()))
        .bearer_auth(alice_token())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-03-26")
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let answers = body
        .as_array()
        .unwrap_or_else(|| panic!("not a batch answer: {body}"));
    assert_eq!(answers.len(), 2, "{body}");
    for id in [json!(1), json!("two")] {
        let answer = answers
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("no answer for id {id}: {body}"));
        assert!(answer.get("result").is_none(), "{answer}");
        assert_eq!(answer["error"]["code"], DENIED_CODE, "{answer}");
        assert_eq!(answer["error"]["data"]["rule"], DELETE_RULE, "{answer}");
    }
    let received = stack.demo.received().await.unwrap();
    assert!(received.is_empty(), "the server received {received:?}");
}

#[tokio::test]
async fn tools_list_hides_tools_the_caller_may_not_call() {
    let stack = Stack::start().await.unwrap();
    let names = |tools: Vec<rmcp::model::Tool>| {
        let mut names: Vec<String> = tools.into_iter().map(|t| t.name.into_owned()).collect();
        names.sort();
        names
    };

    let direct = connect(&stack.demo.url(Endpoint::Sse.path()), None)
        .await
        .unwrap();
    let upstream = names(direct.list_all_tools().await.unwrap());
    assert!(upstream.iter().any(|n| n == DELETED_TOOL), "{upstream:?}");
    direct.cancel().await.unwrap();

    let token = alice_token();
    let client = connect(&stack.envoy.url(Endpoint::Sse.path()), Some(&token))
        .await
        .unwrap();
    let visible = names(client.list_all_tools().await.unwrap());
    assert_eq!(visible, ["echo", "get_invoice", "search_customers"]);
    client.cancel().await.unwrap();
}
