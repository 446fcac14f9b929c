//! The approval store: requests, approvals and grants, in SQLite ([`sqlite`], the embedded default,
//! one replica) or PostgreSQL ([`postgres`], several replicas on one database). Every state change is
//! committed before the service acknowledges it, so a restart (or another replica) loses nothing.
//!
//! States of a request: `pending` → `approved` (enough distinct approvers) | `denied` | `expired`
//! (nobody decided before `expires_at`); an approved `once` grant becomes `consumed` when a call uses
//! it; an approved grant may be `revoked`. A check's grant look-up and consumption are atomic in both
//! backends, so two concurrent identical calls (on one replica or two) cannot both use a `once`
//! grant.
//!
//! [`Store`] is an enum over the two backends (decision: two closed variants keep every call site a
//! plain `store.check(…).await`, with no boxed futures or trait objects). What the backends share —
//! the record types, turning a row into an [`ApprovalRecord`], and which decisions an approver may
//! take ([`plan`]) — lives here; each backend module holds its SQL only.

pub mod pins;
mod postgres;
mod sqlite;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use warden_core::approval::CheckRequest;
use warden_core::config::{ApprovalRuleConfig, GrantMode};
use warden_core::Identity;

use crate::database::Database;

pub use self::postgres::PgStore;
pub use self::sqlite::SqliteStore;

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

/// The approval store over one of the backends.
pub enum Store {
    /// One SQLite file (the embedded default).
    Sqlite(SqliteStore),
    /// A PostgreSQL database shared by replicas.
    Postgres(PgStore),
}

impl Store {
    /// The store in `database` (an SQLite file is created if missing; both are migrated by then).
    ///
    /// # Errors
    /// When the SQLite file cannot be opened or migrated.
    pub fn open(database: &Database) -> anyhow::Result<Self> {
        Ok(match database {
            Database::Sqlite(path) => Self::Sqlite(SqliteStore::open(path)?),
            Database::Postgres(db) => Self::Postgres(PgStore::new(db.clone())),
        })
    }

    /// Whether the database answers a trivial query (readiness).
    ///
    /// # Errors
    /// The database error (or, for PostgreSQL, a timeout after 5 s).
    pub async fn ping(&self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(store) => store.ping(),
            Self::Postgres(store) => store.ping().await,
        }
    }

    /// Finds a usable grant for `request` (consuming a `once` grant), else its open or denied request,
    /// else opens a new pending request with `rule`'s settings, atomically.
    ///
    /// # Errors
    /// On database errors.
    pub async fn check(
        &self,
        request: &CheckRequest,
        rule: &ApprovalRuleConfig,
        now: i64,
    ) -> anyhow::Result<CheckOutcome> {
        match self {
            Self::Sqlite(store) => store.check(request, rule, now),
            Self::Postgres(store) => store.check(request, rule, now).await,
        }
    }

    /// Records `action` on request `id` by `approver` (`(iss, sub)`) at `now` (Unix seconds); returns
    /// the request after the change.
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
        match self {
            Self::Sqlite(store) => store.decide(id, approver, action, reason, now),
            Self::Postgres(store) => store.decide(id, approver, action, reason, now).await,
        }
    }

    /// One request by id (pending requests past their expiry are expired first).
    ///
    /// # Errors
    /// On database errors.
    pub async fn get(&self, id: &str, now: i64) -> anyhow::Result<Option<ApprovalRecord>> {
        match self {
            Self::Sqlite(store) => store.get(id, now),
            Self::Postgres(store) => store.get(id, now).await,
        }
    }

    /// Requests, newest first, optionally only those in `status`.
    ///
    /// # Errors
    /// On database errors.
    pub async fn list(
        &self,
        status: Option<ApprovalStatus>,
        now: i64,
    ) -> anyhow::Result<Vec<ApprovalRecord>> {
        match self {
            Self::Sqlite(store) => store.list(status, now),
            Self::Postgres(store) => store.list(status, now).await,
        }
    }
}

/// The `requests` columns both backends select, in [`RequestRow`]'s order.
const COLUMNS: &str = "id, status, call_digest, upstream, rule, caller_json, tool, arguments_json, \
    session_id, grant_mode, approvals_needed, created_at, expires_at, decided_at, decided_by, reason, \
    window_until";

/// One `requests` row as stored ([`COLUMNS`], in order).
struct RequestRow {
    id: String,
    status: String,
    call_digest: String,
    upstream: String,
    rule: String,
    caller_json: String,
    tool: String,
    arguments_json: String,
    session_id: Option<String>,
    grant_mode: String,
    approvals_needed: i64,
    created_at: i64,
    expires_at: i64,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    reason: Option<String>,
    window_until: Option<i64>,
}

