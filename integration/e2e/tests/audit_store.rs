//! End-to-end audit store: a real Envoy with `warden_filter.wasm` shipping records to a real
//! `warden serve`, then `warden sessions` and `warden review report` on its database.
//!
//! Needs `cargo build -p demo-mcp-server -p warden` and the release `.wasm` (`just e2e` builds them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{json, Value};
use warden_e2e::approvals::INTERNAL_SECRET;
use warden_e2e::audit_store::{audit_plugin_config, AuditStack};
use warden_e2e::mcp::Endpoint;
use warden_testkit::process::poll_until;
use warden_testkit::tokens::dev_token;

/// Posts one `tools/call` to the stateless `/mcp-json` endpoint; returns the JSON-RPC answer.
async fn call(stack: &AuditStack, token: &str, id: i64, tool: &str, arguments: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": tool, "arguments": arguments}});
    let response = reqwest::Client::new()
        .post(stack.url(Endpoint::Json.path()))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `warden sessions list --json`, polled until `done` holds.
async fn sessions_until(stack: &AuditStack, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    poll_until("sessions in the store", Duration::from_secs(15), || {
        let out = stack.warden(&["sessions", "list", "--json"]);
        let done = &done;
        async move {
            let list: Vec<Value> = serde_json::from_str(&out?)?;
            Ok(done(&list).then_some(list))
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn scripted_session_is_replayed_in_order_and_the_report_counts_every_call() {
    let stack = AuditStack::start(&audit_plugin_config(10, 1000).unwrap())
        .await
        .unwrap();
    let alice = dev_token("alice", &["support"]).unwrap();
    let allowed = call(&stack, &alice, 1, "echo", json!({"text": "hello"})).await;
    assert!(allowed["result"].is_object(), "{allowed}");
    let denied = call(&stack, &alice, 2, "drop_database", json!({})).await;
    assert_eq!(denied["error"]["code"], -32003, "{denied}");
    let masked = call(&stack, &alice, 3, "search_customers", json!({"query": ""})).await;
    assert!(masked.to_string().contains("[REDACTED:"), "{masked}");

    let list = sessions_until(&stack, |l| l.iter().any(|s| s["calls"] == 3)).await;
    let session = list.iter().find(|s| s["caller"] == "alice").unwrap();
    assert_eq!(
        (session["calls"].as_u64(), session["denials"].as_u64()),
        (Some(3), Some(1))
    );
    let id = session["id"].as_str().unwrap();
    let shown: Value =
        serde_json::from_str(&stack.warden(&["sessions", "show", id, "--json"]).unwrap()).unwrap();
    let steps: Vec<&str> = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert!(
        steps[0].starts_with("tools/call echo -> allow (rule allow-support-tools)"),
        "{steps:?}"
    );
    assert!(
        steps[1].starts_with("tools/call drop_database -> deny error -32003"),
        "{steps:?}"
    );
    assert!(
        steps[2].starts_with("tools/call search_customers -> allow"),
        "{steps:?}"
    );
    assert!(steps[2].contains("masked CREDIT_CARD="), "{steps:?}");

    let report: Value = serde_json::from_str(
        &stack
            .warden(&["review", "report", "--since", "1d", "--format", "json"])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["totals"]["calls"], 3, "{report}");
    assert_eq!(report["totals"]["allowed"], 2, "{report}");
    assert_eq!(report["totals"]["denied"], 1, "{report}");
    let rows: Vec<(String, u64, u64)> = report["access"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["tool"].as_str().unwrap().to_owned(),
                r["calls"].as_u64().unwrap(),
                r["denied"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("drop_database".to_owned(), 1, 1),
            ("echo".to_owned(), 1, 0),
            ("search_customers".to_owned(), 1, 0)
        ]
    );
    let html = stack
        .warden(&["review", "report", "--since", "1d", "--format", "html"])
        .unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("<svg"),
        "{html}"
    );
}

/// A rule with `record` (issue 12): the masked arguments and the masked, size-capped result travel
/// with the audit record to the access log and the store, and `warden sessions show` replays them.
/// The clear values never appear in either.
#[tokio::test]
async fn recorded_payload_is_masked_capped_and_replayed_by_sessions_show() {
    let mut config = audit_plugin_config(10, 1000).unwrap();
    let rule = config["policy"]["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == "allow-support-tools")
        .unwrap();
    rule["record"] = json!({"arguments": true, "result": true, "max_bytes": 300});
    let stack = AuditStack::start(&config).await.unwrap();
    let alice = dev_token("alice", &["support"]).unwrap();
    let clear_email = "someone.else@example.net";
    let answer = call(
        &stack,
        &alice,
        1,
        "search_customers",
        json!({"query": clear_email}),
    )
    .await;
    assert!(answer["result"].is_object(), "{answer}");
    let everyone = call(&stack, &alice, 2, "search_customers", json!({"query": ""})).await;
    assert!(everyone.to_string().contains("[REDACTED:"), "{everyone}");

    // Envoy flushes its access log on a timer: wait for both records.
    let log = poll_until(
        "both records in the access log",
        Duration::from_secs(15),
        || {
            let log = stack.access_log();
            async move {
                let log = log?;
                let both = log
                    .iter()
                    .filter(|r| r["tool"] == "search_customers")
                    .count()
                    == 2;
                Ok(both.then_some(log))
            }
        },
    )
    .await
    .unwrap();
    let recorded: Vec<&Value> = log
        .iter()
        .filter(|r| r["tool"] == "search_customers")
        .collect();
    let by_id =
        |id: i64| recorded.iter().find(|r| r["jsonrpc_id"] == id).unwrap()["payload"].clone();
    let first = by_id(1);
    assert_eq!(
        first["arguments"], "{\"query\":\"[REDACTED:EMAIL_ADDRESS]\"}",
        "{first}"
    );
    let second = by_id(2);
    let result = second["result"].as_str().unwrap();
    assert!(
        result.len() <= 300 && second["result_truncated"] == true,
        "{second}"
    );
    assert!(result.contains("[REDACTED:"), "{second}");
    for clear in [clear_email].iter().chain(crate_pii()) {
        assert!(
            !log.iter().any(|r| r.to_string().contains(clear)),
            "{clear} in the access log"
        );
    }

    let list = sessions_until(&stack, |l| l.iter().any(|s| s["calls"] == 2)).await;
    let id = list.iter().find(|s| s["caller"] == "alice").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown: Value =
        serde_json::from_str(&stack.warden(&["sessions", "show", &id, "--json"]).unwrap()).unwrap();
    assert_eq!(shown["steps"][0]["payload"], first, "{shown}");
    let text = stack.warden(&["sessions", "show", &id]).unwrap();
    assert!(
        text.contains("arguments: {\"query\":\"[REDACTED:EMAIL_ADDRESS]\"}"),
        "{text}"
    );
    assert!(text.contains("… (truncated)"), "{text}");
    assert!(!text.contains(clear_email), "{text}");
}

/// Values the demo server returns in clear from `search_customers` with an empty query.
fn crate_pii() -> &'static [&'static str] {
    &[
        "4111 1111 1111 1111",
        "123-45-6789",
        "alice.johnson@example.com",
    ]
}

#[tokio::test]
async fn store_outage_keeps_the_access_log_complete_and_counts_what_was_dropped() {
    let mut stack = AuditStack::start(&audit_plugin_config(1, 2).unwrap())
        .await
        .unwrap();
    let alice = dev_token("alice", &["support"]).unwrap();
    call(&stack, &alice, 1, "echo", json!({"text": "before"})).await;
    sessions_until(&stack, |l| {
        l.iter()
            .map(|s| s["messages"].as_u64().unwrap())
            .sum::<u64>()
            == 1
    })
    .await;
    stack.service.stop();
    for id in 2..=6 {
        call(&stack, &alice, id, "echo", json!({"text": "during"})).await;
    }
    // Let the shipper try and fail while the store is down.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stack.service.restart().unwrap();
    call(&stack, &alice, 7, "echo", json!({"text": "after"})).await;

    let access_log = poll_until("7 access-log records", Duration::from_secs(15), || {
        let records = stack.access_log();
        async move {
            let records = records?;
            Ok((records.len() == 7).then_some(records))
        }
    })
    .await
    .unwrap();
    assert!(access_log.iter().all(|r| r["decision"] == "allow"));
    let stats = poll_until("the store settles", Duration::from_secs(15), || {
        let stack = &stack;
        async move {
            let stats = stack.audit_stats().await?;
            let shipped = stats.get("warden.audit.shipped").copied().unwrap_or(0);
            let dropped = stats.get("warden.audit.dropped").copied().unwrap_or(0);
            Ok((shipped + dropped == 7).then_some((shipped, dropped)))
        }
    })
    .await
    .unwrap();
    let (shipped, dropped) = stats;
    assert!(
        dropped >= 3,
        "5 records during the outage, at most 2 held: {stats:?}"
    );
    let list = sessions_until(&stack, |_| true).await;
    let stored: u64 = list.iter().map(|s| s["messages"].as_u64().unwrap()).sum();
    assert_eq!(stored, shipped, "{list:?}");
    assert_eq!(stored + dropped, access_log.len() as u64);
}

#[tokio::test]
async fn duplicate_batch_delivery_stores_each_record_once() {
    let stack = AuditStack::start(&audit_plugin_config(10, 100).unwrap())
        .await
        .unwrap();
    let alice = dev_token("alice", &["support"]).unwrap();
    call(&stack, &alice, 1, "echo", json!({"text": "x"})).await;
    call(&stack, &alice, 2, "echo", json!({"text": "y"})).await;
    let records = poll_until("2 access-log records", Duration::from_secs(15), || {
        let records = stack.access_log();
        async move {
            let records = records?;
            Ok((records.len() == 2).then_some(records))
        }
    })
    .await
    .unwrap();
    sessions_until(&stack, |l| {
        l.iter()
            .map(|s| s["messages"].as_u64().unwrap())
            .sum::<u64>()
            == 2
    })
    .await;
    // The filter's batch delivered again (a retry after a lost answer), twice.
    let batch: Vec<String> = records.iter().map(Value::to_string).collect();
    for _ in 0..2 {
        let answer: Value = reqwest::Client::new()
            .post(stack.service.internal_url("/v1/audit"))
            .header("content-type", "application/x-ndjson")
            .header("x-warden-internal-secret", INTERNAL_SECRET)
            .body(batch.join("\n"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["received"], 2, "{answer}");
        assert_eq!(answer["stored"], 0, "{answer}");
        assert_eq!(answer["duplicates"], 2, "{answer}");
    }
    let list = sessions_until(&stack, |_| true).await;
    let stored: u64 = list.iter().map(|s| s["messages"].as_u64().unwrap()).sum();
    assert_eq!(stored, 2);
}
