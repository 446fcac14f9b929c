//! Several `warden serve` replicas (real processes) on one real PostgreSQL server (a throwaway
//! cluster, [`warden_testkit::postgres`]; `just setup` installs the binaries): decisions reach calls
//! held on another replica, a `once` grant is used once across replicas, a replica killed with
//! SIGKILL loses nothing, audit batches are stored once, and `/readyz` follows the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{approver_token, audit_line, config, Service};
use serde_json::{json, Value};
use warden_testkit::postgres::TestPostgres;

/// A fresh server and the URL of its (empty) `warden` database.
fn database() -> (TestPostgres, String) {
    let server = TestPostgres::start().unwrap();
    let url = server.create_database("warden").unwrap();
    (server, url)
}

/// Two replicas with `block` as the approval settings, started at the same time on `url` (so both
/// migrate an empty database concurrently).
fn replicas(block: Value, url: &str) -> (Service, Service) {
    let config = config(block);
    std::thread::scope(|scope| {
        let a = scope.spawn(|| Service::start_on_postgres(&config, url));
        let b = scope.spawn(|| Service::start_on_postgres(&config, url));
        (a.join().unwrap(), b.join().unwrap())
    })
}

/// `POST /v1/approvals/{id}/approve` on `service` as bob; the HTTP status.
async fn approve(service: &Service, id: &str) -> u16 {
    reqwest::Client::new()
        .post(service.url(&format!("/v1/approvals/{id}/approve")))
        .bearer_auth(approver_token("bob", "approvers"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The requests in `status`, as bob sees them on `service`.
async fn listed(service: &Service, status: &str) -> Vec<Value> {
    service
        .listed(&approver_token("bob", "approvers"), status)
        .await
}

#[tokio::test]
async fn a_call_held_on_one_replica_is_approved_by_a_decision_on_another() {
    let (_pg, url) = database();
    let (a, b) = replicas(json!({"hold_seconds": 30}), &url);
    let a = Arc::new(a);
    let held = {
        let a = Arc::clone(&a);
        tokio::spawn(async move { a.check("alice", "cus_001").await })
    };
    let id = b
        .wait_for_pending(&approver_token("bob", "approvers"))
        .await;
    let decided = Instant::now();
    assert_eq!(approve(&b, &id).await, 200, "{}", b.log());
    let (status, body) = held.await.unwrap();
    let waited = decided.elapsed();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved", "{body}\n{}", a.log());
    assert_eq!(body["approval_id"], id.as_str());
    // NOTIFY wakes the held check at once; the 5 s periodic re-read is only the safety net.
    assert!(
        waited < Duration::from_millis(2500),
        "the held call on A answered {waited:?} after the decision on B"
    );
    assert_eq!(listed(&a, "consumed").await.len(), 1);
}

#[tokio::test]
async fn a_once_grant_is_consumed_exactly_once_by_concurrent_calls_on_two_replicas() {
    let (_pg, url) = database();
    let (a, b) = replicas(json!({"hold_seconds": 1}), &url);
    for round in 0..20 {
        let customer = format!("cus_{round:03}");
        let (status, first) = a.check("alice", &customer).await;
        assert_eq!((status, first["status"].as_str()), (200, Some("pending")));
        let id = first["approval_id"].as_str().unwrap().to_owned();
        assert_eq!(approve(&b, &id).await, 200);
        // Three identical calls on each replica at once: one grant, one winner.
        let calls = [&a, &b, &a, &b, &a, &b].map(|replica| replica.check("alice", &customer));
        let answers = futures_join_all(calls).await;
        let winners: Vec<&Value> = answers
            .iter()
            .filter(|(_, body)| body["status"] == "approved")
            .map(|(_, body)| body)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {} calls used the grant: {answers:?}",
            winners.len()
        );
        assert_eq!(winners[0]["approval_id"], id.as_str(), "round {round}");
        for (status, body) in &answers {
            assert_eq!(*status, 200, "round {round}: {body}");
            assert!(
                body["status"] == "approved" || body["status"] == "pending",
                "round {round}: {body}"
            );
        }
    }
    assert_eq!(listed(&b, "consumed").await.len(), 20);
}

/// Runs the futures concurrently (on this task) and returns their outputs in order.
async fn futures_join_all<F: std::future::Future>(futures: [F; 6]) -> Vec<F::Output> {
    let [f0, f1, f2, f3, f4, f5] = futures;
    let (r0, r1, r2, r3, r4, r5) = tokio::join!(f0, f1, f2, f3, f4, f5);
    vec![r0, r1, r2, r3, r4, r5]
}

#[tokio::test]
async fn a_replica_killed_while_holding_a_call_loses_nothing_and_the_other_answers_the_retry() {
    let (_pg, url) = database();
    let (a, b) = replicas(json!({"hold_seconds": 30}), &url);
    let bob = approver_token("bob", "approvers");
    let a = Arc::new(std::sync::Mutex::new(a));
    let held = {
        let a = Arc::clone(&a);
        let internal = a.lock().unwrap().internal_url("/v1/check");
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(internal)
                .header("x-warden-internal-secret", common::SECRET)
                .json(&common::check_body(
                    common::DEV_ISSUER,
                    "alice",
                    "approve-delete-customer",
                    "delete_customer",
                    json!({"customer_id": "cus_001"}),
                ))
                .send()
                .await
        })
    };
    let id = b.wait_for_pending(&bob).await;
    a.lock().unwrap().kill();
    let cut = held.await.unwrap();
    assert!(
        cut.is_err(),
        "the held call on the killed replica cannot be answered: {cut:?}"
    );
    let pending = listed(&b, "pending").await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(
        pending[0]["id"],
        id.as_str(),
        "the request survived the crash"
    );
    assert_eq!(approve(&b, &id).await, 200, "{}", b.log());
    // The filter's retry of the identical call, now routed to B, gets the grant.
    let (status, body) = b.check("alice", "cus_001").await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["status"].as_str(), body["approval_id"].as_str()),
        (Some("approved"), Some(id.as_str())),
        "{body}"
    );
    let (_, again) = b.check("alice", "cus_001").await;
    assert_eq!(again["status"], "pending", "a once grant is used once");
}

