//! SIEM export: every audit record reaches a real OTLP/gRPC collector through Envoy's OpenTelemetry
//! access logger (`envoy/envoy-otlp.yaml`), as the LogRecord body, with attributes a SIEM indexes.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use warden_e2e::{
    mcp::Endpoint,
    otlp::{OtlpStack, ReceivedLog},
};

use crate::{
    alice_token, masked_call_then_denied_call, ALICE_PII, ALLOW_RULE, DELETED_TOOL, DELETE_RULE,
    DENIED_CODE,
};

/// The LogRecord whose single audit record is a call to `tool`, with that record.
fn log_for_tool<'a>(logs: &'a [ReceivedLog], tool: &str) -> Vec<(&'a ReceivedLog, Value)> {
    logs.iter()
        .filter_map(|log| {
            let records = log.audit_records().ok()?;
            match records.as_slice() {
                [record] if record["tool"] == tool => Some((log, record.clone())),
                _ => None,
            }
        })
        .collect()
}

/// The attributes every single-record LogRecord carries, taken from its record.
fn expected_attributes(record: &Value, status: &str) -> BTreeMap<String, String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    BTreeMap::from([
        ("warden.decision".into(), text(&record["decision"])),
        ("warden.record_count".into(), "1".into()),
        ("warden.record_id".into(), text(&record["record_id"])),
        ("warden.method".into(), text(&record["method"])),
        ("warden.tool".into(), text(&record["tool"])),
        ("warden.rule".into(), text(&record["rule"])),
        (
            "warden.identity.sub".into(),
            text(&record["identity"]["sub"]),
        ),
        ("http.response.status_code".into(), status.into()),
    ])
}

#[tokio::test]
async fn audit_records_reach_an_otlp_collector_as_log_bodies_with_attributes() {
    let otlp = OtlpStack::start().await.unwrap();
    let envoy = &otlp.stack.envoy;
    let client = masked_call_then_denied_call(&envoy.url(Endpoint::Json.path())).await;

    let logs = otlp
        .receiver
        .wait_for("LogRecords of both tool calls", |logs| {
            !log_for_tool(logs, "search_customers").is_empty()
                && !log_for_tool(logs, DELETED_TOOL).is_empty()
        })
        .await
        .unwrap();

    let search = log_for_tool(&logs, "search_customers");
    assert_eq!(search.len(), 1, "one LogRecord per request: {logs:#?}");
    let (search_log, search) = &search[0];
    assert_eq!(search["schema"], 1, "{search}");
    assert_eq!(search["decision"], "allow", "{search}");
    assert_eq!(search["rule"], ALLOW_RULE, "{search}");
    assert_eq!(search["identity"]["sub"], "alice", "{search}");
    assert_eq!(
        search["masked"],
        json!({"CREDIT_CARD": 2, "US_SSN": 2, "EMAIL_ADDRESS": 2}),
        "{search}"
    );
    assert_eq!(
        search_log.attributes(),
        expected_attributes(search, "200"),
        "{search_log:?}"
    );

    let delete = log_for_tool(&logs, DELETED_TOOL);
    assert_eq!(delete.len(), 1, "one LogRecord per request: {logs:#?}");
    let (delete_log, delete) = &delete[0];
    assert_eq!(delete["decision"], "deny", "{delete}");
    assert_eq!(delete["rule"], DELETE_RULE, "{delete}");
    assert_eq!(delete["identity"]["sub"], "alice", "{delete}");
    assert_eq!(delete["jsonrpc_error"]["code"], DENIED_CODE, "{delete}");
    assert_eq!(
        delete_log.attributes(),
        expected_attributes(delete, "200"),
        "{delete_log:?}"
    );

    for log in [search_log, delete_log] {
        assert_eq!(
            log.resource_attributes()
                .get("service.name")
                .map(String::as_str),
            Some("warden"),
            "{log:?}"
        );
        let time = log
            .0
            .pointer("/log_record/timeUnixNano")
            .and_then(Value::as_str);
        assert!(
            time.and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|t| t > 0),
            "no timeUnixNano: {log:?}"
        );
    }

    // The collector gets exactly the records of the file access log, byte for byte parsed alike.
    let file_records = envoy
        .wait_for_audit("the same records in the file log", |records| {
            records
                .iter()
                .any(|r| r["record_id"] == search["record_id"])
                && records
                    .iter()
                    .any(|r| r["record_id"] == delete["record_id"])
        })
        .await
        .unwrap();
    for record in [search, delete] {
        assert!(
            file_records.contains(record),
            "{record} not in the file log"
        );
    }

    let raw = otlp.receiver.raw();
    for value in ALICE_PII {
        assert!(
            !raw.contains(value),
            "{value} in clear at the collector: {raw}"
        );
    }
    client.cancel().await.unwrap();
}

