//! `warden serve` over HTTP: approver authentication, the long-polling check, refusals, webhooks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    approver_token, approver_token_from, check_body, config, receiver, Service, DEV_ISSUER, SECRET,
};
use serde_json::{json, Value};

#[tokio::test]
async fn approver_api_refuses_missing_and_foreign_tokens() {
    let service = Service::start(&config(json!({})), None);
    let client = reqwest::Client::new();
    let missing = client
        .get(service.url("/v1/approvals"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let forged = format!("{}x", approver_token("bob", "approvers"));
    let refused = client
        .get(service.url("/v1/approvals"))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
}

#[tokio::test]
async fn listing_by_an_unknown_status_is_a_client_error_and_known_ones_filter() {
    let service = Service::start(&config(json!({})), None);
    let bob = approver_token("bob", "approvers");
    let list = |status: &str| {
        reqwest::Client::new()
            .get(service.url(&format!("/v1/approvals?status={status}")))
            .bearer_auth(&bob)
            .send()
    };
    assert_eq!(list("approvedish").await.unwrap().status(), 400);
    for status in [
        "pending", "approved", "denied", "expired", "consumed", "revoked",
    ] {
        let listed = list(status).await.unwrap();
        assert_eq!(listed.status(), 200, "{status}");
        assert_eq!(listed.json::<Value>().await.unwrap(), json!([]), "{status}");
    }
}

#[tokio::test]
async fn held_check_returns_approved_as_soon_as_an_approver_decides() {
    let service = Arc::new(Service::start(&config(json!({"hold_seconds": 20})), None));
    let bob = approver_token("bob", "approvers");
    let started = Instant::now();
    let held = {
        let service = service.clone();
        tokio::spawn(async move { service.check("alice", "cus_001").await })
    };
    let id = service.wait_for_pending(&bob).await;
    let approved = reqwest::Client::new()
        .post(service.url(&format!("/v1/approvals/{id}/approve")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    let (status, mut body) = held.await.unwrap();
    assert_eq!(status, 200);
    let decided_at = body["decided_at"].take();
    assert_eq!(
        body,
        json!({"status": "approved", "approval_id": id, "approvers": ["bob"], "decided_at": null})
    );
    let decided_at = decided_at
        .as_str()
        .expect("decided_at is an RFC 3339 string");
    assert!(
        decided_at.len() == 20 && decided_at.ends_with('Z') && decided_at.as_bytes()[10] == b'T',
        "{decided_at}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_held_checks_pending_at_once_keeps_the_request_and_exits_cleanly() {
    let mut service = Service::start(&config(json!({"hold_seconds": 60})), None);
    let ready = reqwest::get(service.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let bob = approver_token("bob", "approvers");
    let started = Instant::now();
    let held = {
        let (url, body) = (
            service.internal_url("/v1/check"),
            check_body(
                DEV_ISSUER,
                "alice",
                "approve-delete-customer",
                "delete_customer",
                json!({"customer_id": "cus_001"}),
            ),
        );
        tokio::spawn(async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("x-warden-internal-secret", SECRET)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        })
    };
    let id = service.wait_for_pending(&bob).await;
    let db = service.db();
    let status = tokio::task::block_in_place(|| service.terminate(Duration::from_secs(10)));
    let (code, answer) = held.await.unwrap();
    assert_eq!(
        (code, answer["status"].as_str()),
        (200, Some("pending")),
        "{answer}"
    );
    assert_eq!(answer["approval_id"], id.as_str());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "answered before the 60 s hold"
    );
    let status = status.expect("warden serve exits after SIGTERM");
    assert!(status.success(), "{status:?}: {}", service.log());
    assert!(service.log().contains("stopping"), "{}", service.log());
    // Nothing lost: the request is still pending in the store, for the filter's retry.
    let stored: String = rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT status FROM requests WHERE id = ?1", [&id], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(stored, "pending");
}

#[tokio::test]
async fn check_without_decision_answers_pending_after_the_hold() {
    let service = Service::start(&config(json!({"hold_seconds": 1})), None);
    let started = Instant::now();
    let (status, body) = service.check("alice", "cus_001").await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("pending")),
        "{body}"
    );
    let (_, again) = service.check("alice", "cus_001").await;
    assert_eq!(
        again["approval_id"], body["approval_id"],
        "the identical call finds its request"
    );
}

#[tokio::test]
async fn denial_needs_a_reason_and_check_for_an_unknown_rule_is_refused() {
    let service = Service::start(&config(json!({"hold_seconds": 1})), None);
    let bob = approver_token("bob", "approvers");
    let (_, pending) = service.check("alice", "cus_001").await;
    let id = pending["approval_id"].as_str().unwrap();
    let client = reqwest::Client::new();
    let no_reason = client
        .post(service.url(&format!("/v1/approvals/{id}/deny")))
        .bearer_auth(&bob)
        .json(&json!({"reason": "  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_reason.status(), 400);
    let (status, body) = service
        .post_check(&check_body(
            DEV_ISSUER,
            "alice",
            "allow-support-tools",
            "echo",
            json!({}),
        ))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("allow-support-tools"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_announce_requests_and_decisions_and_retry_failures() {
    let (url, received, attempts) = receiver(2).await;
    let service = Service::start(&config(json!({"hold_seconds": 1})), Some(&url));
    let (_, pending) = service.check("alice", "cus_001").await;
    let id = pending["approval_id"].as_str().unwrap().to_owned();
    reqwest::Client::new()
        .post(service.url(&format!("/v1/approvals/{id}/deny")))
        .bearer_auth(approver_token("bob", "approvers"))
        .json(&json!({"reason": "not today"}))
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "webhooks not delivered: {received:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let payloads = received.lock().unwrap().clone();
    assert_eq!(
        *attempts.lock().unwrap(),
        4,
        "two failures retried, then two deliveries"
    );
    assert_eq!(payloads[0]["warden"]["event"], "requested");
    assert_eq!(payloads[0]["warden"]["approval_id"], id.as_str());
    assert!(payloads[0]["text"]
        .as_str()
        .unwrap()
        .contains("delete_customer"));
    assert_eq!(payloads[1]["warden"]["event"], "denied");
    assert!(payloads[1]["text"].as_str().unwrap().contains("not today"));
}

/// `config` with a second issuer, `https://other-issuer.warden.local`, signing with the same dev keys.
fn two_issuer_config(block: Value) -> Value {
    let mut config = config(block);
    let mut other = config["issuers"][0].clone();
    other["issuer"] = json!(OTHER_ISSUER);
    config["issuers"].as_array_mut().unwrap().push(other);
    config
}

const OTHER_ISSUER: &str = "https://other-issuer.warden.local";

#[tokio::test]
async fn internal_api_needs_the_secret_and_is_not_on_the_approvers_listener() {
    let service = Service::start(&config(json!({"hold_seconds": 1})), None);
    let check = check_body(
        DEV_ISSUER,
        "alice",
        "approve-delete-customer",
        "delete_customer",
        json!({"customer_id": "cus_001"}),
    );
    let record = common::audit_line("r-1");
    /// POSTs `body` to `url` with one `x-warden-internal-secret` header per entry of `secrets`.
    async fn post(url: String, secrets: &[&str], body: String) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json");
        for secret in secrets {
            request = request.header("x-warden-internal-secret", *secret);
        }
        request.body(body).send().await.unwrap()
    }
    let wrong_secret = format!("{SECRET}x");
    for path in ["/v1/check", "/v1/audit"] {
        let body = if path == "/v1/check" {
            check.to_string()
        } else {
            record.clone()
        };
        let internal = service.internal_url(path);
        let absent = post(internal.clone(), &[], body.clone()).await;
        assert_eq!(absent.status(), 401, "{path} without the secret");
        let wrong = post(internal.clone(), &[&wrong_secret], body.clone()).await;
        assert_eq!(wrong.status(), 401, "{path} with a wrong secret");
        let error: Value = wrong.json().await.unwrap();
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .contains("x-warden-internal-secret"),
            "{error}"
        );
        let twice = post(internal, &[SECRET, "other"], body.clone()).await;
        assert_eq!(twice.status(), 401, "{path} with two secrets");
        let public = post(service.url(path), &[SECRET], body).await;
        assert_eq!(public.status(), 404, "{path} on the approvers' listener");
    }
    let stored = post(service.internal_url("/v1/audit"), &[SECRET], record).await;
    assert_eq!(stored.status(), 200);
    let outcome: Value = stored.json().await.unwrap();
    assert_eq!(outcome["stored"], 1, "{outcome}");
    let log = service.log();
    for line in [
        "internal API: refused POST /v1/check from 127.0.0.1",
        "internal API: refused POST /v1/audit from 127.0.0.1",
    ] {
        assert!(log.contains(line), "{line:?} not in {log}");
    }
    let bob = approver_token("bob", "approvers");
    assert!(
        service.pending(&bob).await.is_empty(),
        "refused checks open no request"
    );
}

#[tokio::test]
async fn check_refuses_a_forged_requester_or_a_digest_of_another_call() {
    let service = Service::start(&config(json!({"hold_seconds": 1})), None);
    let harmless = json!({"customer_id": "cus_test"});
    let harmful = json!({"customer_id": "cus_001"});
    // Mallory names alice as the requester (so mallory could approve "alice's" call herself).
    let mut forged = check_body(
        DEV_ISSUER,
        "mallory",
        "approve-delete-customer",
        "delete_customer",
        harmful.clone(),
    );
    forged["caller"]["sub"] = json!("alice");
    let (status, body) = service.post_check(&forged).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not the identity in the claims"),
        "{body}"
    );
    // The inbox would show a harmless call while the digest (what the grant covers) is another.
    let mut swapped = check_body(
        DEV_ISSUER,
        "alice",
        "approve-delete-customer",
        "delete_customer",
        harmless,
    );
    swapped["call_digest"] = json!(warden_core::approval::call_digest(
        DEV_ISSUER,
        "alice",
        "demo",
        "delete_customer",
        Some(&harmful)
    ));
    let (status, body) = service.post_check(&swapped).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("call_digest"),
        "{body}"
    );
    // Another upstream than the service's.
    let mut elsewhere = check_body(
        DEV_ISSUER,
        "alice",
        "approve-delete-customer",
        "delete_customer",
        harmful,
    );
    elsewhere["upstream"] = json!("prod");
    let (status, body) = service.post_check(&elsewhere).await;
    assert_eq!(status, 400, "{body}");
    assert!(service.log().contains("check refused"), "{}", service.log());
    assert!(service
        .pending(&approver_token("bob", "approvers"))
        .await
        .is_empty());
}

#[tokio::test]
async fn check_refuses_a_rule_that_does_not_decide_the_call_and_takes_the_rule_from_its_config() {
    let mut config = config(json!({"hold_seconds": 1, "approvals_needed": 2}));
    // A weaker approval rule for another tool: one approval, group "helpers".
    config["policy"]["rules"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "id": "approve-echo", "match": {"tool": "echo_admin"}, "action": "require_approval",
            "approval": {"approver_groups": ["helpers"], "approvals_needed": 1, "hold_seconds": 1}
        }));
    let service = Service::start(&config, None);
    let delete = json!({"customer_id": "cus_001"});
    // The weaker rule does not match delete_customer.
    let (status, body) = service
        .post_check(&check_body(
            DEV_ISSUER,
            "alice",
            "approve-echo",
            "delete_customer",
            delete.clone(),
        ))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("approve-delete-customer"),
        "{body}"
    );
    // A call an allow rule decides cannot be sent for approval under an approval rule.
    let (status, body) = service
        .post_check(&check_body(
            DEV_ISSUER,
            "alice",
            "approve-delete-customer",
            "echo",
            json!({}),
        ))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("allow-support-tools"),
        "{body}"
    );
    // A contractor's delete is denied by an earlier rule: no approval can open it.
    let mut contractor = check_body(
        DEV_ISSUER,
        "carol",
        "approve-delete-customer",
        "delete_customer",
        delete.clone(),
    );
    contractor["claims"]["groups"] = json!(["contractors"]);
    let (status, body) = service.post_check(&contractor).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("block-delete-customer"),
        "{body}"
    );
    // The matching rule opens a request with its own settings (two approvals), whatever was asked.
    let (status, body) = service
        .post_check(&check_body(
            DEV_ISSUER,
            "alice",
            "approve-delete-customer",
            "delete_customer",
            delete,
        ))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("pending")),
        "{body}"
    );
    let pending = service.pending(&approver_token("bob", "approvers")).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["approvals_needed"], 2);
    assert_eq!(pending[0]["rule"], "approve-delete-customer");
}

