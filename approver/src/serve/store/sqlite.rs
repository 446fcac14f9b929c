//! The SQLite backend of the approval store: one file (WAL journal, `synchronous=FULL`). A check's
//! grant look-up and consumption, and every decision, run in one `BEGIN IMMEDIATE` transaction.

mod pins;

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use warden_core::approval::CheckRequest;
use warden_core::config::ApprovalRuleConfig;

use super::{
    found, grant_name, plan, ApprovalRecord, ApprovalStatus, ApproverAction, CheckOutcome,
    DecideError, RequestRow, Step, COLUMNS,
};

/// The SQLite-backed store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` ([`crate::sqlite::open_durable`]:
    /// WAL mode, `synchronous=FULL`, schema migrated).
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = crate::sqlite::open_durable(path, "approval")?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Whether the database answers a trivial query (readiness).
    ///
    /// # Errors
    /// The SQLite error.
    pub fn ping(&self) -> anyhow::Result<()> {
        self.lock()
            .query_row("SELECT 1", [], |_| Ok(()))
            .context("SELECT 1")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls back on drop).
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Finds a usable grant for `request` (consuming a `once` grant), else its open or denied request,
    /// else opens a new pending request with `rule`'s settings, all in one immediate transaction.
    ///
    /// # Errors
    /// On database errors.
    pub fn check(
        &self,
        request: &CheckRequest,
        rule: &ApprovalRuleConfig,
        now: i64,
    ) -> anyhow::Result<CheckOutcome> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        expire(&tx, now)?;
        let once: Option<String> = tx
            .query_row(
                "SELECT id FROM requests WHERE call_digest = ?1 AND status = 'approved' \
                 AND grant_mode = 'once' ORDER BY decided_at LIMIT 1",
                params![request.call_digest],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(id) = once {
            tx.execute(
                "UPDATE requests SET status = 'consumed' WHERE id = ?1",
                params![id],
            )?;
            let record = get(&tx, &id)?;
            tx.commit()?;
            return Ok(CheckOutcome::Approved(record.context("grant vanished")?));
        }
        let window: Option<String> = tx
            .query_row(
                "SELECT id FROM requests WHERE caller_iss = ?1 AND caller_sub = ?2 AND upstream = ?3 \
                 AND tool = ?4 AND rule = ?5 AND status = 'approved' AND grant_mode = 'window' \
                 AND window_until > ?6 ORDER BY window_until DESC LIMIT 1",
                params![
                    request.caller.iss,
                    request.caller.sub,
                    request.upstream,
                    request.tool,
                    request.rule,
                    now
                ],
                |row| row.get(0),
            )
            .optional()?;
        let open: Option<String> = tx
            .query_row(
                "SELECT id FROM requests WHERE call_digest = ?1 AND status IN ('pending', 'denied') \
                 AND expires_at > ?2 ORDER BY created_at DESC LIMIT 1",
                params![request.call_digest, now],
                |row| row.get(0),
            )
            .optional()?;
        let outcome = match (window, open) {
            (Some(id), _) => CheckOutcome::Approved(get(&tx, &id)?.context("grant vanished")?),
            (None, Some(id)) => found(get(&tx, &id)?.context("request vanished")?),
            (None, None) => {
                let id = uuid::Uuid::new_v4().to_string();
                insert(&tx, &id, request, rule, now)?;
                CheckOutcome::Pending {
                    record: get(&tx, &id)?.context("insert vanished")?,
                    created: true,
                }
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Records `action` on request `id` by `approver` (`(iss, sub)`), needing `window_seconds` for
    /// window grants. Returns the request after the change.
    ///
    /// # Errors
    /// [`DecideError`] (inside `anyhow`) when refused; database errors otherwise.
    pub fn decide(
        &self,
        id: &str,
        approver: (&str, &str),
        action: ApproverAction,
        reason: Option<&str>,
        now: i64,
    ) -> anyhow::Result<ApprovalRecord> {
        let (iss, sub) = approver;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        expire(&tx, now)?;
        let record = get(&tx, id)?.ok_or_else(|| DecideError::NotFound(id.to_owned()))?;
        match plan(&record, approver, action)? {
            Step::Close(status) => {
                tx.execute(
                    "UPDATE requests SET status = ?5, decided_at = ?2, decided_by = ?3, \
                     reason = ?4 WHERE id = ?1",
                    params![id, now, sub, reason, status.as_str()],
                )?;
            }
            Step::Approve { completes } => {
                let inserted = tx.execute(
                    "INSERT OR IGNORE INTO approvals (request_id, approver_iss, approver_sub, \
                     approved_at) VALUES (?1, ?2, ?3, ?4)",
                    params![id, iss, sub, now],
                )?;
                if inserted == 0 {
                    return Err(DecideError::AlreadyApproved(sub.to_owned()).into());
                }
                if completes {
                    tx.execute(
                        "UPDATE requests SET status = 'approved', decided_at = ?2, \
                         window_until = CASE WHEN grant_mode = 'window' \
                         THEN ?2 + window_seconds END WHERE id = ?1",
                        params![id, now],
                    )?;
                }
            }
        }
        let updated = get(&tx, id)?.context("request vanished")?;
        tx.commit()?;
        Ok(updated)
    }

    /// One request by id.
    ///
    /// # Errors
    /// On database errors.
    pub fn get(&self, id: &str, now: i64) -> anyhow::Result<Option<ApprovalRecord>> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        expire(&tx, now)?;
        let record = get(&tx, id)?;
        tx.commit()?;
        Ok(record)
    }

    /// Requests, newest first, optionally only those in `status`.
    ///
    /// # Errors
    /// On database errors.
    pub fn list(
        &self,
        status: Option<ApprovalStatus>,
        now: i64,
    ) -> anyhow::Result<Vec<ApprovalRecord>> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        expire(&tx, now)?;
        let ids: Vec<String> = {
            let mut statement = tx.prepare(
                "SELECT id FROM requests WHERE ?1 IS NULL OR status = ?1 ORDER BY created_at DESC, id",
            )?;
            let rows = statement.query_map(params![status.map(ApprovalStatus::as_str)], |row| {
                row.get(0)
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let records = ids
            .iter()
            .map(|id| get(&tx, id)?.context("request vanished"))
            .collect::<anyhow::Result<_>>()?;
        tx.commit()?;
        Ok(records)
    }
}

/// Marks pending requests past their expiry as `expired`.
fn expire(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE requests SET status = 'expired' WHERE status = 'pending' AND expires_at <= ?1",
        params![now],
    )
}

fn insert(
    conn: &Connection,
    id: &str,
    request: &CheckRequest,
    rule: &ApprovalRuleConfig,
    now: i64,
) -> anyhow::Result<()> {
    let grant = grant_name(rule.grant);
    conn.execute(
        "INSERT INTO requests (id, call_digest, upstream, rule, caller_iss, caller_sub, caller_json, \
         tool, arguments_json, session_id, status, grant_mode, window_seconds, approvals_needed, \
         created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?12, ?13, ?14, ?15)",
        params![
            id,
            request.call_digest,
            request.upstream,
            request.rule,
            request.caller.iss,
            request.caller.sub,
            serde_json::to_string(&request.caller)?,
            request.tool,
            request.arguments.to_string(),
            request.session_id,
            grant,
            rule.window_seconds.map(i64::try_from).transpose()?,
            rule.approvals_needed,
            now,
            now.saturating_add(i64::try_from(rule.pending_expiry_seconds)?),
        ],
    )?;
    Ok(())
}

fn get(conn: &Connection, id: &str) -> anyhow::Result<Option<ApprovalRecord>> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM requests WHERE id = ?1"),
            params![id],
            |row| {
                Ok(RequestRow {
                    id: row.get(0)?,
                    status: row.get(1)?,
                    call_digest: row.get(2)?,
                    upstream: row.get(3)?,
                    rule: row.get(4)?,
                    caller_json: row.get(5)?,
                    tool: row.get(6)?,
                    arguments_json: row.get(7)?,
                    session_id: row.get(8)?,
                    grant_mode: row.get(9)?,
                    approvals_needed: row.get(10)?,
                    created_at: row.get(11)?,
                    expires_at: row.get(12)?,
                    decided_at: row.get(13)?,
                    decided_by: row.get(14)?,
                    reason: row.get(15)?,
                    window_until: row.get(16)?,
                })
            },
        )
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let approvers = {
        let mut statement = conn.prepare(
            "SELECT approver_sub FROM approvals WHERE request_id = ?1 ORDER BY approved_at, approver_sub",
        )?;
        let rows = statement.query_map(params![id], |row| row.get(0))?;
        rows.collect::<Result<Vec<String>, _>>()?
    };
    row.into_record(approvers).map(Some)
}

#[cfg(test)]
mod tests {
    use warden_core::config::GrantMode;

    use super::*;
    use crate::serve::store::testing::{pending_id, request, rule};

    #[test]
    fn state_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.db");
        let r = rule(GrantMode::Once, 1);
        let id = {
            let store = SqliteStore::open(&path).unwrap();
            pending_id(store.check(&request("alice", "d1"), &r, 10).unwrap())
        };
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            pending_id(store.check(&request("alice", "d1"), &r, 11).unwrap()),
            id
        );
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Approve, None, 12)
            .unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert!(matches!(
            store.check(&request("alice", "d1"), &r, 13).unwrap(),
            CheckOutcome::Approved(_)
        ));
    }
}
