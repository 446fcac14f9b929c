//! The one SQLite file `warden serve` keeps (approvals and audit records): opened durably, its
//! schema brought up to date by one list of numbered migrations.
//!
//! Migrations (decision): `rusqlite_migration` would fit (it keeps the version in `PRAGMA
//! user_version` too) but its current release needs rusqlite 0.40 and this crate uses 0.41, so the
//! same scheme is [`migrate`] here, in a dozen lines. Migration `n` (1-based) brings `user_version`
//! from `n - 1` to `n`; all pending ones run in one `BEGIN IMMEDIATE` transaction (rolled back as a
//! whole on error), and a file of a newer version is refused rather than guessed at. The tables of
//! both stores are in [`MIGRATIONS`] because one file has one version; a new migration is appended,
//! never edited.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, TransactionBehavior};

/// The file's schema, in order. 1 and 2 use `IF NOT EXISTS` so that files written before this list
/// existed (approval tables created at every start, audit tables by the audit store's own
/// `audit_migrations` table) are upgraded in place; 3 drops that table.
const MIGRATIONS: [&str; 4] = [
    // 1: approval requests (`serve::store`).
    "
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    call_digest TEXT NOT NULL,
    upstream TEXT NOT NULL,
    rule TEXT NOT NULL,
    caller_iss TEXT NOT NULL,
    caller_sub TEXT NOT NULL,
    caller_json TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments_json TEXT NOT NULL,
    session_id TEXT,
    status TEXT NOT NULL,
    grant_mode TEXT NOT NULL,
    window_seconds INTEGER,
    approvals_needed INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    reason TEXT,
    window_until INTEGER
);
CREATE INDEX IF NOT EXISTS requests_digest ON requests (call_digest, status);
CREATE INDEX IF NOT EXISTS requests_caller_tool ON requests (caller_iss, caller_sub, upstream, tool, status);
CREATE TABLE IF NOT EXISTS approvals (
    request_id TEXT NOT NULL REFERENCES requests (id),
    approver_iss TEXT NOT NULL,
    approver_sub TEXT NOT NULL,
    approved_at INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver_iss, approver_sub)
);
",
    // 2: audit records (`audit_store`).
    "
CREATE TABLE IF NOT EXISTS audit_records (
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
CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time_ms);
CREATE INDEX IF NOT EXISTS audit_records_session ON audit_records (session_id, time_ms);
CREATE INDEX IF NOT EXISTS audit_records_caller ON audit_records (iss, sub, time_ms);
",
    // 3: the audit store's former migration table.
    "DROP TABLE IF EXISTS audit_migrations;",
    // 4: tool-definition pins and (re-)pin requests (`serve::store::pins`).
    "
CREATE TABLE tool_pins (
    upstream TEXT NOT NULL,
    tool TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    definition_json TEXT NOT NULL,
    pinned_at INTEGER NOT NULL,
    pinned_by TEXT,
    PRIMARY KEY (upstream, tool)
);
CREATE TABLE tool_pin_changes (
    upstream TEXT NOT NULL,
    tool TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    previous TEXT,
    definition_json TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    decided_at INTEGER,
    PRIMARY KEY (upstream, tool, fingerprint)
);
",
];

/// How many migrations [`MIGRATIONS`] holds (PostgreSQL's list, [`crate::postgres`], has as many).
pub const MIGRATION_COUNT: usize = MIGRATIONS.len();