impl RequestRow {
    /// The record, with the `sub`s of its approvers so far.
    ///
    /// # Errors
    /// When a stored value is not what this program writes (unknown status, caller or arguments
    /// that are not JSON, a negative approval count).
    fn into_record(self, approvers: Vec<String>) -> anyhow::Result<ApprovalRecord> {
        Ok(ApprovalRecord {
            status: self.status.parse().map_err(anyhow::Error::msg)?,
            caller: serde_json::from_str(&self.caller_json).context("stored caller is not JSON")?,
            arguments: serde_json::from_str(&self.arguments_json)
                .context("stored arguments are not JSON")?,
            grant: if self.grant_mode == "window" {
                GrantMode::Window
            } else {
                GrantMode::Once
            },
            approvals_needed: u32::try_from(self.approvals_needed)
                .context("stored approvals_needed is out of range")?,
            id: self.id,
            call_digest: self.call_digest,
            upstream: self.upstream,
            rule: self.rule,
            tool: self.tool,
            session_id: self.session_id,
            approvers,
            created_at: self.created_at,
            expires_at: self.expires_at,
            decided_at: self.decided_at,
            decided_by: self.decided_by,
            reason: self.reason,
            window_until: self.window_until,
        })
    }
}

/// The outcome of a check that found the open (`pending`) or `denied` request `record` for its call.
fn found(record: ApprovalRecord) -> CheckOutcome {
    if record.status == ApprovalStatus::Denied {
        CheckOutcome::Denied(record)
    } else {
        CheckOutcome::Pending {
            record,
            created: false,
        }
    }
}

/// The stored name of a grant mode (`grant_mode` column).
fn grant_name(grant: GrantMode) -> &'static str {
    match grant {
        GrantMode::Once => "once",
        GrantMode::Window => "window",
    }
}

/// What a decision writes, once [`plan`] allowed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Close the request in `status` (`denied` or `revoked`), recording who and why.
    Close(ApprovalStatus),
    /// Add one approval (refused as [`DecideError::AlreadyApproved`] when this approver has one);
    /// `completes` when it is the last one needed, making the request `approved`.
    Approve {
        /// Whether this approval completes the request.
        completes: bool,
    },
}

/// Whether `approver` (`(iss, sub)`) may take `action` on `record` as it is now, and what to write.
///
/// # Errors
/// [`DecideError::Conflict`] for a request in the wrong state, [`DecideError::SelfApproval`] when the
/// approver made the call.
fn plan(
    record: &ApprovalRecord,
    approver: (&str, &str),
    action: ApproverAction,
) -> Result<Step, DecideError> {
    let (iss, sub) = approver;
    let conflict = |hint| DecideError::Conflict {
        id: record.id.clone(),
        status: record.status,
        hint,
    };
    match action {
        ApproverAction::Revoke if record.status != ApprovalStatus::Approved => {
            Err(conflict("only an approved, unused grant can be revoked"))
        }
        ApproverAction::Revoke => Ok(Step::Close(ApprovalStatus::Revoked)),
        _ if record.status != ApprovalStatus::Pending => {
            Err(conflict("only pending requests can be decided"))
        }
        _ if record.caller.sub == sub && record.caller.iss == iss => {
            Err(DecideError::SelfApproval(sub.to_owned()))
        }
        ApproverAction::Deny => Ok(Step::Close(ApprovalStatus::Denied)),
        ApproverAction::Approve => Ok(Step::Approve {
            completes: record.approvers.len() + 1 >= record.approvals_needed as usize,
        }),
    }
}

/// What the store tests of both backends share: a rule, a check request, the id of a pending outcome.
#[cfg(test)]
pub(crate) mod testing {
    use serde_json::json;
    use warden_core::approval::CheckRequest;
    use warden_core::config::{ApprovalRuleConfig, GrantMode};
    use warden_core::Identity;

    use super::CheckOutcome;