#[tokio::test]
async fn approvers_see_arguments_masked_by_the_service() {
    let call = json!({"customer_id": "cus_001", "note": "card 4111 1111 1111 1111"});
    // The rule hides the arguments from approvers: the service masks them itself (the filter sends
    // them as the client did, so that the digest can be recomputed).
    let service = Service::start(
        &config(json!({"hold_seconds": 1, "mask_arguments_in_inbox": true})),
        None,
    );
    let (status, _) = service
        .post_check(&check_body(
            DEV_ISSUER,
            "alice",
            "approve-delete-customer",
            "delete_customer",
            call.clone(),
        ))
        .await;
    assert_eq!(status, 200);
    let pending = service.pending(&approver_token("bob", "approvers")).await;
    let note = pending[0]["arguments"]["note"].as_str().unwrap();
    assert!(!note.contains("4111 1111"), "{note}");
    // By default approvers see the arguments the call runs with.
    let service = Service::start(&config(json!({"hold_seconds": 1})), None);
    let (status, _) = service
        .post_check(&check_body(
            DEV_ISSUER,
            "alice",
            "approve-delete-customer",
            "delete_customer",
            call,
        ))
        .await;
    assert_eq!(status, 200);
    let pending = service.pending(&approver_token("bob", "approvers")).await;
    assert_eq!(
        pending[0]["arguments"]["note"], "card 4111 1111 1111 1111",
        "{pending:?}"
    );
}

