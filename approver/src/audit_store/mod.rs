//! The audit store of `warden serve`: the filter's records (`POST /v1/audit`, batched, idempotent on
//! `record_id`) in the same database as the approvals — the SQLite file ([`store`], tables created by
//! the file's one migration list, [`crate::sqlite`]) or PostgreSQL ([`postgres`]) — and retention
//! pruning. `warden sessions` and `warden review` read it ([`crate::review`]).

pub mod api;
pub mod postgres;
pub mod record;
pub mod retention;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use self::postgres::PgAuditStore;
pub use self::store::SqliteAuditStore;
use crate::database::Database;

/// Audit options of `warden serve`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Keep audit records this long (`400d`, `90d`, `12h`); older ones are pruned at start-up and
    /// daily. Without it records are kept forever.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub retention: Option<Duration>,
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchOutcome {
    /// Non-empty lines received.
    pub received: usize,
    /// Records stored now.
    pub stored: usize,
    /// Records already stored (a retried delivery).
    pub duplicates: usize,
    /// Lines that are not audit records: `line N: problem` (1-based).
    pub rejected: Vec<String>,
}

/// The audit store over one of the backends (as [`crate::serve::store::Store`]).
pub enum AuditStore {
    /// The SQLite file (its calls run on Tokio's blocking threads).
    Sqlite(Arc<SqliteAuditStore>),
    /// A PostgreSQL database shared by replicas.
    Postgres(PgAuditStore),
}

impl AuditStore {
    /// The store in `database`.
    ///
    /// # Errors
    /// When the SQLite file cannot be opened or migrated.
    pub fn open(database: &Database) -> anyhow::Result<Self> {
        Ok(match database {
            Database::Sqlite(path) => Self::Sqlite(Arc::new(SqliteAuditStore::open(path)?)),
            Database::Postgres(db) => Self::Postgres(PgAuditStore::new(db.clone())),
        })
    }

    /// Stores a JSON Lines batch (one record per line) in one transaction, ignoring records whose
    /// `record_id` is already stored and reporting lines that are not records.
    ///
    /// # Errors
    /// On database errors (nothing of the batch is stored).
    pub async fn insert_batch(
        &self,
        body: String,
        received_at: i64,
    ) -> anyhow::Result<BatchOutcome> {
        match self {
            Self::Sqlite(store) => {
                let store = Arc::clone(store);
                tokio::task::spawn_blocking(move || store.insert_batch(&body, received_at))
                    .await
                    .context("the store task failed")?
            }
            Self::Postgres(store) => store.insert_batch(&body, received_at).await,
        }
    }

    /// Deletes records that started before `before_ms` (Unix milliseconds). Returns how many.
    ///
    /// # Errors
    /// On database errors.
    pub async fn prune(&self, before_ms: i64) -> anyhow::Result<usize> {
        match self {
            Self::Sqlite(store) => {
                let store = Arc::clone(store);
                tokio::task::spawn_blocking(move || store.prune(before_ms))
                    .await
                    .context("the store task failed")?
            }
            Self::Postgres(store) => store.prune(before_ms).await,
        }
    }
}

/// Opens the audit store in `db`, starts retention pruning (on the current Tokio runtime), and returns
/// the routes to merge into `warden serve`'s router.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub fn start(db: &Database, args: &AuditArgs) -> anyhow::Result<axum::Router> {
    let store = Arc::new(AuditStore::open(db)?);
    if let Some(retention) = args.retention {
        retention::spawn(Arc::clone(&store), retention);
    }
    Ok(api::router(store))
}

/// Record builders for the tests of this module and of [`crate::review`].
#[cfg(test)]
pub mod testing {
    use serde_json::{json, Value};

    /// An allowed `tools/call` of `echo` by `sub` (groups `support`) at `time` (RFC 3339); tests change
    /// fields on the returned value.
    pub fn record(record_id: &str, time: &str, session: Option<&str>, sub: &str) -> Value {
        json!({
            "schema": 1, "record_id": record_id, "time": time, "session_id": session,
            "identity": {"iss": "https://idp", "sub": sub, "groups": ["support"], "scopes": []},
            "method": "tools/call", "tool": "echo", "decision": "allow", "rule": "allow-support",
            "masked": {}, "duration_ms": 3, "upstream": "demo"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::testing::record;
    use super::*;

    /// A batch delivered twice is stored once, and pruning deletes exactly the older records, on
    /// `database`.
    async fn redelivery_is_idempotent_and_pruning_deletes_old_records(database: &Database) {
        let store = AuditStore::open(database).unwrap();
        let batch = [
            record("old:0", "2025-01-01T00:00:00Z", Some("s"), "alice").to_string(),
            record("new:0", "2026-01-01T00:00:00Z", Some("s"), "alice").to_string(),
            "not json".to_owned(),
        ]
        .join("\n");
        let first = store.insert_batch(batch.clone(), 1).await.unwrap();
        assert_eq!((first.received, first.stored, first.duplicates), (3, 2, 0));
        assert_eq!(first.rejected.len(), 1, "{:?}", first.rejected);
        let again = store.insert_batch(batch.clone(), 2).await.unwrap();
        assert_eq!((again.received, again.stored, again.duplicates), (3, 0, 2));
        let cutoff = crate::clock::unix_ms("2025-06-01T00:00:00Z").unwrap();
        assert_eq!(store.prune(cutoff).await.unwrap(), 1);
        let after = store.insert_batch(batch, 3).await.unwrap();
        assert_eq!(
            (after.stored, after.duplicates),
            (1, 1),
            "only the pruned record is new again"
        );
    }

    #[tokio::test]
    async fn sqlite_redelivery_is_idempotent_and_pruning_deletes_old_records() {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::Sqlite(dir.path().join("w.db"));
        redelivery_is_idempotent_and_pruning_deletes_old_records(&database).await;
    }

    #[tokio::test]
    async fn postgres_redelivery_is_idempotent_and_pruning_deletes_old_records() {
        let server = warden_testkit::postgres::TestPostgres::start().unwrap();
        let db = crate::postgres::Postgres::connect(&server.url("postgres"))
            .await
            .unwrap();
        redelivery_is_idempotent_and_pruning_deletes_old_records(&Database::Postgres(db)).await;
    }
}
