//! The PostgreSQL backend of the audit store ([`crate::postgres`]). A batch is stored in one
//! transaction with `INSERT … ON CONFLICT (record_id) DO NOTHING`, so a batch delivered twice — to
//! one replica or to two, one after the other or at the same time — is stored once: a concurrent
//! insert of the same `record_id` waits for the other transaction and then does nothing.

use super::{record, BatchOutcome};
use crate::postgres::Postgres;

/// The PostgreSQL-backed audit store.
pub struct PgAuditStore {
    db: Postgres,
}

impl PgAuditStore {
    /// The store on `db` (already migrated by [`Postgres::connect`]).
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// As [`super::AuditStore::insert_batch`].
    ///
    /// # Errors
    /// On database errors (nothing of the batch is stored).
    pub async fn insert_batch(&self, body: &str, received_at: i64) -> anyhow::Result<BatchOutcome> {
        let batch = record::parse_batch(body);
        let mut stored = 0;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let insert = tx
            .prepare(
                "INSERT INTO audit_records (record_id, time_ms, session_id, iss, sub, method, tool, \
                 decision, rule, record_json, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (record_id) DO NOTHING",
            )
            .await?;
        for (record, time_ms, line) in &batch.records {
            let identity = record.identity.as_ref();
            let inserted = tx
                .execute(
                    &insert,
                    &[
                        &record.record_id,
                        time_ms,
                        &record.session_id,
                        &identity.map(|i| &i.iss),
                        &identity.map(|i| &i.sub),
                        &record.method,
                        &record.tool,
                        &record.decision.as_str(),
                        &record.rule,
                        line,
                        &received_at,
                    ],
                )
                .await?;
            stored += usize::try_from(inserted)?;
        }
        tx.commit().await?;
        Ok(batch.outcome(stored))
    }

    /// As [`super::AuditStore::prune`].
    ///
    /// # Errors
    /// On database errors.
    pub async fn prune(&self, before_ms: i64) -> anyhow::Result<usize> {
        let pruned = self
            .db
            .client()
            .await?
            .execute(
                "DELETE FROM audit_records WHERE time_ms < $1",
                &[&before_ms],
            )
            .await?;
        Ok(usize::try_from(pruned)?)
    }
}