#[tokio::test]
async fn a_duplicate_audit_batch_posted_to_two_replicas_is_stored_once() {
    let (_pg, url) = database();
    let (a, b) = replicas(json!({}), &url);
    let batch = ["rec-1:0", "rec-1:1", "rec-2:0"].map(audit_line).join("\n");
    let ((status_a, on_a), (status_b, on_b)) =
        tokio::join!(a.post_audit(&batch), b.post_audit(&batch));
    assert_eq!((status_a, status_b), (200, 200), "{on_a} {on_b}");
    let stored = on_a["stored"].as_u64().unwrap() + on_b["stored"].as_u64().unwrap();
    let duplicates = on_a["duplicates"].as_u64().unwrap() + on_b["duplicates"].as_u64().unwrap();
    assert_eq!((stored, duplicates), (3, 3), "{on_a} {on_b}");
    let (_, retried) = a.post_audit(&batch).await;
    assert_eq!(
        (retried["stored"].as_u64(), retried["duplicates"].as_u64()),
        (Some(0), Some(3))
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows: i64 = client
        .query_one("SELECT COUNT(*) FROM audit_records", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 3);
}

#[tokio::test]
async fn readyz_follows_the_database() {
    let (pg, url) = database();
    let service = Service::start_on_postgres(&config(json!({})), &url);
    let ready = || async {
        let response = reqwest::get(service.url("/readyz")).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(ready().await, (200, "ready".to_owned()));
    drop(pg);
    assert_eq!(ready().await, (503, "store unavailable".to_owned()));
    assert!(
        service
            .log()
            .contains("readyz: the approval store does not answer"),
        "{}",
        service.log()
    );
}

#[tokio::test]
async fn serve_refuses_an_unreachable_database_and_db_together_with_database_url() {
    let port = warden_testkit::process::free_port().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config(json!({})).to_string()).unwrap();
    let serve = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--internal-listen",
                "127.0.0.1:0",
            ])
            .env("WARDEN_INTERNAL_SECRET", common::SECRET)
            .env_remove("WARDEN_DATABASE_URL")
            .args(extra)
            .output()
            .unwrap()
    };
    let url = format!("postgres://warden@127.0.0.1:{port}/warden");
    let out = serve(&["--database-url", &url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    let out = serve(&["--database-url", &url, "--db", "x.db"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--db"), "{stderr}");
}
