//! [`SqliteAuditStore`]: audit records in the SQLite file `warden serve` opens (WAL, `synchronous=FULL`), one
//! row per record keyed by `record_id`, so a batch delivered twice is stored once.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection};
use warden_core::audit::AuditRecord;

use super::{record, BatchOutcome};

/// The SQLite-backed audit store.
pub struct SqliteAuditStore {
    conn: Mutex<Connection>,
}

impl SqliteAuditStore {
    /// Opens (creating if needed) the database file at `path` ([`crate::sqlite::open_durable`]:
    /// WAL mode, schema migrated).
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = crate::sqlite::open_durable(path, "audit")?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores a JSON Lines batch (one record per line) in one transaction, ignoring records whose
    /// `record_id` is already stored and reporting lines that are not records.
    ///
    /// # Errors
    /// On database errors (nothing of the batch is stored).
    pub fn insert_batch(&self, body: &str, received_at: i64) -> anyhow::Result<BatchOutcome> {
        let batch = record::parse_batch(body);
        let mut stored = 0;
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO audit_records (record_id, time_ms, session_id, iss, sub, \
                 method, tool, decision, rule, record_json, received_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for (record, time_ms, line) in &batch.records {
                let identity = record.identity.as_ref();
                stored += insert.execute(params![
                    record.record_id,
                    time_ms,
                    record.session_id,
                    identity.map(|i| &i.iss),
                    identity.map(|i| &i.sub),
                    record.method,
                    record.tool,
                    record.decision.as_str(),
                    record.rule,
                    line,
                    received_at,
                ])?;
            }
        }
        tx.commit()?;
        Ok(batch.outcome(stored))
    }

    /// Deletes records that started before `before_ms` (Unix milliseconds). Returns how many.
    ///
    /// # Errors
    /// On database errors.
    pub fn prune(&self, before_ms: i64) -> anyhow::Result<usize> {
        Ok(self
            .lock()
            .execute("DELETE FROM audit_records WHERE time_ms < ?1", [before_ms])?)
    }

    /// Records that started at or after `since_ms`, oldest first (ties in `record_id` order).
    ///
    /// # Errors
    /// On database errors, or a stored row that no longer parses.
    pub fn records_since(&self, since_ms: i64) -> anyhow::Result<Vec<AuditRecord>> {
        self.query(
            "SELECT record_json FROM audit_records WHERE time_ms >= ?1 ORDER BY time_ms, record_id",
            params![since_ms],
        )
    }

    /// The records sent with `Mcp-Session-Id` `session_id`, by every caller, oldest first; group them
    /// with [`crate::review::sessions::group`] to keep callers apart.
    ///
    /// # Errors
    /// As [`AuditStore::records_since`].
    pub fn session_records(&self, session_id: &str) -> anyhow::Result<Vec<AuditRecord>> {
        self.query(
            "SELECT record_json FROM audit_records WHERE session_id = ?1 ORDER BY time_ms, record_id",
            params![session_id],
        )
    }

    fn query(&self, sql: &str, params: impl rusqlite::Params) -> anyhow::Result<Vec<AuditRecord>> {
        let conn = self.lock();
        let mut statement = conn.prepare_cached(sql)?;
        let rows = statement.query_map(params, |row| row.get::<_, String>(0))?;
        rows.map(|json| {
            let json = json?;
            Ok(record::parse(&json)?.0)
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(record_id: &str, time: &str, session: Option<&str>, sub: &str) -> String {
        super::super::testing::record(record_id, time, session, sub).to_string()
    }

    fn store() -> (tempfile::TempDir, SqliteAuditStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAuditStore::open(&dir.path().join("w.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn redelivered_batch_stores_each_record_once() {
        let (_dir, store) = store();
        let batch = [
            line("r1:0", "2026-01-01T10:00:00.000Z", Some("s"), "alice"),
            line("r1:1", "2026-01-01T10:00:00.000Z", Some("s"), "alice"),
        ]
        .join("\n");
        let first = store.insert_batch(&batch, 1).unwrap();
        assert_eq!((first.received, first.stored, first.duplicates), (2, 2, 0));
        let again = store.insert_batch(&batch, 2).unwrap();
        assert_eq!((again.received, again.stored, again.duplicates), (2, 0, 2));
        assert_eq!(store.records_since(0).unwrap().len(), 2);
    }

    #[test]
    fn lines_that_are_not_records_are_rejected_and_the_rest_stored() {
        let (_dir, store) = store();
        let batch = format!(
            "{}\n{{\"record_id\":\"x\"}}\nnot json\n\n{}",
            line("a:0", "2026-01-01T10:00:00Z", None, "alice"),
            line("b:0", "yesterday", None, "alice"),
        );
        let outcome = store.insert_batch(&batch, 1).unwrap();
        assert_eq!((outcome.received, outcome.stored), (4, 1));
        assert_eq!(outcome.rejected.len(), 3, "{:?}", outcome.rejected);
        assert!(
            outcome.rejected[0].starts_with("line 2: "),
            "{:?}",
            outcome.rejected
        );
        assert!(
            outcome.rejected[2].contains("yesterday"),
            "{:?}",
            outcome.rejected
        );
    }

    #[test]
    fn prune_deletes_only_records_older_than_the_cutoff() {
        let (_dir, store) = store();
        let batch = [
            line("old:0", "2025-01-01T00:00:00Z", Some("s"), "alice"),
            line("new:0", "2026-01-01T00:00:00Z", Some("s"), "alice"),
        ]
        .join("\n");
        store.insert_batch(&batch, 1).unwrap();
        let cutoff = crate::clock::unix_ms("2025-06-01T00:00:00Z").unwrap();
        assert_eq!(store.prune(cutoff).unwrap(), 1);
        let left = store.records_since(0).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].record_id, "new:0");
    }

    #[test]
    fn session_records_come_back_in_time_order() {
        let (_dir, store) = store();
        let batch = [
            line("b:0", "2026-01-01T10:00:02Z", Some("s1"), "alice"),
            line("a:0", "2026-01-01T10:00:01Z", Some("s1"), "alice"),
            line("c:0", "2026-01-01T10:00:00Z", Some("s2"), "bob"),
            line("d:0", "2026-01-01T10:00:03Z", None, "bob"),
        ]
        .join("\n");
        store.insert_batch(&batch, 1).unwrap();
        let ids: Vec<String> = store
            .session_records("s1")
            .unwrap()
            .into_iter()
            .map(|r| r.record_id)
            .collect();
        assert_eq!(ids, ["a:0", "b:0"]);
    }
}
