//! `warden serve` over HTTP: approver authentication, the long-polling check, refusals, webhooks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{approver_token, config, receiver, Service};
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
    let unknown = client
        .post(service.url("/v1/check"))
        .json(
            &json!({"call_digest": "d", "upstream": "demo", "rule": "allow-support-tools",
                      "caller": {"iss": "i", "sub": "alice"}, "tool": "echo", "arguments": {}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().await.unwrap();
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