/// Opens (creating if needed) the database at `path` for `what` (named in errors): WAL journal mode
/// (refused if SQLite will not use it), `synchronous=FULL` so a commit is on disk before it is
/// acknowledged, foreign keys enforced, a 5 s busy timeout for the other connections to the file,
/// and the schema brought up to date ([`migrate`]).
///
/// # Errors
/// When the file cannot be opened, SQLite refuses WAL mode, or a migration fails or the file is of a
/// newer schema than this program knows.
pub fn open_durable(path: &Path, what: &str) -> anyhow::Result<Connection> {
    let mut conn = Connection::open(path)
        .with_context(|| format!("cannot open the {what} database {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "{}: SQLite refused WAL mode (got {mode})",
        path.display()
    );
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
    migrate(&mut conn, &MIGRATIONS).with_context(|| path.display().to_string())?;
    Ok(conn)
}

/// Applies the `migrations` past the file's `PRAGMA user_version`, in one immediate transaction,
/// setting `user_version` to the number applied.
///
/// # Errors
/// When a migration fails (nothing is applied) or `user_version` exceeds `migrations.len()`.
fn migrate(conn: &mut Connection, migrations: &[&str]) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = migrations.len();
    let current = usize::try_from(current)
        .ok()
        .filter(|v| *v <= known)
        .with_context(|| {
            format!("schema version {current} is newer than this warden knows ({known}); run a newer warden")
        })?;
    for (done, sql) in migrations.iter().enumerate().skip(current) {
        tx.execute_batch(sql)
            .with_context(|| format!("schema migration {} failed", done + 1))?;
        tx.pragma_update(None, "user_version", i64::try_from(done + 1)?)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    fn tables(conn: &Connection) -> Vec<String> {
        let mut statement = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let names = statement.query_map([], |row| row.get(0)).unwrap();
        names.collect::<Result<_, _>>().unwrap()
    }

    /// The tables the latest migration leaves, in name order.
    const EVERY_TABLE: [&str; 5] = [
        "approvals",
        "audit_records",
        "requests",
        "tool_pin_changes",
        "tool_pins",
    ];

    #[test]
    fn a_new_file_gets_every_table_and_reopening_applies_no_migration_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = open_durable(&path, "test").unwrap();
        assert_eq!(user_version(&conn), 4);
        assert_eq!(tables(&conn), EVERY_TABLE);
        conn.execute(
            "INSERT INTO audit_records (record_id, time_ms, decision, record_json, received_at) \
             VALUES ('a:0', 1, 'allow', '{}', 1)",
            [],
        )
        .unwrap();
        drop(conn);
        let again = open_durable(&path, "test").unwrap();
        assert_eq!(user_version(&again), 4);
        let n: i64 = again
            .query_row("SELECT COUNT(*) FROM audit_records", [], |row| row.get(0))
            .unwrap();
        assert_eq!(n, 1, "reopening kept the rows and recreated nothing");
    }

    #[test]
    fn a_file_of_the_ad_hoc_layout_is_upgraded_in_place_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // What `warden serve` wrote before: approval tables created with IF NOT EXISTS, audit
            // tables by the audit store's own numbered migrations in `audit_migrations`.
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE requests (id TEXT PRIMARY KEY, call_digest TEXT NOT NULL, upstream TEXT NOT NULL,
                    rule TEXT NOT NULL, caller_iss TEXT NOT NULL, caller_sub TEXT NOT NULL,
                    caller_json TEXT NOT NULL, tool TEXT NOT NULL, arguments_json TEXT NOT NULL,
                    session_id TEXT, status TEXT NOT NULL, grant_mode TEXT NOT NULL, window_seconds INTEGER,
                    approvals_needed INTEGER NOT NULL, created_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL, decided_at INTEGER, decided_by TEXT, reason TEXT,
                    window_until INTEGER);
                 CREATE TABLE approvals (request_id TEXT NOT NULL REFERENCES requests (id),
                    approver_iss TEXT NOT NULL, approver_sub TEXT NOT NULL, approved_at INTEGER NOT NULL,
                    PRIMARY KEY (request_id, approver_iss, approver_sub));
                 CREATE TABLE audit_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
                 INSERT INTO audit_migrations VALUES (1, 0);
                 CREATE TABLE audit_records (record_id TEXT PRIMARY KEY, time_ms INTEGER NOT NULL,
                    session_id TEXT, iss TEXT, sub TEXT, method TEXT, tool TEXT, decision TEXT NOT NULL,
                    rule TEXT, record_json TEXT NOT NULL, received_at INTEGER NOT NULL);
                 INSERT INTO audit_records (record_id, time_ms, decision, record_json, received_at)
                    VALUES ('a:0', 1, 'allow', '{}', 1);",
            )
            .unwrap();
        }
        let conn = open_durable(&path, "test").unwrap();
        assert_eq!(user_version(&conn), 4);
        assert_eq!(tables(&conn), EVERY_TABLE);
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM audit_records", [], |row| row.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_file_from_a_newer_warden_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = open_durable(&path, "test").err().unwrap();
        assert!(format!("{e:#}").contains("schema version 99"), "{e:#}");
    }
}
