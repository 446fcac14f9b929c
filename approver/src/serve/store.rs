//! The approval store: one SQLite file (WAL journal, `synchronous=FULL`), so every state change is on
//! disk when its transaction commits, before the service acknowledges it, and a restart loses nothing.
//!
//! States of a request: `pending` → `approved` (enough distinct approvers) | `denied` | `expired`
//! (nobody decided before `expires_at`); an approved `once` grant becomes `consumed` when a call uses
//! it; an approved grant may be `revoked`. Grant look-ups and their consumption happen in one
//! `BEGIN IMMEDIATE` transaction, so two concurrent identical calls cannot both use a `once` grant.

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use warden_core::approval::CheckRequest;
use warden_core::config::{ApprovalRuleConfig, GrantMode};
use warden_core::Identity;

/// One approval request, as listed and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// Request id (UUID v4).
    pub id: String,
    /// Where the request is in its life.
    pub status: ApprovalStatus,
    /// The call digest the request is bound to.
    pub call_digest: String,
    /// The plugin's `upstream`.
    pub upstream: String,
    /// Id of the `require_approval` rule.
    pub rule: String,
    /// Who made the call.
    pub caller: Identity,
    /// The tool called.
    pub tool: String,
    /// The call's arguments, masked with the rule's profile by this service.
    pub arguments: serde_json::Value,
    /// `Mcp-Session-Id` of the held request.
    pub session_id: Option<String>,
    /// `once` or `window`.
    pub grant: GrantMode,
    /// Distinct approvals needed.
    pub approvals_needed: u32,
    /// `sub`s of the approvers so far.
    pub approvers: Vec<String>,
    /// Unix seconds of creation.
    pub created_at: i64,
    /// Unix seconds after which a pending request expires.
    pub expires_at: i64,
    /// Unix seconds of the final decision.
    pub decided_at: Option<i64>,
    /// Who denied it, or revoked it.
    pub decided_by: Option<String>,
    /// The denial (or revocation) reason.
    pub reason: Option<String>,
    /// End of a `window` grant (Unix seconds).
    pub window_until: Option<i64>,
}

/// The state of an approval request (stored and sent as its lowercase name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    /// Waiting for approvers.
    Pending,
    /// Enough distinct approvers approved: a grant.
    Approved,
    /// An approver denied it.
    Denied,
    /// Nobody decided before `expires_at`.
    Expired,
    /// A `once` grant a call used.
    Consumed,
    /// An approved grant withdrawn.
    Revoked,
}

impl ApprovalStatus {
    /// Every status, in life order.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Approved,
        Self::Denied,
        Self::Expired,
        Self::Consumed,
        Self::Revoked,
    ];

    /// The lowercase name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Consumed => "consumed",
            Self::Revoked => "revoked",
        }
    }

    /// Whether the request was granted at some point (approved, then maybe used or revoked).
    pub fn was_granted(self) -> bool {
        matches!(self, Self::Approved | Self::Consumed | Self::Revoked)
    }
}

impl std::fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ApprovalStatus {
    type Err = String;

    /// The status named `text` (lowercase).
    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown approval status {text:?}"))
    }
}

impl rusqlite::types::FromSql for ApprovalStatus {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e: String| rusqlite::types::FromSqlError::Other(e.into()))
    }
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// A grant covers the call (a `once` grant is now consumed).
    Approved(ApprovalRecord),
    /// The call was denied.
    Denied(ApprovalRecord),
    /// Waiting for approvers; `created` when this check opened the request.
    Pending {
        /// The open request.
        record: ApprovalRecord,
        /// Whether the request was created by this check.
        created: bool,
    },
}

/// What an approver does to a request (core's policy decisions are another thing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproverAction {
    /// Grant (counts one approval).
    Approve,
    /// Refuse with a reason.
    Deny,
    /// Withdraw an approved grant.
    Revoke,
}

impl ApproverAction {
    /// `approve`, `deny` or `revoke`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
            Self::Revoke => "revoke",
        }
    }
}

