//! The evidence cannot be merged or forged by what clients send (trust boundary 5), through the real
//! `warden serve` (records posted to `/v1/audit` on its internal listener with the shared secret, as
//! the filter does) and the `warden` CLI reading its
//! database: a reused `Mcp-Session-Id` never merges callers; text rendered for people is escaped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{approver_token, config, receiver, warden_cli, Service, SECRET};
use serde_json::{json, Value};

/// An allowed `tools/call` record of `tool` by `sub` (issuer `https://idp`) at `time` in `session`.
fn record(record_id: &str, time: &str, session: &str, sub: &str, tool: &str) -> Value {
    json!({
        "schema": 1, "record_id": record_id, "time": time, "http_method": "POST",
        "request_id": "same-request-id", "session_id": session, "protocol_version": "2025-06-18",
        "identity": {"iss": "https://idp", "sub": sub, "groups": ["support"], "scopes": []},
        "method": "tools/call", "tool": tool, "jsonrpc_id": 1, "arguments_digest": null,
        "decision": "allow", "rule": "allow-support", "reason": null, "masked": {}, "status": 200,
        "jsonrpc_error": null, "approval": null, "bytes_in": 1, "bytes_out": 1, "duration_ms": 3,
        "upstream": "demo"
    })
}

/// Posts `records` as one JSON Lines batch to the internal listener with the secret, as the filter
/// does; returns the batch outcome (HTTP 200).
async fn post_batch(service: &Service, records: &[Value]) -> Value {
    let body: Vec<String> = records.iter().map(Value::to_string).collect();
    let response = reqwest::Client::new()
        .post(service.internal_url("/v1/audit"))
        .header("x-warden-internal-secret", SECRET)
        .header("content-type", "application/x-ndjson")
        .body(body.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// [`post_batch`], and all must be stored.
async fn ship(service: &Service, records: &[Value]) {
    let outcome = post_batch(service, records).await;
    assert_eq!(outcome["stored"], records.len(), "{outcome}");
}

fn run(service: &Service, args: &[&str]) -> (bool, String, String) {
    let db = service.db();
    let mut all = vec![args[0], "--db", db.to_str().unwrap()];
    all.extend_from_slice(&args[1..]);
    let out = warden_cli(&all);
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn now_rfc3339(offset_secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn a_caller_reusing_a_session_id_does_not_add_records_to_anothers_replay() {
    let service = Service::start(&config(json!({})), None);
    ship(
        &service,
        &[
            record(
                &format!("{:032x}:0", 1),
                &now_rfc3339(-30),
                "s-alice",
                "alice",
                "search_customers",
            ),
            record(
                &format!("{:032x}:0", 2),
                &now_rfc3339(-20),
                "s-alice",
                "mallory",
                "delete_customer",
            ),
            record(
                &format!("{:032x}:0", 3),
                &now_rfc3339(-10),
                "s-alice",
                "alice",
                "get_customer",
            ),
        ],
    )
    .await;

    let (ok, out, err) = run(
        &service,
        &["sessions", "show", "s-alice", "--sub", "alice", "--json"],
    );
    assert!(ok, "{err}");
    let replay: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(replay["session"]["caller"], "alice");
    assert_eq!(replay["session"]["issuer"], "https://idp");
    assert_eq!(replay["session"]["messages"], 2, "{replay}");
    let texts: Vec<&str> = replay["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert!(
        !texts.iter().any(|t| t.contains("delete_customer")),
        "mallory's call is not in alice's replay: {texts:?}"
    );

    let (ok, _, err) = run(&service, &["sessions", "show", "s-alice"]);
    assert!(!ok, "an id used by two callers does not pick one silently");
    assert!(
        err.contains("--sub \"alice\"") && err.contains("--sub \"mallory\""),
        "{err}"
    );

    let (ok, out, err) = run(&service, &["sessions", "list", "--json"]);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let callers: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"] == "s-alice")
        .map(|s| s["caller"].as_str().unwrap())
        .collect();
    assert_eq!(callers, ["alice", "mallory"]);
}

#[tokio::test]
async fn client_text_is_neutralised_in_csv_and_terminal_output() {
    let service = Service::start(&config(json!({})), None);
    let hostile_sub = "=HYPERLINK(\"http://evil\",\"open\")";
    let hostile_tool = "export\u{1b}[2K\rdelete_everything";
    ship(
        &service,
        &[record(
            &format!("{:032x}:0", 9),
            &now_rfc3339(-5),
            "s\u{1b}]0;pwned\u{7}",
            hostile_sub,
            hostile_tool,
        )],
    )
    .await;

    let (ok, csv, err) = run(
        &service,
        &["review", "report", "--since", "1d", "--format", "csv"],
    );
    assert!(ok, "{err}");
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(
        !csv.contains(",=HYPERLINK") && !csv.contains(",\"=HYPERLINK"),
        "{csv}"
    );

    for args in [
        &["sessions", "list"][..],
        &["review", "report", "--since", "1d"][..],
    ] {
        let (ok, out, err) = run(&service, args);
        assert!(ok, "{err}");
        assert!(
            !out.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?} printed a control character: {out:?}"
        );
        assert!(out.contains("\\u{1b}"), "{args:?} shows the escape: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_text_escapes_what_callers_and_approvers_wrote() {
    let (url, received, _) = receiver(0).await;
    let service = Service::start(&config(json!({"hold_seconds": 1})), Some(&url));
    let (_, pending) = service
        .check("alice", "<!channel> & <http://evil|click here>")
        .await;
    let id = pending["approval_id"].as_str().unwrap().to_owned();
    reqwest::Client::new()
        .post(service.url(&format!("/v1/approvals/{id}/deny")))
        .bearer_auth(approver_token("bob", "approvers"))
        .json(&json!({"reason": "see <@U0123> & <https://x|this>"}))
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "webhooks not delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let payloads = received.lock().unwrap().clone();
    for payload in &payloads {
        let text = payload["text"].as_str().unwrap();
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
    }
    let requested = payloads[0]["text"].as_str().unwrap();
    assert!(
        requested.contains("&lt;!channel&gt; &amp; &lt;http://evil|click here&gt;"),
        "{requested}"
    );
    let denied = payloads[1]["text"].as_str().unwrap();
    assert!(
        denied.contains("see &lt;@U0123&gt; &amp; &lt;https://x|this&gt;"),
        "{denied}"
    );
}

#[tokio::test]
async fn a_record_with_an_unknown_decision_is_rejected_at_ingest_and_never_counted() {
    let service = Service::start(&config(json!({})), None);
    let known = record(
        &format!("{:032x}:0", 7),
        &now_rfc3339(-20),
        "s-1",
        "alice",
        "search_customers",
    );
    // A spelling no filter writes: stored as-is it would be counted as neither allowed nor denied.
    let mut unknown = record(
        &format!("{:032x}:0", 8),
        &now_rfc3339(-10),
        "s-1",
        "alice",
        "delete_customer",
    );
    unknown["decision"] = json!("Denied");
    let outcome = post_batch(&service, &[known, unknown]).await;
    assert_eq!(
        (
            outcome["stored"].as_u64(),
            outcome["rejected"].as_array().map(Vec::len)
        ),
        (Some(1), Some(1)),
        "{outcome}"
    );
    let problem = outcome["rejected"][0].as_str().unwrap();
    assert!(
        problem.starts_with("line 2: ") && problem.contains("Denied"),
        "{problem}"
    );

    let (ok, out, err) = run(
        &service,
        &["review", "report", "--since", "1d", "--format", "json"],
    );
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["totals"]["records"], 1, "{report}");
    assert_eq!(report["totals"]["calls"], 1, "{report}");
}
