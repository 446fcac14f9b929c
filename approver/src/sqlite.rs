//! Opening the one SQLite file `warden serve` keeps (approvals and audit records) durably.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use rusqlite::Connection;

/// Opens (creating if needed) the database at `path` for `what` (named in errors): WAL journal mode
/// (refused if SQLite will not use it), `synchronous=FULL` so a commit is on disk before it is
/// acknowledged, foreign keys enforced, and a 5 s busy timeout for the other connections to the file.
///
/// # Errors
/// When the file cannot be opened or SQLite refuses WAL mode.
pub fn open_durable(path: &Path, what: &str) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open the {what} database {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "{}: SQLite refused WAL mode (got {mode})",
        path.display()
    );
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
    Ok(conn)
}
