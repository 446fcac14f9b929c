//! The PostgreSQL backend of the approval store, for several replicas on one database
//! ([`crate::postgres`]: pool, migrations, `LISTEN`).
//!
//! Concurrency (each replica, each connection, runs the same code):
//! - A check runs in one transaction that first takes a transaction-scoped advisory lock on its call
//!   digest (`pg_advisory_xact_lock(CHECK_LOCK, hashtext(digest))`), so concurrent identical calls
//!   are serialised as SQLite's `BEGIN IMMEDIATE` serialises them: one opens the request, the others
//!   find it. A `once` grant is consumed by one statement, `UPDATE … SET status = 'consumed' WHERE
//!   status = 'approved' … RETURNING id`: PostgreSQL re-checks the `WHERE` on the row it locked, so
//!   exactly one of any number of concurrent checks gets the row back.
//! - A decision locks the request row (`SELECT … FOR UPDATE`), so two approvers on two replicas are
//!   applied one after the other, and sends `pg_notify(CHANNEL, id)` in the same transaction:
//!   delivered to every replica when it commits, never before.

mod pins;

use anyhow::Context;
use tokio_postgres::{Row, Transaction};
use warden_core::approval::CheckRequest;
use warden_core::config::ApprovalRuleConfig;

use super::{
    found, grant_name, plan, ApprovalRecord, ApprovalStatus, ApproverAction, CheckOutcome,
    DecideError, RequestRow, Step, COLUMNS,
};
use crate::postgres::{Postgres, CHANNEL};

/// First key of the advisory locks a check takes (the second is the digest's hash): "chk" in ASCII.
const CHECK_LOCK: i32 = 0x0063_686b;

/// The PostgreSQL-backed store.
pub struct PgStore {
    db: Postgres,
}

impl PgStore {
    /// The store on `db` (already migrated by [`Postgres::connect`]).
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Whether the database answers (readiness).
    ///
    /// # Errors
    /// As [`Postgres::ping`].
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.db.ping().await
    }

    /// As [`super::Store::check`].
    ///
    /// # Errors
    /// On database errors.
    pub async fn check(
        &self,
        request: &CheckRequest,
        rule: &ApprovalRuleConfig,
        now: i64,
    ) -> anyhow::Result<CheckOutcome> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&CHECK_LOCK, &request.call_digest],
        )
        .await?;
        expire(&tx, now).await?;
        let consumed = tx
            .query_opt(
                "UPDATE requests SET status = 'consumed' WHERE status = 'approved' AND id = (\
                 SELECT id FROM requests WHERE call_digest = $1 AND status = 'approved' \
                 AND grant_mode = 'once' ORDER BY decided_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING id",
                &[&request.call_digest],
            )
            .await?;
        if let Some(row) = consumed {
            let id: String = row.try_get(0)?;
            let record = get(&tx, &id).await?.context("grant vanished")?;
            tx.commit().await?;
            return Ok(CheckOutcome::Approved(record));
        }
        let window = tx
            .query_opt(
                "SELECT id FROM requests WHERE caller_iss = $1 AND caller_sub = $2 AND upstream = $3 \
                 AND tool = $4 AND rule = $5 AND status = 'approved' AND grant_mode = 'window' \
                 AND window_until > $6 ORDER BY window_until DESC LIMIT 1",
                &[
                    &request.caller.iss,
                    &request.caller.sub,
                    &request.upstream,
                    &request.tool,
                    &request.rule,
                    &now,
                ],
            )
            .await?;
        let open = tx
            .query_opt(
                "SELECT id FROM requests WHERE call_digest = $1 AND status IN ('pending', 'denied') \
                 AND expires_at > $2 ORDER BY created_at DESC LIMIT 1",
                &[&request.call_digest, &now],
            )
            .await?;
        let outcome = match (window, open) {
            (Some(row), _) => {
                let id: String = row.try_get(0)?;
                CheckOutcome::Approved(get(&tx, &id).await?.context("grant vanished")?)
            }
            (None, Some(row)) => {
                let id: String = row.try_get(0)?;
                found(get(&tx, &id).await?.context("request vanished")?)
            }
            (None, None) => {
                let id = uuid::Uuid::new_v4().to_string();
                insert(&tx, &id, request, rule, now).await?;
                CheckOutcome::Pending {
                    record: get(&tx, &id).await?.context("insert vanished")?,
                    created: true,
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// As [`super::Store::decide`]; the commit notifies every replica on [`CHANNEL`].
    ///
    /// # Errors
    /// [`DecideError`] (inside `anyhow`) when refused; database errors otherwise.
    pub async fn decide(
        &self,
        id: &str,
        approver: (&str, &str),
        action: ApproverAction,
        reason: Option<&str>,
        now: i64,
    ) -> anyhow::Result<ApprovalRecord> {
        let (iss, sub) = approver;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        expire(&tx, now).await?;
        // Locks the row: decisions on one request are applied one at a time, across replicas.
        tx.execute("SELECT 1 FROM requests WHERE id = $1 FOR UPDATE", &[&id])
            .await?;
        let record = get(&tx, id)
            .await?
            .ok_or_else(|| DecideError::NotFound(id.to_owned()))?;
        match plan(&record, approver, action)? {
            Step::Close(status) => {
                tx.execute(
                    "UPDATE requests SET status = $5, decided_at = $2, decided_by = $3, \
                     reason = $4 WHERE id = $1",
                    &[&id, &now, &sub, &reason, &status.as_str()],
                )
                .await?;
            }
            Step::Approve { completes } => {
                let inserted = tx
                    .execute(
                        "INSERT INTO approvals (request_id, approver_iss, approver_sub, approved_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        &[&id, &iss, &sub, &now],
                    )
                    .await?;
                if inserted == 0 {
                    return Err(DecideError::AlreadyApproved(sub.to_owned()).into());
                }
                if completes {
                    tx.execute(
                        "UPDATE requests SET status = 'approved', decided_at = $2, \
                         window_until = CASE WHEN grant_mode = 'window' \
                         THEN $2 + window_seconds END WHERE id = $1",
                        &[&id, &now],
                    )
                    .await?;
                }
            }
        }
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &id])
            .await?;
        let updated = get(&tx, id).await?.context("request vanished")?;
        tx.commit().await?;
        Ok(updated)
    }

    /// As [`super::Store::get`].
    ///
    /// # Errors
    /// On database errors.
    pub async fn get(&self, id: &str, now: i64) -> anyhow::Result<Option<ApprovalRecord>> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        expire(&tx, now).await?;
        let record = get(&tx, id).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// As [`super::Store::list`].
    ///
    /// # Errors
    /// On database errors.
    pub async fn list(
        &self,
        status: Option<ApprovalStatus>,
        now: i64,
    ) -> anyhow::Result<Vec<ApprovalRecord>> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        expire(&tx, now).await?;
        let status = status.map(ApprovalStatus::as_str);
        let rows = tx
            .query(
                "SELECT id FROM requests WHERE $1::TEXT IS NULL OR status = $1 \
                 ORDER BY created_at DESC, id",
                &[&status],
            )
            .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get(0)?;
            records.push(get(&tx, &id).await?.context("request vanished")?);
        }
        tx.commit().await?;
        Ok(records)
    }
}

