//! The audit store's tables, created and upgraded by numbered migrations recorded in
//! `audit_migrations` (the approval tables of the same file are managed by `serve::store`).

use rusqlite::{params, Connection};

/// Migrations in order; migration `n` (1-based) is applied once, in a transaction.
const MIGRATIONS: &[&str] = &["
CREATE TABLE audit_records (
    record_id TEXT PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    session_id TEXT,
    iss TEXT,
    sub TEXT,
    method TEXT,
    tool TEXT,
    decision TEXT NOT NULL,
    rule TEXT,
    record_json TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX audit_records_time ON audit_records (time_ms);
CREATE INDEX audit_records_session ON audit_records (session_id, time_ms);
CREATE INDEX audit_records_caller ON audit_records (iss, sub, time_ms);
"];

/// Applies the migrations `conn` lacks. Returns the schema version now in place.
///
/// # Errors
/// On database errors (the failed migration is rolled back).
pub fn migrate(conn: &mut Connection, now: i64) -> anyhow::Result<i64> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS audit_migrations (
            version INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        )",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM audit_migrations",
        [],
        |row| row.get(0),
    )?;
    let mut version = current;
    for sql in MIGRATIONS
        .iter()
        .skip(usize::try_from(current).unwrap_or(usize::MAX))
    {
        version += 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|e| anyhow::anyhow!("audit store migration {version} failed: {e}"))?;
        tx.execute(
            "INSERT INTO audit_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, now],
        )?;
        tx.commit()?;
    }
    Ok(version)
}