/// Why a decision was refused; each maps to an HTTP status in the API.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecideError {
    /// No request with that id.
    #[error("no approval request {0}")]
    NotFound(String),
    /// The request is not in a state that allows the decision.
    #[error("approval request {id} is {status}; {hint}")]
    Conflict {
        /// Request id.
        id: String,
        /// Its current state.
        status: ApprovalStatus,
        /// What can be done instead.
        hint: &'static str,
    },
    /// The approver made the call.
    #[error("{0} made this call and cannot approve or deny their own request")]
    SelfApproval(String),
    /// The same approver approved already.
    #[error("{0} has already approved this request; it needs another approver")]
    AlreadyApproved(String),
}

/// The SQLite-backed store.
pub struct Store {
    conn: Mutex<Connection>,
}

const COLUMNS: &str = "id, status, call_digest, upstream, rule, caller_json, tool, arguments_json, \
    session_id, grant_mode, approvals_needed, created_at, expires_at, decided_at, decided_by, reason, \
    window_until";

impl Store {
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
            (None, Some(id)) => {
                let record = get(&tx, &id)?.context("request vanished")?;
                if record.status == ApprovalStatus::Denied {
                    CheckOutcome::Denied(record)
                } else {
                    CheckOutcome::Pending {
                        record,
                        created: false,
                    }
                }
            }
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
        let conflict = |hint| DecideError::Conflict {
            id: id.to_owned(),
            status: record.status,
            hint,
        };
        match action {
            ApproverAction::Revoke => {
                if record.status != ApprovalStatus::Approved {
                    return Err(conflict("only an approved, unused grant can be revoked").into());
                }
                tx.execute(
                    "UPDATE requests SET status = 'revoked', decided_at = ?2, decided_by = ?3, \
                     reason = ?4 WHERE id = ?1",
                    params![id, now, sub, reason],
                )?;
            }
            ApproverAction::Approve | ApproverAction::Deny => {
                if record.status != ApprovalStatus::Pending {
                    return Err(conflict("only pending requests can be decided").into());
                }
                if record.caller.sub == sub && record.caller.iss == iss {
                    return Err(DecideError::SelfApproval(sub.to_owned()).into());
                }
                if action == ApproverAction::Deny {
                    tx.execute(
                        "UPDATE requests SET status = 'denied', decided_at = ?2, decided_by = ?3, \
                         reason = ?4 WHERE id = ?1",
                        params![id, now, sub, reason],
                    )?;
                } else {
                    let inserted = tx.execute(
                        "INSERT OR IGNORE INTO approvals (request_id, approver_iss, approver_sub, \
                         approved_at) VALUES (?1, ?2, ?3, ?4)",
                        params![id, iss, sub, now],
                    )?;
                    if inserted == 0 {
                        return Err(DecideError::AlreadyApproved(sub.to_owned()).into());
                    }
                    if record.approvers.len() + 1 >= record.approvals_needed as usize {
                        tx.execute(
                            "UPDATE requests SET status = 'approved', decided_at = ?2, \
                             window_until = CASE WHEN grant_mode = 'window' \
                             THEN ?2 + window_seconds END WHERE id = ?1",
                            params![id, now],
                        )?;
                    }
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
    let grant = match rule.grant {
        GrantMode::Once => "once",
        GrantMode::Window => "window",
    };
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
                Ok((
                    [
                        row.get::<_, String>(0)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                        row.get(9)?,
                    ],
                    row.get::<_, Option<String>>(8)?,
                    row.get::<_, ApprovalStatus>(1)?,
                    row.get::<_, u32>(10)?,
                    [row.get::<_, i64>(11)?, row.get(12)?],
                    [row.get::<_, Option<i64>>(13)?, row.get(16)?],
                    [row.get::<_, Option<String>>(14)?, row.get(15)?],
                ))
            },
        )
        .optional()?;
    let Some((
        [id, call_digest, upstream, rule, caller, tool, arguments, grant],
        session_id,
        status,
        approvals_needed,
        [created_at, expires_at],
        [decided_at, window_until],
        [decided_by, reason],
    )) = row
    else {
        return Ok(None);
    };
    let approvers = {
        let mut statement = conn.prepare(
            "SELECT approver_sub FROM approvals WHERE request_id = ?1 ORDER BY approved_at, approver_sub",
        )?;
        let rows = statement.query_map(params![id], |row| row.get(0))?;
        rows.collect::<Result<Vec<String>, _>>()?
    };
    Ok(Some(ApprovalRecord {
        caller: serde_json::from_str(&caller).context("stored caller is not JSON")?,
        arguments: serde_json::from_str(&arguments).context("stored arguments are not JSON")?,
        grant: if grant == "window" {
            GrantMode::Window
        } else {
            GrantMode::Once
        },
        id,
        status,
        call_digest,
        upstream,
        rule,
        tool,
        session_id,
        approvals_needed,
        approvers,
        created_at,
        expires_at,
        decided_at,
        decided_by,
        reason,
        window_until,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(grant: GrantMode, needed: u32) -> ApprovalRuleConfig {
        ApprovalRuleConfig {
            approver_groups: vec!["approvers".into()],
            approvals_needed: needed,
            grant,
            window_seconds: (grant == GrantMode::Window).then_some(600),
            hold_seconds: 5,
            pending_expiry_seconds: 100,
            mask_arguments_in_inbox: false,
        }
    }

    fn request(sub: &str, digest: &str) -> CheckRequest {
        CheckRequest {
            call_digest: digest.into(),
            upstream: "demo".into(),
            rule: "hold-delete".into(),
            caller: Identity {
                iss: "iss".into(),
                sub: sub.into(),
                email: None,
                groups: vec![],
                scopes: vec![],
                client_id: None,
                claims: serde_json::Value::Null,
            },
            claims: serde_json::Value::Null,
            tool: "delete_customer".into(),
            arguments: json!({"customer_id": "cus_001"}),
            session_id: Some("s1".into()),
        }
    }

    fn pending_id(outcome: CheckOutcome) -> String {
        match outcome {
            CheckOutcome::Pending { record, .. } => record.id,
            other => panic!("expected pending, got {other:?}"),
        }
    }

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("approvals.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn once_grant_is_consumed_by_the_first_identical_call_only() {
        let (_dir, store) = temp_store();
        let r = rule(GrantMode::Once, 1);
        let id = pending_id(store.check(&request("alice", "d1"), &r, 10).unwrap());
        assert_eq!(
            pending_id(store.check(&request("alice", "d1"), &r, 11).unwrap()),
            id
        );
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Approve, None, 12)
            .unwrap();
        assert!(matches!(
            store.check(&request("alice", "d2"), &r, 13).unwrap(),
            CheckOutcome::Pending { created: true, .. }
        ));
        assert!(matches!(
            store.check(&request("alice", "d1"), &r, 13).unwrap(),
            CheckOutcome::Approved(_)
        ));
        let again = pending_id(store.check(&request("alice", "d1"), &r, 14).unwrap());
        assert_ne!(again, id, "a consumed grant opens a new request");
        assert_eq!(
            store.get(&id, 14).unwrap().unwrap().status,
            ApprovalStatus::Consumed
        );
    }

    #[test]
    fn approvers_cannot_decide_their_own_request_or_approve_twice() {
        let (_dir, store) = temp_store();
        let id = pending_id(
            store
                .check(&request("alice", "d1"), &rule(GrantMode::Once, 2), 10)
                .unwrap(),
        );
        let err = store
            .decide(&id, ("iss", "alice"), ApproverAction::Approve, None, 11)
            .unwrap_err();
        assert_eq!(
            err.downcast_ref::<DecideError>(),
            Some(&DecideError::SelfApproval("alice".into()))
        );
        // Same sub from another issuer is another person.
        let after = store
            .decide(
                &id,
                ("other-iss", "alice"),
                ApproverAction::Approve,
                None,
                11,
            )
            .unwrap();
        assert_eq!(
            (after.status, after.approvers.len()),
            (ApprovalStatus::Pending, 1)
        );
        let err = store
            .decide(
                &id,
                ("other-iss", "alice"),
                ApproverAction::Approve,
                None,
                12,
            )
            .unwrap_err();
        assert!(matches!(
            err.downcast_ref::<DecideError>(),
            Some(DecideError::AlreadyApproved(_))
        ));
        let done = store
            .decide(&id, ("iss", "carol"), ApproverAction::Approve, None, 13)
            .unwrap();
        assert_eq!(done.status, ApprovalStatus::Approved);
        assert_eq!(done.approvers, ["alice", "carol"]);
    }

    #[test]
    fn window_grant_covers_other_arguments_until_it_ends() {
        let (_dir, store) = temp_store();
        let r = rule(GrantMode::Window, 1);
        let id = pending_id(store.check(&request("alice", "d1"), &r, 10).unwrap());
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Approve, None, 20)
            .unwrap();
        for (digest, now) in [("d1", 21), ("d1", 22), ("d9", 619)] {
            assert!(matches!(
                store.check(&request("alice", digest), &r, now).unwrap(),
                CheckOutcome::Approved(_)
            ));
        }
        assert!(matches!(
            store.check(&request("mallory", "d1"), &r, 30).unwrap(),
            CheckOutcome::Pending { .. }
        ));
        assert!(matches!(
            store.check(&request("alice", "d7"), &r, 620).unwrap(),
            CheckOutcome::Pending { .. }
        ));
    }

    #[test]
    fn revoked_window_grant_no_longer_covers_calls() {
        let (_dir, store) = temp_store();
        let r = rule(GrantMode::Window, 1);
        let id = pending_id(store.check(&request("alice", "d1"), &r, 10).unwrap());
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Approve, None, 11)
            .unwrap();
        store
            .decide(
                &id,
                ("iss", "bob"),
                ApproverAction::Revoke,
                Some("done"),
                12,
            )
            .unwrap();
        assert!(matches!(
            store.check(&request("alice", "d2"), &r, 13).unwrap(),
            CheckOutcome::Pending { created: true, .. }
        ));
    }

    #[test]
    fn denied_request_answers_retries_with_its_reason_and_pending_ones_expire() {
        let (_dir, store) = temp_store();
        let r = rule(GrantMode::Once, 1);
        let id = pending_id(store.check(&request("alice", "d1"), &r, 10).unwrap());
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Deny, Some("no"), 11)
            .unwrap();
        match store.check(&request("alice", "d1"), &r, 12).unwrap() {
            CheckOutcome::Denied(record) => assert_eq!(record.reason.as_deref(), Some("no")),
            other => panic!("{other:?}"),
        }
        let id2 = pending_id(store.check(&request("alice", "d2"), &r, 12).unwrap());
        assert_eq!(
            store.get(&id2, 112).unwrap().unwrap().status,
            ApprovalStatus::Expired
        );
        let err = store
            .decide(&id2, ("iss", "bob"), ApproverAction::Approve, None, 113)
            .unwrap_err();
        assert!(err.to_string().contains("is expired"), "{err}");
    }

    #[test]
    fn state_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.db");
        let r = rule(GrantMode::Once, 1);
        let id = {
            let store = Store::open(&path).unwrap();
            pending_id(store.check(&request("alice", "d1"), &r, 10).unwrap())
        };
        let store = Store::open(&path).unwrap();
        assert_eq!(
            pending_id(store.check(&request("alice", "d1"), &r, 11).unwrap()),
            id
        );
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Approve, None, 12)
            .unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        assert!(matches!(
            store.check(&request("alice", "d1"), &r, 13).unwrap(),
            CheckOutcome::Approved(_)
        ));
    }
}