/// POSTs `body` to the JSON endpoint with `bearer` (none: unauthenticated) as a 2025-03-26 client.
async fn post(otlp: &OtlpStack, bearer: Option<&str>, body: &Value) -> u16 {
    let mut request = reqwest::Client::new()
        .post(otlp.stack.envoy.url(Endpoint::Json.path()))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-03-26")
        .body(body.to_string());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn otlp_attributes_never_misreport_a_batch_a_crafted_tool_name_or_an_anonymous_caller() {
    let otlp = OtlpStack::start().await.unwrap();
    let token = alice_token();
    // The tool name tries to close its JSON string and forge the next key of the record.
    let crafted = r#"echo","jsonrpc_id":"x","decision":"allow\"#;
    let single = |id: u64, tool: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": tool, "arguments": {"text": "hi"}}})
    };
    assert_eq!(post(&otlp, Some(&token), &single(1, crafted)).await, 200);
    let batch = json!([single(2, "echo"), single(3, DELETED_TOOL)]);
    assert_eq!(post(&otlp, Some(&token), &batch).await, 200);
    assert_eq!(post(&otlp, None, &single(4, "echo")).await, 401);

    let logs = otlp
        .receiver
        .wait_for("LogRecords of the three requests", |logs| logs.len() >= 3)
        .await
        .unwrap();
    assert_eq!(logs.len(), 3, "one LogRecord per request: {logs:#?}");

    let (crafted_log, crafted_record) = log_for_tool(&logs, crafted)
        .pop()
        .unwrap_or_else(|| panic!("no record for the crafted tool: {logs:#?}"));
    assert_eq!(crafted_record["decision"], "deny", "{crafted_record}");
    let attributes = crafted_log.attributes();
    assert_eq!(attributes["warden.decision"], "deny", "{attributes:?}");
    // The attribute is the JSON-escaped name, whole: nothing forged, nothing cut.
    let escaped = serde_json::to_string(crafted).unwrap();
    assert_eq!(
        attributes["warden.tool"],
        escaped[1..escaped.len() - 1],
        "{attributes:?}"
    );
    assert_eq!(
        attributes["warden.rule"], "",
        "default action: {attributes:?}"
    );

    let batch_log = logs
        .iter()
        .find(|log| log.audit_records().is_ok_and(|r| r.len() == 2))
        .unwrap_or_else(|| panic!("no LogRecord with the batch's two records: {logs:#?}"));
    let records = batch_log.audit_records().unwrap();
    assert!(
        records.iter().all(|r| r["decision"] == "deny"),
        "{records:#?}"
    );
    let attributes = batch_log.attributes();
    assert_eq!(attributes["warden.record_count"], "2", "{attributes:?}");
    assert_eq!(attributes["warden.decision"], "deny", "{attributes:?}");
    // One value cannot describe two records: the per-record attributes stay empty.
    for key in [
        "warden.tool",
        "warden.rule",
        "warden.record_id",
        "warden.method",
    ] {
        assert_eq!(attributes[key], "", "{key} for a batch: {attributes:?}");
    }
    assert_eq!(attributes["warden.identity.sub"], "", "{attributes:?}");

    let anonymous = logs
        .iter()
        .find(|log| {
            log.attributes()
                .get("http.response.status_code")
                .map(String::as_str)
                == Some("401")
        })
        .unwrap_or_else(|| panic!("no LogRecord for the 401: {logs:#?}"));
    let records = anonymous.audit_records().unwrap();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0]["decision"], "unauthenticated", "{records:#?}");
    assert_eq!(records[0]["identity"], Value::Null, "{records:#?}");
    let attributes = anonymous.attributes();
    assert_eq!(
        attributes["warden.decision"], "unauthenticated",
        "{attributes:?}"
    );
    assert_eq!(attributes["warden.identity.sub"], "", "{attributes:?}");
    assert_eq!(
        attributes["warden.record_id"],
        records[0]["record_id"].as_str().unwrap(),
        "{attributes:?}"
    );
}
