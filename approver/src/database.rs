//! Which database `warden serve` keeps its state in: an SQLite file (`--db`, the default) or a
//! PostgreSQL database (`--database-url` / `WARDEN_DATABASE_URL`, for several replicas).

use std::path::PathBuf;

use crate::postgres::Postgres;

/// The database both stores (approvals, audit records) open.
#[derive(Debug, Clone)]
pub enum Database {
    /// One SQLite file, created if missing; each store opens its own connection.
    Sqlite(PathBuf),
    /// A PostgreSQL database, connected and migrated; the stores share its pool.
    Postgres(Postgres),
}