    pub(crate) fn rule(grant: GrantMode, needed: u32) -> ApprovalRuleConfig {
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

    pub(crate) fn request(sub: &str, digest: &str) -> CheckRequest {
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
                claims: Default::default(),
            },
            claims: serde_json::Value::Null,
            tool: "delete_customer".into(),
            arguments: json!({"customer_id": "cus_001"}),
            session_id: Some("s1".into()),
        }
    }

    pub(crate) fn pending_id(outcome: CheckOutcome) -> String {
        match outcome {
            CheckOutcome::Pending { record, .. } => record.id,
            other => panic!("expected pending, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use warden_core::config::GrantMode;

    use super::testing::{pending_id, request, rule};
    use super::*;

    /// Runs each named test (an `async fn(&Store)`) on a fresh SQLite file and on a fresh database
    /// of a throwaway PostgreSQL server.
    macro_rules! on_both_backends {
        ($($name:ident),* $(,)?) => {
            mod sqlite_backend {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let dir = tempfile::tempdir().unwrap();
                        let database = crate::database::Database::Sqlite(dir.path().join("w.db"));
                        super::$name(&super::Store::open(&database).unwrap()).await;
                    }
                )*
            }
            mod postgres_backend {
                $(
                    #[tokio::test]
                    async fn $name() {
                        let server = warden_testkit::postgres::TestPostgres::start().unwrap();
                        let db = crate::postgres::Postgres::connect(&server.url("postgres"))
                            .await
                            .unwrap();
                        let database = crate::database::Database::Postgres(db);
                        super::$name(&super::Store::open(&database).unwrap()).await;
                    }
                )*
            }
        };
    }

    on_both_backends!(
        once_grant_is_consumed_by_the_first_identical_call_only,
        approvers_cannot_decide_their_own_request_or_approve_twice,
        window_grant_covers_other_arguments_until_it_ends,
        revoked_window_grant_no_longer_covers_calls,
        denied_request_answers_retries_with_its_reason_and_pending_ones_expire
    );

    async fn once_grant_is_consumed_by_the_first_identical_call_only(store: &Store) {
        let r = rule(GrantMode::Once, 1);
        let id = pending_id(store.check(&request("alice", "d1"), &r, 10).await.unwrap());
        assert_eq!(
            pending_id(store.check(&request("alice", "d1"), &r, 11).await.unwrap()),
            id
        );
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Approve, None, 12)
            .await
            .unwrap();
        assert!(matches!(
            store.check(&request("alice", "d2"), &r, 13).await.unwrap(),
            CheckOutcome::Pending { created: true, .. }
        ));
        assert!(matches!(
            store.check(&request("alice", "d1"), &r, 13).await.unwrap(),
            CheckOutcome::Approved(_)
        ));
        let again = pending_id(store.check(&request("alice", "d1"), &r, 14).await.unwrap());
        assert_ne!(again, id, "a consumed grant opens a new request");
        assert_eq!(
            store.get(&id, 14).await.unwrap().unwrap().status,
            ApprovalStatus::Consumed
        );
    }

    async fn approvers_cannot_decide_their_own_request_or_approve_twice(store: &Store) {
        let id = pending_id(
            store
                .check(&request("alice", "d1"), &rule(GrantMode::Once, 2), 10)
                .await
                .unwrap(),
        );
        let err = store
            .decide(&id, ("iss", "alice"), ApproverAction::Approve, None, 11)
            .await
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
            .await
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
            .await
            .unwrap_err();
        assert!(matches!(
            err.downcast_ref::<DecideError>(),
            Some(DecideError::AlreadyApproved(_))
        ));
        let done = store
            .decide(&id, ("iss", "carol"), ApproverAction::Approve, None, 13)
            .await
            .unwrap();
        assert_eq!(done.status, ApprovalStatus::Approved);
        assert_eq!(done.approvers, ["alice", "carol"]);
    }

    async fn window_grant_covers_other_arguments_until_it_ends(store: &Store) {
        let r = rule(GrantMode::Window, 1);
        let id = pending_id(store.check(&request("alice", "d1"), &r, 10).await.unwrap());
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Approve, None, 20)
            .await
            .unwrap();
        for (digest, now) in [("d1", 21), ("d1", 22), ("d9", 619)] {
            assert!(matches!(
                store
                    .check(&request("alice", digest), &r, now)
                    .await
                    .unwrap(),
                CheckOutcome::Approved(_)
            ));
        }
        assert!(matches!(
            store
                .check(&request("mallory", "d1"), &r, 30)
                .await
                .unwrap(),
            CheckOutcome::Pending { .. }
        ));
        assert!(matches!(
            store.check(&request("alice", "d7"), &r, 620).await.unwrap(),
            CheckOutcome::Pending { .. }
        ));
    }

    async fn revoked_window_grant_no_longer_covers_calls(store: &Store) {
        let r = rule(GrantMode::Window, 1);
        let id = pending_id(store.check(&request("alice", "d1"), &r, 10).await.unwrap());
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Approve, None, 11)
            .await
            .unwrap();
        store
            .decide(
                &id,
                ("iss", "bob"),
                ApproverAction::Revoke,
                Some("done"),
                12,
            )
            .await
            .unwrap();
        assert!(matches!(
            store.check(&request("alice", "d2"), &r, 13).await.unwrap(),
            CheckOutcome::Pending { created: true, .. }
        ));
    }

    async fn denied_request_answers_retries_with_its_reason_and_pending_ones_expire(store: &Store) {
        let r = rule(GrantMode::Once, 1);
        let id = pending_id(store.check(&request("alice", "d1"), &r, 10).await.unwrap());
        store
            .decide(&id, ("iss", "bob"), ApproverAction::Deny, Some("no"), 11)
            .await
            .unwrap();
        match store.check(&request("alice", "d1"), &r, 12).await.unwrap() {
            CheckOutcome::Denied(record) => assert_eq!(record.reason.as_deref(), Some("no")),
            other => panic!("{other:?}"),
        }
        let id2 = pending_id(store.check(&request("alice", "d2"), &r, 12).await.unwrap());
        assert_eq!(
            store.get(&id2, 112).await.unwrap().unwrap().status,
            ApprovalStatus::Expired
        );
        let err = store
            .decide(&id2, ("iss", "bob"), ApproverAction::Approve, None, 113)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("is expired"), "{err}");
    }
}