/// Marks pending requests past their expiry as `expired`.
async fn expire(tx: &Transaction<'_>, now: i64) -> anyhow::Result<u64> {
    Ok(tx
        .execute(
            "UPDATE requests SET status = 'expired' WHERE status = 'pending' AND expires_at <= $1",
            &[&now],
        )
        .await?)
}

async fn insert(
    tx: &Transaction<'_>,
    id: &str,
    request: &CheckRequest,
    rule: &ApprovalRuleConfig,
    now: i64,
) -> anyhow::Result<()> {
    let caller = serde_json::to_string(&request.caller)?;
    let arguments = request.arguments.to_string();
    let window_seconds = rule.window_seconds.map(i64::try_from).transpose()?;
    let approvals_needed = i64::from(rule.approvals_needed);
    let expires_at = now.saturating_add(i64::try_from(rule.pending_expiry_seconds)?);
    tx.execute(
        "INSERT INTO requests (id, call_digest, upstream, rule, caller_iss, caller_sub, \
             caller_json, tool, arguments_json, session_id, status, grant_mode, window_seconds, \
             approvals_needed, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, $13, $14, $15)",
        &[
            &id,
            &request.call_digest,
            &request.upstream,
            &request.rule,
            &request.caller.iss,
            &request.caller.sub,
            &caller,
            &request.tool,
            &arguments,
            &request.session_id,
            &grant_name(rule.grant),
            &window_seconds,
            &approvals_needed,
            &now,
            &expires_at,
        ],
    )
    .await?;
    Ok(())
}

async fn get(tx: &Transaction<'_>, id: &str) -> anyhow::Result<Option<ApprovalRecord>> {
    let Some(row) = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM requests WHERE id = $1"),
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    let row = request_row(&row)?;
    let approvers = tx
        .query(
            "SELECT approver_sub FROM approvals WHERE request_id = $1 \
             ORDER BY approved_at, approver_sub",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<Vec<String>, _>>()?;
    row.into_record(approvers).map(Some)
}

fn request_row(row: &Row) -> Result<RequestRow, tokio_postgres::Error> {
    Ok(RequestRow {
        id: row.try_get(0)?,
        status: row.try_get(1)?,
        call_digest: row.try_get(2)?,
        upstream: row.try_get(3)?,
        rule: row.try_get(4)?,
        caller_json: row.try_get(5)?,
        tool: row.try_get(6)?,
        arguments_json: row.try_get(7)?,
        session_id: row.try_get(8)?,
        grant_mode: row.try_get(9)?,
        approvals_needed: row.try_get(10)?,
        created_at: row.try_get(11)?,
        expires_at: row.try_get(12)?,
        decided_at: row.try_get(13)?,
        decided_by: row.try_get(14)?,
        reason: row.try_get(15)?,
        window_until: row.try_get(16)?,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use warden_core::config::GrantMode;

    use super::*;
    use crate::serve::store::testing::{pending_id, request, rule};

    #[tokio::test]
    async fn a_decision_notifies_every_listening_replica_with_the_approval_id() {
        let server = warden_testkit::postgres::TestPostgres::start().unwrap();
        let db = Postgres::connect(&server.url("postgres")).await.unwrap();
        let (sender, mut woken) = tokio::sync::mpsc::unbounded_channel();
        db.listen(move |id| {
            let _ = sender.send(id.map(str::to_owned));
        });
        // The first wake-up (without an id) comes once the session is listening.
        let first = tokio::time::timeout(Duration::from_secs(10), woken.recv()).await;
        assert_eq!(first.unwrap(), Some(None));
        let store = PgStore::new(db);
        let r = rule(GrantMode::Once, 1);
        let id = pending_id(store.check(&request("alice", "d1"), &r, 10).await.unwrap());
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Approve, None, 11)
            .await
            .unwrap();
        let notified = tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                if let Some(Some(notified)) = woken.recv().await {
                    return notified;
                }
            }
        })
        .await
        .expect("no notification within 3 s of the decision");
        assert_eq!(notified, id);
    }
}