#[tokio::test]
async fn equal_sub_from_two_issuers_is_two_people() {
    let service = Arc::new(Service::start(
        &two_issuer_config(json!({"hold_seconds": 1})),
        None,
    ));
    let call = json!({"customer_id": "cus_001"});
    let check = |iss: &str| {
        check_body(
            iss,
            "alice",
            "approve-delete-customer",
            "delete_customer",
            call.clone(),
        )
    };
    let (_, pending) = service.post_check(&check(DEV_ISSUER)).await;
    let id = pending["approval_id"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    // alice of the dev issuer may not approve her own call...
    let own = client
        .post(service.url(&format!("/v1/approvals/{id}/approve")))
        .bearer_auth(approver_token_from(DEV_ISSUER, "alice", "approvers"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 403);
    // ...but alice of the other issuer is someone else.
    let other = client
        .post(service.url(&format!("/v1/approvals/{id}/approve")))
        .bearer_auth(approver_token_from(OTHER_ISSUER, "alice", "approvers"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "{}", other.text().await.unwrap());
    // The grant is the dev issuer's alice's: the other alice's identical call does not use it.
    let (_, theirs) = service.post_check(&check(OTHER_ISSUER)).await;
    assert_eq!(theirs["status"], "pending", "{theirs}");
    assert_ne!(theirs["approval_id"], id.as_str());
    let (_, mine) = service.post_check(&check(DEV_ISSUER)).await;
    assert_eq!(
        (mine["status"].as_str(), mine["approval_id"].as_str()),
        (Some("approved"), Some(id.as_str())),
        "{mine}"
    );
}

/// The value of the sample `name` in a Prometheus text exposition, if present.
fn sample(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test]
async fn metrics_count_checks_by_answer_and_audit_records_by_result() {
    let service = Service::start(&config(json!({"hold_seconds": 1})), None);
    let (_, body) = service.check("alice", "cus_001").await;
    assert_eq!(body["status"], "pending", "{body}");
    let batch = format!(
        "{}\n{}\n",
        common::audit_line("r-1"),
        common::audit_line("r-2")
    );
    for _ in 0..2 {
        let response = reqwest::Client::new()
            .post(service.internal_url("/v1/audit"))
            .header("x-warden-internal-secret", SECRET)
            .body(batch.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let response = reqwest::get(service.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    assert_eq!(
        sample(&text, r#"warden_checks_total{outcome="pending"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "warden_check_hold_seconds_count"),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "warden_check_hold_seconds_sum").unwrap() >= 1.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"warden_audit_records_total{outcome="stored"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"warden_audit_records_total{outcome="duplicate"}"#),
        Some(2.0),
        "{text}"
    );
    assert!(
        !text.contains("alice") && !text.contains("delete_customer"),
        "no caller or tool in labels: {text}"
    );
}

#[tokio::test]
async fn log_format_json_writes_one_json_object_per_line() {
    let service = Service::start_with(
        &config(json!({"hold_seconds": 1})),
        None,
        "127.0.0.1:0",
        &["--log-format", "json"],
    );
    // A check this service refuses (a rule it does not have) is logged as a warning.
    let (status, _) = service
        .post_check(&check_body(
            DEV_ISSUER,
            "alice",
            "no-such-rule",
            "delete_customer",
            json!({"customer_id": "cus_001"}),
        ))
        .await;
    assert_eq!(status, 400);
    let log = service.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    let refused = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("check refused"))
        })
        .unwrap_or_else(|| panic!("no refusal logged: {log}"));
    assert_eq!(refused["level"], "WARN");
    assert!(refused["timestamp"].is_string());
}
